import NIOCore

/// One timer of a ``TimerWheel``. `cancel()` is O(1): the entry is dropped when the wheel
/// next passes its slot.
public final class SIPTimer {
    fileprivate var action: (() -> Void)?
    fileprivate let due: Int64

    fileprivate init(due: Int64, action: @escaping () -> Void) {
        self.due = due
        self.action = action
    }

    /// Stops the timer; calling it after the timer fired, or twice, does nothing.
    public func cancel() { action = nil }
    /// True until the timer fired or was cancelled.
    public var isPending: Bool { action != nil }
}

/// The SIP loop's timers: transaction timers (A–K), 2xx retransmission, no-answer and
/// subscription timers. A hashed timing wheel (Varghese & Lauck; Kamailio's and the Linux
/// kernel's timers work the same way): `schedule` and `cancel` are O(1) however many
/// timers are pending.
///
/// Why not the event loop's own `scheduleTask`: swift-nio keeps scheduled tasks in a heap
/// whose `cancel` finds the task by a linear scan. Every SIP transaction cancels one or two
/// timers (a response stops timer A, a final one timer B), and a busy gateway holds tens of
/// thousands of pending 32 s timers, so each cancel scanned them all: the cost of a call
/// grew with the call rate (found with `perf` on tools/bench/setup_bench.py).
///
/// The wheel asks the loop for one task per tick (`resolution`, 10 ms by default) while it
/// holds timers and none when it is empty. A timer never fires early; it fires at most one
/// tick late. Tick times are absolute (origin + n·resolution), so a loop that was busy
/// catches up on the next tick, firing what fell due in order. Event-loop confined.
public final class TimerWheel {
    public let resolution: TimeAmount
    private let loop: any EventLoop
    private let origin: NIODeadline
    private var slots: [[SIPTimer]]
    private let mask: Int64
    /// Every tick up to this one has been handled.
    private var processed: Int64 = 0
    /// Entries in the slots, cancelled ones included until they are swept.
    public private(set) var entries = 0
    private var ticking = false
    private var firing: [SIPTimer] = []

    /// `slots` is rounded up to a power of two; one turn of the wheel is slots · resolution.
    public init(loop: any EventLoop, resolution: TimeAmount = .milliseconds(10), slots: Int = 512) {
        precondition(resolution.nanoseconds > 0, "timer resolution must be positive")
        var n = 1
        while n < max(slots, 2) { n <<= 1 }
        self.loop = loop
        self.resolution = resolution
        self.origin = loop.now
        self.slots = Array(repeating: [], count: n)
        self.mask = Int64(n - 1)
    }

    private func tickIndex(_ d: NIODeadline) -> Int64 { (d - origin).nanoseconds / resolution.nanoseconds }

    /// Calls `action` on the loop after `delay` (rounded up to the next tick).
    @discardableResult
    public func schedule(in delay: TimeAmount, _ action: @escaping () -> Void) -> SIPTimer {
        let now = loop.now
        if !ticking {
            // Idle wheel: nothing is pending, so time may jump forward to now.
            processed = max(processed, tickIndex(now))
        }
        let r = resolution.nanoseconds
        let at = (now - origin).nanoseconds + max(delay.nanoseconds, 0)
        let due = max((at + r - 1) / r, processed + 1)
        let t = SIPTimer(due: due, action: action)
        slots[Int(due & mask)].append(t)
        entries += 1
        if !ticking {
            ticking = true
            scheduleTick()
        }
        return t
    }

    private func scheduleTick() {
        let at = origin + .nanoseconds((processed + 1) * resolution.nanoseconds)
        loop.assumeIsolated().scheduleTask(deadline: at) { [weak self] in self?.tick() }
    }

    private func tick() {
        let now = tickIndex(loop.now)
        if now > processed {
            // Visit each slot at most once, even after a long stall.
            let steps = min(now - processed, mask + 1)
            var t = processed + 1
            while t <= processed + steps {
                sweep(slot: Int(t & mask), upTo: now)
                t += 1
            }
            processed = now
            if firing.count > 1 { firing.sort { $0.due < $1.due } }
            for timer in firing {
                // A timer fired earlier in this batch may have cancelled this one.
                guard let action = timer.action else { continue }
                timer.action = nil
                action()
            }
            firing.removeAll(keepingCapacity: true)
        }
        if entries > 0 { scheduleTick() } else { ticking = false }
    }

    /// Moves the entries of one slot that are due (or cancelled) out of it.
    private func sweep(slot i: Int, upTo now: Int64) {
        guard !slots[i].isEmpty else { return }
        var kept = 0
        for j in slots[i].indices {
            let timer = slots[i][j]
            if timer.action == nil { continue }              // cancelled: drop
            if timer.due <= now { firing.append(timer); continue }
            slots[i][kept] = timer                            // a later turn of the wheel
            kept += 1
        }
        entries -= slots[i].count - kept
        slots[i].removeLast(slots[i].count - kept)
    }
}
