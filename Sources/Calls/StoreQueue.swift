import NIOCore
import Synchronization
import Store

/// The queue between the call layer and the ``StoreWriter``: any thread appends, one
/// writer drains whole batches.
///
/// Why not an `AsyncStream`: every `yield` to a waiting consumer resumes its task, i.e. one
/// executor hop and usually one thread wake-up per record, several per call (a third of
/// the store's CPU in the ng control-rate benchmark). Here only the append that finds the
/// queue empty and the writer waiting wakes it; the writer then takes everything queued.
public final class StoreQueue: Sendable {
    private struct State {
        /// A ring: dropping the oldest at capacity is O(1) (an array's `removeFirst` moved
        /// every queued operation, per record, exactly when the writer had fallen behind),
        /// and its storage is kept across batches instead of regrown from empty.
        var operations = CircularBuffer<StoreOperation>(initialCapacity: 256)
        var waiter: CheckedContinuation<Void, Never>?
        var finished = false
        var dropped = 0
    }
    private let state = Mutex(State())
    /// Most operations held; beyond it the oldest are dropped (and counted), as the
    /// `bufferingNewest` stream before it did, so a stalled disk cannot exhaust memory.
    public let capacity: Int

    public init(capacity: Int = 100_000) { self.capacity = capacity }

    /// Queues one operation; after `finish()` it is ignored.
    public func yield(_ op: StoreOperation) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard !s.finished else { return nil }
            if s.operations.count >= capacity {
                s.operations.removeFirst()
                s.dropped += 1
            }
            s.operations.append(op)
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// No more operations will come; the writer drains what is queued and stops.
    public func finish() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.finished = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Waits until something is queued or the queue is finished. One waiter at a time.
    func waitForWork() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if !s.operations.isEmpty || s.finished { return true }
                precondition(s.waiter == nil, "StoreQueue has one reader")
                s.waiter = c
                return false
            }
            if now { c.resume() }
        }
    }

    /// Everything queued, in order, and whether the queue is finished.
    func takeAll() -> (operations: [StoreOperation], finished: Bool) {
        state.withLock { s in
            let ops = Array(s.operations)
            s.operations.removeAll(keepingCapacity: true)
            return (ops, s.finished)
        }
    }

    /// Operations dropped because the queue was full.
    public var dropped: Int { state.withLock { $0.dropped } }
}
