import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What the transport hands up, on the SIP loop.
public protocol SIPTransportDelegate: AnyObject {
    /// A parsed, validated message and where it came from.
    func transport(received message: SIPMessage, from peer: SIPPeer)
    /// A message that could not be used, with the reason.
    func transport(malformed error: SIPError)
    /// A TCP connection to `peer` could not be made (its transactions fail now, not at Timer B).
    func transport(cannotConnectTo peer: SIPPeer)
    /// An inbound connection closed at once: `limit` (the configuration key) was reached.
    func transport(refusedConnection limit: String)
}

extension SIPTransportDelegate {
    public func transport(refusedConnection limit: String) {}
}

/// One received datagram or framed stream message, as the transport reads it
/// (``SIPTransport/decode(_:maxSize:)``).
public enum SIPInbound {
    /// Parsed and valid: for the transaction layer.
    case message(SIPMessage)
    /// Refused (counted, logged): with the answer the sender gets, nil when none can be sent.
    case rejected(SIPError, answer: SIPMessage?)
}

/// SIP over UDP and TCP on swift-nio, every channel on one event loop (the SIP loop).
///
/// Inbound bytes are framed (TCP), parsed by libosip2 and handed to the delegate; malformed
/// requests get a 400-class answer where a response is possible, and are otherwise counted
/// and logged at a rate limit. Outbound messages go to a peer over UDP, or over an existing
/// or new TCP connection to it. Channels, connections and the delegate are loop-confined
/// (`NIOLoopBoundBox`); only the bound ports, read from anywhere, sit behind a lock.
public final class SIPTransport: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var host: String = "127.0.0.1"
        public var port: Int = 5060
        public var udp: Bool = true
        public var tcp: Bool = true
        /// Largest message accepted (bytes).
        public var maxMessageSize: Int = 65535
        /// Kernel receive buffer of the UDP socket (bytes). A burst of requests while the SIP
        /// loop is busy waits here; when it overflows the kernel drops datagrams and every
        /// dropped response costs a retransmission timer (500 ms and up), so a small buffer
        /// turns a short burst into a storm of retransmissions.
        public var udpReceiveBuffer: Int = 4 << 20
        /// Refuse new INVITEs (503) while the UDP receive queue is at least this full, in
        /// percent of its capacity; 0: never (see ``OverloadGuard``).
        public var overloadPercent: Int = 50
        /// SIP over TLS (`sip.tls_port`, 0: off): needs a certificate chain and its key
        /// (PEM files, `sip.tls_cert`, `sip.tls_key`; `baton keys --tls` writes development ones).
        public var tlsPort: Int = 0
        public var tlsCertificate: String?
        public var tlsKey: String?
        /// Extra trust anchors (PEM) for Baton's own TLS connections to peers
        /// (`sip.tls_ca`); the system's roots otherwise.
        public var tlsCA: String?
        /// Inbound TCP and TLS connections open at once (`sip.tcp_max_connections`); one more
        /// is closed as soon as it is accepted.
        public var maxConnections: Int = 4096
        /// Inbound connections open at once from one source address (`sip.tcp_max_per_source`).
        public var maxConnectionsPerSource: Int = 64
        /// A connection with no traffic either way for this long is closed
        /// (`sip.tcp_idle_timeout_s`; keep-alive CRLFs count, RFC 5626 §4.4.1).
        public var idleTimeoutSeconds: Int = 300
        /// A message whose first byte arrived must be complete within this
        /// (`sip.tcp_message_timeout_s`): a slow sender (slowloris) is cut off.
        public var messageTimeoutSeconds: Int = 10
        public init() {}
        public var tlsEnabled: Bool { tlsPort > 0 && tlsCertificate != nil && tlsKey != nil }
    }

    /// The loop-confined state.
    private struct State {
        var udpChannel: (any Channel)?
        var tcpServer: (any Channel)?
        var tlsServer: (any Channel)?
        /// TCP and TLS connections by "transport:host:port".
        var connections: [String: any Channel] = [:]
        /// Inbound connections open, in total and per source address.
        var inbound = 0
        var inboundBySource: [String: Int] = [:]
        weak var delegate: (any SIPTransportDelegate)?
        let limiter = LogRateLimiter()
    }

    public let configuration: Configuration
    public let loop: any EventLoop
    private let logger: Logger
    private let state: NIOLoopBoundBox<State>
    private let bound = Mutex<(udp: Int?, tcp: Int?, tls: Int?)>((nil, nil, nil))
    /// Server and client TLS contexts, made at start from the configured files.
    private let tls = Mutex<(server: NIOSSLContext?, client: NIOSSLContext?)>((nil, nil))

    /// The actual bound UDP/TCP ports (after binding port 0 in tests).
    public var boundUDPPort: Int? { bound.withLock { $0.udp } }
    public var boundTCPPort: Int? { bound.withLock { $0.tcp } }
    public var boundTLSPort: Int? { bound.withLock { $0.tls } }

    public init(configuration: Configuration, loop: any EventLoop, logger: Logger = Logger(label: "baton.sip.transport")) {
        self.configuration = configuration
        self.loop = loop
        self.logger = logger
        self.state = NIOLoopBoundBox.makeBoxSendingValue(State(), eventLoop: loop)
    }

    /// Sets who receives what arrives (on the loop, before ``start()``).
    public func attach(_ delegate: any SIPTransportDelegate) {
        state.value.delegate = delegate
    }

    public func start() async throws {
        if configuration.udp {
            let ch = try await DatagramBootstrap(group: loop)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65536))
                .channelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(UDPHandler(transport: self)) }
                }
                .bind(host: configuration.host, port: configuration.port).get()
            try await loop.submit { [state] in state.value.udpChannel = ch }.get()
            bound.withLock { $0.udp = ch.localAddress?.port }
            await setReceiveBuffer(ch, bytes: configuration.udpReceiveBuffer, logger: logger, what: "SIP UDP")
        }
        if configuration.tcp {
            let ch = try await ServerBootstrap(group: loop)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture {
                        guard self.admit(ch) else { return }
                        try self.addGuards(ch)
                        try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(self.decoder()))
                        try ch.pipeline.syncOperations.addHandler(TCPHandler(transport: self, kind: .tcp))
                    }
                }
                .bind(host: configuration.host, port: configuration.port).get()
            try await loop.submit { [state] in state.value.tcpServer = ch }.get()
            bound.withLock { $0.tcp = ch.localAddress?.port }
        }
        if configuration.tlsEnabled, let certPath = configuration.tlsCertificate, let keyPath = configuration.tlsKey {
            let server = try SIPTransport.serverContext(certificate: certPath, key: keyPath)
            let client = try SIPTransport.clientContext(ca: configuration.tlsCA)
            tls.withLock { $0 = (server, client) }
            let ch = try await ServerBootstrap(group: loop)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture {
                        guard self.admit(ch) else { return }
                        try self.addGuards(ch)
                        try ch.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: server))
                        try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(self.decoder()))
                        try ch.pipeline.syncOperations.addHandler(TCPHandler(transport: self, kind: .tls))
                    }
                }
                .bind(host: configuration.host, port: configuration.tlsPort).get()
            try await loop.submit { [state] in state.value.tlsServer = ch }.get()
            bound.withLock { $0.tls = ch.localAddress?.port }
        }
        logger.info("SIP listening", metadata: ["host": "\(configuration.host)", "udp": "\(boundUDPPort.map(String.init) ?? "off")",
                                                "tcp": "\(boundTCPPort.map(String.init) ?? "off")", "tls": "\(boundTLSPort.map(String.init) ?? "off")"])
    }

    /// Bytes waiting in the UDP socket's receive queue (kernel accounting, `SO_MEMINFO`'s
    /// first field) and the queue's capacity (`SO_RCVBUF` as the kernel reports it); nil
    /// without a UDP socket. On the loop.
    public func udpQueue() -> (queued: Int, capacity: Int)? {
        guard let options = state.value.udpChannel?.syncOptions else { return nil }
        let memInfo = ChannelOptions.Types.SocketOption(level: NIOBSDSocket.OptionLevel.socket,
                                                        name: NIOBSDSocket.Option(rawValue: CInt(SO_MEMINFO)))
        // SO_MEMINFO fills an array of u32 (rmem_alloc, rcvbuf, ...) up to the length asked;
        // swift-nio reads a socket option into an Int: on 64-bit Linux that is both fields.
        guard let info = try? options.getOption(memInfo) else { return nil }
        let raw = UInt64(UInt(bitPattern: Int(info)))
        var capacity = Int(raw >> 32)
        if capacity == 0, let rcvbuf = try? options.getOption(.socketOption(.so_rcvbuf)) { capacity = Int(rcvbuf) }
        return (Int(raw & 0xFFFF_FFFF), capacity)
    }

    public func stop() async {
        let channels = try? await loop.submit { [state] in
            [state.value.udpChannel, state.value.tcpServer, state.value.tlsServer].compactMap { $0 } + Array(state.value.connections.values)
        }.get()
        for c in channels ?? [] { try? await c.close() }
    }

    // MARK: Inbound

    fileprivate func received(_ bytes: [UInt8], from peer: SIPPeer) {
        loop.preconditionInEventLoop()
        switch SIPTransport.decode(bytes, maxSize: configuration.maxMessageSize) {
        case let .message(m):
            state.value.delegate?.transport(received: m, from: peer)
        case let .rejected(error, answer):
            reject(error, bytes: bytes.count, peer: peer)
            if let answer { send(answer, to: peer) }
        }
    }

    /// What the transport makes of one datagram or one framed stream message: a message for
    /// the transaction layer, or a refusal with the answer a sender can be given (a request
    /// too large, truncated or invalid but readable enough to answer; nil for the rest).
    /// The fuzz target `sip` and the RFC 4475 test read messages through this, as the wire does.
    public static func decode(_ bytes: [UInt8], maxSize: Int) -> SIPInbound {
        let m: SIPMessage
        do {
            m = try SIPMessage.parseUnvalidated(bytes, maxSize: maxSize)
        } catch {
            // Too large or truncated but readable: say so rather than drop it silently.
            let readable: SIPMessage?
            switch error {
            case .tooLarge: readable = try? SIPMessage.parseUnvalidated(bytes, maxSize: .max)
            case .badContentLength: readable = SIPMessage.headersOfTruncated(bytes)
            // Refused as a whole: a 400 built from the headers a response needs (RFC 4475
            // §3.1.2: an element should answer these, not go silent).
            case .malformed: readable = SIPMessage.salvageRequest(bytes)
            default: readable = nil
            }
            // libosip2 refuses some Request-URIs of other schemes ("soap.beep://..."): 416.
            let said: SIPError = if case .malformed = error, let s = SIPMessage.startLineScheme(bytes), !SIPMessage.routedSchemes.contains(s) {
                .unsupportedURIScheme(s)
            } else { error }
            return .rejected(said, answer: readable.flatMap { answer(said, to: $0) })
        }
        do throws(SIPError) {
            try m.validate(received: bytes.count - (SIPFraming.headerEnd(bytes) ?? bytes.count))
            if m.isRequest, let s = m.requestURIScheme, !SIPMessage.routedSchemes.contains(s) { throw .unsupportedURIScheme(s) }
        } catch {
            return .rejected(error, answer: answer(error, to: m))
        }
        return .message(m)
    }

    private static func answer(_ error: SIPError, to r: SIPMessage) -> SIPMessage? {
        guard r.isRequest, r.sipMethod != .ack, r.viaCount > 0 else { return nil }
        let (code, reason) = error.status
        let answer = r.makeResponse(code, reason, toTag: r.toTag == nil ? randomToken(10) : nil)
        // A request without the headers a response copies gets none (RFC 4475 §3.3.1): what
        // goes out must be a message.
        return (try? answer.serialize()) != nil ? answer : nil
    }

    private func reject(_ error: SIPError, bytes: Int, peer: SIPPeer) {
        state.value.delegate?.transport(malformed: error)
        state.value.limiter.log(logger, .warning, "dropped SIP message", metadata: ["peer": "\(peer)", "bytes": "\(bytes)", "error": "\(error)"])
    }

    static func key(_ peer: SIPPeer) -> String { "\(peer.transport.rawValue):\(peer.host):\(peer.port)" }

    fileprivate func connectionOpened(_ ch: any Channel, peer: SIPPeer) {
        state.value.connections[SIPTransport.key(peer)] = ch
    }

    fileprivate func connectionClosed(peer: SIPPeer) {
        state.value.connections[SIPTransport.key(peer)] = nil
    }

    /// The server context from PEM files: the chain (leaf first) and its private key.
    static func serverContext(certificate: String, key: String) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
        var c = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .file(key))
        c.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: c)
    }

    /// The client context for Baton's own connections: the system roots plus `ca`.
    static func clientContext(ca: String?) throws -> NIOSSLContext {
        var c = TLSConfiguration.makeClientConfiguration()
        c.minimumTLSVersion = .tlsv12
        if let ca { c.additionalTrustRoots = [.file(ca)] }
        return try NIOSSLContext(configuration: c)
    }

    // MARK: Connection hygiene

    /// Counts an accepted connection against the total and per-source limits, or closes it
    /// (counted, logged at a rate limit) when either is reached. On the loop.
    fileprivate func admit(_ ch: any Channel) -> Bool {
        let source = ch.remoteAddress?.ipAddress ?? "?"
        let total = state.value.inbound, mine = state.value.inboundBySource[source] ?? 0
        guard total < configuration.maxConnections, mine < configuration.maxConnectionsPerSource else {
            let which = total >= configuration.maxConnections ? "sip.tcp_max_connections" : "sip.tcp_max_per_source"
            state.value.limiter.log(logger, .warning, "SIP connection refused", metadata: ["source": "\(source)", "limit": "\(which)"])
            state.value.delegate?.transport(refusedConnection: which)
            ch.close(promise: nil)
            return false
        }
        state.value.inbound += 1
        state.value.inboundBySource[source] = mine + 1
        ch.closeFuture.whenComplete { [self] _ in
            state.value.inbound -= 1
            let left = (state.value.inboundBySource[source] ?? 1) - 1
            state.value.inboundBySource[source] = left > 0 ? left : nil
        }
        return true
    }

    /// Open inbound connections (total, and from `source`): for tests and metrics.
    public func inboundConnections(from source: String? = nil) -> Int {
        loop.preconditionInEventLoop()
        return source.map { state.value.inboundBySource[$0] ?? 0 } ?? state.value.inbound
    }

    /// The idle timeout, first in the pipeline: neither read nor write for that long (TLS
    /// handshake bytes count; a connection Baton sends on, to a phone registered over it,
    /// stays, as Kamailio's `tcp_connection_lifetime` counts any traffic).
    fileprivate func addGuards(_ ch: any Channel) throws {
        try ch.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: .seconds(Int64(configuration.idleTimeoutSeconds))))
    }

    fileprivate func decoder() -> SIPStreamDecoder {
        SIPStreamDecoder(maxSize: configuration.maxMessageSize, messageTimeout: .seconds(Int64(configuration.messageTimeoutSeconds)))
    }

    /// A connection closed for silence or slowness: counted as malformed input.
    fileprivate func connectionCut(_ why: String, peer: SIPPeer?) {
        state.value.limiter.log(logger, .info, "SIP connection closed", metadata: ["peer": "\(peer.map { "\($0)" } ?? "?")", "why": "\(why)"])
        state.value.delegate?.transport(malformed: .malformed("TCP stream: \(why)"))
    }

    /// A TCP stream broke (framing or socket error): counted as malformed input.
    fileprivate func streamFailed(_ error: any Error) {
        state.value.delegate?.transport(malformed: .malformed("TCP stream: \(error)"))
    }

    // MARK: Outbound

    /// A numeric IP is parsed directly (no getaddrinfo per message, which cost ~6 % of the
    /// CPU of a call in the call-setup benchmark); only a host name is resolved.
    static func address(_ host: String, port: Int) -> SocketAddress? {
        var h = Substring(host)
        if h.hasPrefix("["), h.hasSuffix("]") { h = h.dropFirst().dropLast() }
        if let a = try? SocketAddress(ipAddress: String(h), port: port) { return a }
        return try? SocketAddress.makeAddressResolvingHost(String(h), port: port)
    }

    /// Serializes and sends; errors are logged (a transaction times out if it never arrives).
    public func send(_ m: SIPMessage, to peer: SIPPeer) {
        loop.preconditionInEventLoop()
        let bytes: [UInt8]
        do { bytes = try m.serialize() } catch {
            logger.error("cannot serialize SIP message", metadata: ["error": "\(error)"])
            return
        }
        switch peer.transport {
        case .udp:
            guard let ch = state.value.udpChannel, let addr = SIPTransport.address(peer.host, port: peer.port) else {
                state.value.limiter.log(logger, .warning, "no UDP route", metadata: ["peer": "\(peer)"])
                return
            }
            var buf = ch.allocator.buffer(capacity: bytes.count)
            buf.writeBytes(bytes)
            ch.writeAndFlush(AddressedEnvelope(remoteAddress: addr, data: buf), promise: nil)
        case .tcp, .tls:
            let key = SIPTransport.key(peer)
            if let ch = state.value.connections[key] {
                write(bytes, on: ch)
                return
            }
            let client = tls.withLock { $0.client }
            if peer.transport == .tls && client == nil {
                state.value.limiter.log(logger, .warning, "no TLS configured for a TLS peer", metadata: ["peer": "\(peer)"])
                state.value.delegate?.transport(cannotConnectTo: peer)
                return
            }
            let kind = peer.transport
            // A host name is checked against the certificate; an address cannot be (SNI needs a name).
            let serverName = SessionDescription.isIPAddress(peer.host) ? nil : peer.host
            ClientBootstrap(group: loop)
                .connectTimeout(.seconds(5))
                .channelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture {
                        if kind == .tls, let client {
                            try ch.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: client, serverHostname: serverName))
                        }
                        try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(self.decoder()))
                        try ch.pipeline.syncOperations.addHandler(TCPHandler(transport: self, kind: kind))
                    }
                }
                .connect(host: peer.host, port: peer.port)
                .whenComplete { result in
                    switch result {
                    case .success(let ch):
                        self.state.value.connections[key] = ch
                        self.write(bytes, on: ch)
                    case .failure(let e):
                        self.state.value.limiter.log(self.logger, .warning, "TCP connect failed", metadata: ["peer": "\(peer)", "error": "\(e)"])
                        self.state.value.delegate?.transport(cannotConnectTo: peer)
                    }
                }
        }
    }

    private func write(_ bytes: [UInt8], on ch: any Channel) {
        var buf = ch.allocator.buffer(capacity: bytes.count)
        buf.writeBytes(bytes)
        ch.writeAndFlush(buf, promise: nil)
    }
}

