import NIOCore

/// RFC 3261 timer base values (§17, Table 4). Tests shrink nothing: they advance an
/// `EmbeddedEventLoop` clock instead.
public struct TransactionTimers: Sendable, Equatable {
    /// Round-trip estimate, 500 ms.
    public var t1: TimeAmount = .milliseconds(500)
    /// Longest retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    public var t2: TimeAmount = .seconds(4)
    /// Longest time a message stays in the network, 5 s.
    public var t4: TimeAmount = .seconds(5)
    /// Tick of the SIP timer wheel (``TimerWheel``): timers fire at most this much late.
    public var resolution: TimeAmount = .milliseconds(10)
    public init() {}

    /// Timers B, F, H, J (and L, M of RFC 6026): 64·T1.
    public var timeout: TimeAmount { t1 * 64 }
    /// Timer D: at least 32 s on unreliable transports.
    public var timerD: TimeAmount { max(.seconds(32), t1 * 64) }
}
