import Logging
import Metrics
import NIOCore
import Synchronization

/// The SIP stack assembled on one event loop: transport, transactions, registrar and B2BUA.
///
/// The transaction layer, registrar and B2BUA are confined to the SIP loop, and the type
/// says so: they live in a `NIOLoopBoundBox`, so reading ``layer``, ``registrar`` or
/// ``b2bua`` anywhere but on ``loop`` stops the process at the access rather than racing.
/// Work from elsewhere goes through ``onLoop(_:)``.
///
/// ```swift
/// let sip = try SIPServer(configuration: .init(), loop: group.next())
/// try await sip.onLoop { [sip] in sip.b2bua.delegate = calls }
/// try await sip.start()
/// ```
public final class SIPServer: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var transport = SIPTransport.Configuration()
        public var b2bua = B2BUA.Configuration()
        public var registrar = Registrar.Configuration()
        public var timers = TransactionTimers()
        public var routes: [StaticRoute] = []
        /// Digest authentication (`auth.*`).
        public var auth = DigestAuthenticator.Configuration()
        public init() {}
    }

    public let configuration: Configuration
    public let loop: any EventLoop
    public let transport: SIPTransport
    private let core: NIOLoopBoundBox<SIPCore>
    private let overloadCheck = Mutex<RepeatedTask?>(nil)

    /// The transaction layer (on ``loop`` only).
    public var layer: TransactionLayer { core.value.layer }
    /// The registrar (on ``loop`` only).
    public var registrar: Registrar { core.value.registrar }
    /// The B2BUA (on ``loop`` only).
    public var b2bua: B2BUA { core.value.b2bua }

    /// - Parameter wire: where outgoing messages go instead of the network (tests: an
    ///   in-process wire; the transport is then never started). Called on `loop`.
    /// - Parameter credentials: the users digest authentication checks against (with
    ///   `configuration.auth.enabled`).
    public init(configuration: Configuration, loop: any EventLoop, logger: Logger = Logger(label: "baton.sip"),
                credentials: (any SIPCredentialSource)? = nil,
                wire: (@Sendable (SIPMessage, SIPPeer) -> Void)? = nil) throws(SIPError) {
        self.configuration = configuration
        self.loop = loop
        let transport = SIPTransport(configuration: configuration.transport, loop: loop, logger: logger)
        self.transport = transport
        let core = try SIPCore(configuration: configuration, loop: loop, logger: logger, transport: transport,
                               credentials: credentials, wire: wire)
        self.core = NIOLoopBoundBox.makeBoxSendingValue(core, eventLoop: loop)
    }

    public func start() async throws {
        try await loop.submit { [core, transport] in transport.attach(core.value) }.get()
        try await transport.start()
        guard configuration.transport.overloadPercent > 0 else { return }
        let task = loop.scheduleRepeatedTask(initialDelay: .milliseconds(20), delay: .milliseconds(20)) { [core, transport] _ in
            core.value.checkOverload(transport)
        }
        overloadCheck.withLock { $0 = task }
    }

    public func stop() async {
        overloadCheck.withLock { $0?.cancel(); $0 = nil }
        await transport.stop()
    }

    /// Runs `body` on the SIP loop and returns its result; throws if the loop has shut down.
    public func onLoop<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws -> T {
        try await loop.submit(body).get()
    }

    /// Returns once the B2BUA has no call left, or after `timeout`, with the calls still up
    /// then. Event-driven: the B2BUA reports every ended call; the timeout is a timer on the
    /// SIP loop's wheel. Both run on the loop, so the wait ends exactly once.
    public func waitUntilIdle(timeout: Duration) async throws -> Int {
        let delay = TimeAmount(timeout)
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            loop.execute { [core] in core.value.waitUntilIdle(c, timeout: delay) }
        }
        return try await onLoop { [core] in core.value.b2bua.activeCalls }
    }
}

/// The loop-confined part of ``SIPServer``: the stack's layers and what it counts.
final class SIPCore {
    let layer: TransactionLayer
    let registrar: Registrar
    let b2bua: B2BUA
    private let metrics: SIPMetrics
    private var overload: OverloadGuard
    /// Drains waiting for the last call to end.
    private var idleWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextIdleWaiter = 0
    private let overloadRejections = Counter(label: "baton_sip_overload_rejections_total")
    private let logger: Logger