private final class UDPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let transport: SIPTransport
    init(transport: SIPTransport) { self.transport = transport }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let env = unwrapInboundIn(data)
        guard let ip = env.remoteAddress.ipAddress, let port = env.remoteAddress.port else { return }
        let bytes = Array(env.data.readableBytesView)
        // Keep-alive CRLFs (RFC 5626) are not messages.
        if bytes.allSatisfy({ $0 == 13 || $0 == 10 }) { return }
        transport.received(bytes, from: SIPPeer(transport: .udp, host: ip, port: port))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable and similar: not fatal for a UDP listener.
    }
}

private final class TCPHandler: ChannelInboundHandler {
    typealias InboundIn = [UInt8]
    let transport: SIPTransport
    /// `.tcp`, or `.tls` behind an NIOSSL handler.
    let kind: SIPTransportKind
    var peer: SIPPeer?
    init(transport: SIPTransport, kind: SIPTransportKind) { self.transport = transport; self.kind = kind }

    func channelActive(context: ChannelHandlerContext) {
        if let a = context.remoteAddress, let ip = a.ipAddress, let port = a.port {
            let p = SIPPeer(transport: kind, host: ip, port: port)
            peer = p
            transport.connectionOpened(context.channel, peer: p)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let peer { transport.connectionClosed(peer: peer) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let peer else { return }
        transport.received(unwrapInboundIn(data), from: peer)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case SIPStreamDecoder.FramingError.slowSender = error {
            transport.connectionCut("message not complete within sip.tcp_message_timeout_s", peer: peer)
        } else {
            transport.streamFailed(error)
        }
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? IdleStateHandler.IdleStateEvent, e == .all {
            transport.connectionCut("idle for sip.tcp_idle_timeout_s", peer: peer)
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Frames SIP messages on a byte stream: header block, then Content-Length bytes of body.
/// A message begun must end within `messageTimeout`, or the channel gets a `slowSender`
/// error (and is closed): a sender trickling bytes cannot hold a connection and its buffer.
struct SIPStreamDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]
    let maxSize: Int
    var messageTimeout: TimeAmount? = nil
    /// The deadline of the message in progress.
    private var deadline: Scheduled<Void>?

    init(maxSize: Int, messageTimeout: TimeAmount? = nil) {
        self.maxSize = maxSize
        self.messageTimeout = messageTimeout
    }

    enum FramingError: Error { case tooLarge, badContentLength, slowSender }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let state = try frame(context: context, buffer: &buffer)
        if buffer.readableBytes == 0 {
            deadline?.cancel()
            deadline = nil
        } else if deadline == nil, let t = messageTimeout {
            let pipeline = context.pipeline
            deadline = context.eventLoop.scheduleTask(in: t) { pipeline.fireErrorCaught(FramingError.slowSender) }
        }
        return state
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        deadline?.cancel()
        deadline = nil
        return try frame(context: context, buffer: &buffer)
    }

    private mutating func frame(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        // Skip keep-alive CRLFs between messages.
        while let b = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), b == 13 || b == 10 { buffer.moveReaderIndex(forwardBy: 1) }
        let view = buffer.readableBytesView
        guard let crlf = view.firstRange(of: [13, 10, 13, 10]) else {
            if view.count > maxSize { throw FramingError.tooLarge }
            return .needMoreData
        }
        let headerLen = crlf.upperBound - view.startIndex
        guard let length = SIPFraming.contentLength(headers: ArraySlice(view[view.startIndex..<crlf.lowerBound])), length >= 0 else {
            throw FramingError.badContentLength
        }
        guard headerLen + length <= maxSize else { throw FramingError.tooLarge }
        guard view.count >= headerLen + length else { return .needMoreData }
        let bytes = buffer.readBytes(length: headerLen + length)!
        // A message completed: the next one gets its own deadline.
        deadline?.cancel()
        deadline = nil
        context.fireChannelRead(wrapInboundOut(bytes))
        return .continue
    }
}

/// Sets a UDP socket's receive buffer. `SO_RCVBUFFORCE` (root or CAP_NET_ADMIN) may exceed
/// `net.core.rmem_max`; otherwise `SO_RCVBUF`, which the kernel caps there. Logs what the
/// socket got when it is less than asked.
public func setReceiveBuffer(_ channel: any Channel, bytes: Int, logger: Logger, what: String) async {
    let size = SocketOptionValue(clamping: bytes)
    let force = ChannelOptions.Types.SocketOption(level: NIOBSDSocket.OptionLevel.socket,
                                                  name: NIOBSDSocket.Option(rawValue: CInt(SO_RCVBUFFORCE)))
    do {
        try await channel.setOption(force, value: size).get()
    } catch {
        try? await channel.setOption(.socketOption(.so_rcvbuf), value: size).get()
    }
    // Linux reports twice the size asked (its bookkeeping overhead included).
    if let got = try? await channel.getOption(.socketOption(.so_rcvbuf)).get(), Int(got) / 2 < bytes {
        logger.warning("\(what) receive buffer smaller than configured; raise net.core.rmem_max or run with CAP_NET_ADMIN",
                       metadata: ["asked": "\(bytes)", "got": "\(Int(got) / 2)"])
    }
}
