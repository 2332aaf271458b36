import Logging
import Metrics
import NIOCore

/// The SIP stack assembled on one event loop: transport, transactions, registrar and B2BUA.
///
/// ```swift
/// let sip = SIPServer(configuration: .init(), loop: group.next())
/// sip.b2bua.delegate = calls
/// try await sip.start()
/// ```
public final class SIPServer: @unchecked Sendable {
    public struct Configuration: Sendable, Equatable {
        public var transport = SIPTransport.Configuration()
        public var b2bua = B2BUA.Configuration()
        public var registrar = Registrar.Configuration()
        public var timers = TransactionTimers()
        public var routes: [StaticRoute] = []
        public init() {}
    }

    public let configuration: Configuration
    public let loop: any EventLoop
    public let transport: SIPTransport
    public let layer: TransactionLayer
    public let registrar: Registrar
    public let b2bua: B2BUA
    private var requestCounters: [String: Counter] = [:]
    private var responseCounters: [String: Counter] = [:]
    private var malformedCounters: [String: Counter] = [:]
    private var overload: OverloadGuard
    private var overloadCheck: RepeatedTask?
    /// Drains waiting for the last call to end (SIP loop only).
    fileprivate var idleWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
    fileprivate var nextIdleWaiter = 0
    private let overloadRejections = Counter(label: "baton_sip_overload_rejections_total")
    private let logger: Logger

    /// - Parameter wire: where outgoing messages go instead of the network (tests: an
    ///   in-process wire; the transport is then never started). Called on `loop`.
    public init(configuration: Configuration, loop: any EventLoop, logger: Logger = Logger(label: "baton.sip"),
                wire: ((SIPMessage, SIPPeer) -> Void)? = nil) throws(SIPError) {
        self.configuration = configuration
        self.loop = loop
        self.logger = logger
        self.overload = OverloadGuard(enterPercent: configuration.transport.overloadPercent)
        let transport = SIPTransport(configuration: configuration.transport, loop: loop, logger: logger)
        self.transport = transport
        var count: ((SIPMessage, String) -> Void)?
        layer = TransactionLayer(loop: loop, timers: configuration.timers, logger: logger) { m, peer in
            count?(m, "out")
            if let wire { wire(m, peer) } else { transport.send(m, to: peer) }
        }
        registrar = Registrar(configuration: configuration.registrar)
        b2bua = B2BUA(configuration: configuration.b2bua, layer: layer, registrar: registrar,
                      router: try Router(routes: configuration.routes), logger: logger)
        layer.user = b2bua
        transport.deliver = { [unowned self] m, peer in
            self.count(m, direction: "in")
            self.layer.receive(m, from: peer)
        }
        transport.onConnectFailure = { [unowned self] peer in self.layer.transportFailed(to: peer) }
        transport.onMalformed = { [unowned self] e in self.countMalformed(e) }
        count = { [unowned self] m, direction in self.count(m, direction: direction) }
        b2bua.observer = self
    }

    public func start() async throws {
        try await transport.start()
        guard overload.enterPercent > 0 else { return }
        overloadCheck = loop.scheduleRepeatedTask(initialDelay: .milliseconds(20), delay: .milliseconds(20)) { [unowned self] _ in
            self.checkOverload()
        }
    }

    public func stop() async {
        overloadCheck?.cancel()
        await transport.stop()
    }

    /// Every 20 ms on the SIP loop (NIO runs scheduled tasks between read batches, so this
    /// runs under load too).
    private func checkOverload() {
        guard let q = transport.udpQueue() else { return }
        let was = overload.overloaded
        let now = overload.update(queued: q.queued, capacity: q.capacity)
        guard now != was else { return }
        b2bua.overloaded = now
        if now {
            logger.warning("SIP overload: the UDP receive queue is \(q.queued * 100 / max(1, q.capacity)) % full, new INVITEs get 503",
                           metadata: ["queued": "\(q.queued)", "capacity": "\(q.capacity)"])
        } else {
            logger.notice("SIP overload over: new INVITEs accepted again", metadata: ["queued": "\(q.queued)"])
        }
    }

    /// Runs `body` on the SIP loop and returns its result; throws if the loop has shut down.
    public func onLoop<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws -> T {
        try await loop.submit(body).get()
    }

    /// Counts a message on the wire: requests by direction and method, responses by
    /// direction, CSeq method and status (``SIPMethod/label(_:)``: every method Baton knows,
    /// REFER, SUBSCRIBE and NOTIFY included; anything else is "other").
    private func count(_ m: SIPMessage, direction: String) {
        if m.isRequest {
            let method = SIPMethod.label(m.method)
            let key = "\(direction)|\(method)"
            if requestCounters[key] == nil {
                requestCounters[key] = Counter(label: "baton_sip_requests_total", dimensions: [("direction", direction), ("method", method)])
            }
            requestCounters[key]!.increment()
        } else {
            let method = SIPMethod.label(m.cseqMethod)
            let key = "\(direction)|\(method)|\(m.statusCode)"
            if responseCounters[key] == nil {
                responseCounters[key] = Counter(label: "baton_sip_responses_total",
                                                dimensions: [("direction", direction), ("method", method), ("status", "\(m.statusCode)")])
            }
            responseCounters[key]!.increment()
        }
    }

    private func countMalformed(_ e: SIPError) {
        let reason: String
        switch e {
        case .malformed: reason = "unparsable"
        case .missingHeader: reason = "missing_header"
        case .badContentLength: reason = "content_length"
        case .tooLarge: reason = "too_large"
        case .badSDP: reason = "sdp"
        case .serialize: reason = "serialize"
        }
        if malformedCounters[reason] == nil { malformedCounters[reason] = Counter(label: "baton_sip_malformed_total", dimensions: [("reason", reason)]) }
        malformedCounters[reason]!.increment()
    }
}

extension SIPServer: B2BUAObserver {
    public func overloadRejected() { overloadRejections.increment() }
    public func badSDP(_ error: SIPError) { countMalformed(error) }
    public func callEnded(active: Int) {
        guard active == 0, !idleWaiters.isEmpty else { return }
        let waiters = idleWaiters.values
        idleWaiters.removeAll()
        for w in waiters { w.resume() }
    }

    /// Returns once the B2BUA has no call left, or after `timeout`, with the calls still up
    /// then. Event-driven: the B2BUA reports every ended call; the timeout is a timer on the
    /// SIP loop's wheel. Both run on the loop, so the wait ends exactly once.
    public func waitUntilIdle(timeout: Duration) async throws -> Int {
        let delay = TimeAmount(timeout)
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            loop.execute { [self] in
                if b2bua.activeCalls == 0 { c.resume(); return }
                let id = nextIdleWaiter
                nextIdleWaiter += 1
                idleWaiters[id] = c
                _ = layer.wheel.schedule(in: delay) { [self] in idleWaiters.removeValue(forKey: id)?.resume() }
            }
        }
        return try await onLoop { [self] in b2bua.activeCalls }
    }
}
