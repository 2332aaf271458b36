/// Decides, from how full the SIP UDP socket's receive queue is, whether Baton is behind:
/// the SIP loop cannot keep up and requests wait in the kernel. At saturation that wait grows
/// to the retransmission timers (T1 = 500 ms), each late request is sent again, the extra
/// copies cost more work, and calls start to hang. While overloaded, new INVITEs are refused
/// cheaply (503 + Retry-After) so the loop drains its queue and the calls already up go on
/// (RFC 7339's aim, with the kernel queue as the load signal).
///
/// Hysteresis: overloaded from `enterPercent` of the queue's capacity until it is back under
/// a fifth of that. And never below ``minimumQueued`` bytes: with a small buffer (the kernel
/// capped `sip.udp_receive_buffer` at `net.core.rmem_max`) a few dozen requests would fill
/// half of it in a short, harmless burst.
///
/// ```swift
/// var guard_ = OverloadGuard(enterPercent: 50)
/// guard_.update(queued: 3 << 20, capacity: 4 << 20)   // true: 75 % full
/// ```
public struct OverloadGuard: Sendable, Equatable {
    /// 0 turns the guard off.
    public let enterPercent: Int
    public private(set) var overloaded = false
    /// ~450 requests of 1 KB in kernel accounting (about 2.3 KB each).
    public static let minimumQueued = 1 << 20

    public init(enterPercent: Int) { self.enterPercent = max(0, min(100, enterPercent)) }

    /// The new state for `queued` bytes waiting in a receive queue of `capacity` bytes.
    @discardableResult
    public mutating func update(queued: Int, capacity: Int) -> Bool {
        guard enterPercent > 0, capacity > 0 else { overloaded = false; return false }
        let percent = queued * 100 / capacity
        if overloaded {
            if percent * 5 < enterPercent { overloaded = false }
        } else if percent >= enterPercent && queued >= OverloadGuard.minimumQueued {
            overloaded = true
        }
        return overloaded
    }
}