    init(configuration: SIPServer.Configuration, loop: any EventLoop, logger: Logger, transport: SIPTransport,
         credentials: (any SIPCredentialSource)?, wire: (@Sendable (SIPMessage, SIPPeer) -> Void)?) throws(SIPError) {
        self.logger = logger
        overload = OverloadGuard(enterPercent: configuration.transport.overloadPercent)
        let metrics = SIPMetrics()
        self.metrics = metrics
        layer = TransactionLayer(loop: loop, timers: configuration.timers, logger: logger) { m, peer in
            metrics.count(m, direction: "out")
            if let wire { wire(m, peer) } else { transport.send(m, to: peer) }
        }
        registrar = Registrar(configuration: configuration.registrar)
        b2bua = B2BUA(configuration: configuration.b2bua, layer: layer, registrar: registrar,
                      router: try Router(routes: configuration.routes), logger: logger)
        layer.user = b2bua
        b2bua.observer = self
        if configuration.auth.enabled {
            var auth = configuration.auth
            if auth.realm.isEmpty { auth.realm = configuration.b2bua.advertisedHost }
            b2bua.authenticator = DigestAuthenticator(configuration: auth, credentials: credentials, logger: logger)
        }
    }

    /// Every 20 ms on the SIP loop (NIO runs scheduled tasks between read batches, so this
    /// runs under load too).
    func checkOverload(_ transport: SIPTransport) {
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

    func waitUntilIdle(_ c: CheckedContinuation<Void, Never>, timeout: TimeAmount) {
        if b2bua.activeCalls == 0 { c.resume(); return }
        let id = nextIdleWaiter
        nextIdleWaiter += 1
        idleWaiters[id] = c
        _ = layer.wheel.schedule(in: timeout) { [self] in idleWaiters.removeValue(forKey: id)?.resume() }
    }
}

extension SIPCore: SIPTransportDelegate {
    func transport(received m: SIPMessage, from peer: SIPPeer) {
        metrics.count(m, direction: "in")
        layer.receive(m, from: peer)
    }
    func transport(malformed e: SIPError) { metrics.countMalformed(e) }
    func transport(cannotConnectTo peer: SIPPeer) { layer.transportFailed(to: peer) }
    func transport(refusedConnection limit: String) { metrics.countRefusedConnection(limit) }
}

extension SIPCore: B2BUAObserver {
    func overloadRejected() { overloadRejections.increment() }
    func badSDP(_ error: SIPError) { metrics.countMalformed(error) }
    func callEnded(active: Int) {
        guard active == 0, !idleWaiters.isEmpty else { return }
        let waiters = idleWaiters.values
        idleWaiters.removeAll()
        for w in waiters { w.resume() }
    }
}

/// SIP message counters by direction, method and status (on the SIP loop).
final class SIPMetrics {
    private var requests: [String: Counter] = [:]
    private var responses: [String: Counter] = [:]
    private var malformed: [String: Counter] = [:]
    private var refused: [String: Counter] = [:]

    /// `baton_sip_connections_refused_total{limit="sip.tcp_max_per_source"}`.
    func countRefusedConnection(_ limit: String) {
        if refused[limit] == nil { refused[limit] = Counter(label: "baton_sip_connections_refused_total", dimensions: [("limit", limit)]) }
        refused[limit]!.increment()
    }

    /// Counts a message on the wire: requests by direction and method, responses by
    /// direction, CSeq method and status (``SIPMethod/label(_:)``: every method Baton knows,
    /// REFER, SUBSCRIBE and NOTIFY included; anything else is "other").
    func count(_ m: SIPMessage, direction: String) {
        if m.isRequest {
            let method = SIPMethod.label(m.method)
            let key = "\(direction)|\(method)"
            if requests[key] == nil {
                requests[key] = Counter(label: "baton_sip_requests_total", dimensions: [("direction", direction), ("method", method)])
            }
            requests[key]!.increment()
        } else {
            let method = SIPMethod.label(m.cseqMethod)
            let key = "\(direction)|\(method)|\(m.statusCode)"
            if responses[key] == nil {
                responses[key] = Counter(label: "baton_sip_responses_total",
                                         dimensions: [("direction", direction), ("method", method), ("status", "\(m.statusCode)")])
            }
            responses[key]!.increment()
        }
    }

    func countMalformed(_ e: SIPError) {
        let reason: String
        switch e {
        case .malformed: reason = "unparsable"
        case .missingHeader: reason = "missing_header"
        case .badContentLength: reason = "content_length"
        case .tooLarge: reason = "too_large"
        case .badSDP: reason = "sdp"
        case .serialize: reason = "serialize"
        case .notAcceptable: reason = "not_acceptable"
        case .versionNotSupported: reason = "version"
        case .unsupportedURIScheme: reason = "uri_scheme"
        }
        if malformed[reason] == nil { malformed[reason] = Counter(label: "baton_sip_malformed_total", dimensions: [("reason", reason)]) }
        malformed[reason]!.increment()
    }
}
