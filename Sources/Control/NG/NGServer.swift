import Calls
import Logging
import Media
import Metrics
import NIOCore
import NIOPosix
import ServiceLifecycle
import SIP
import Synchronization

/// The rtpengine ng control protocol over UDP (default 127.0.0.1:2223): `COOKIE <bencode>`
/// in, `COOKIE <bencode>` out. Replies are cached by cookie, so a retransmitted request is
/// answered again, not re-run (rtpengine `control_ng.c`).
///
/// ```swift
/// let ng = NGServer(configuration: .init(), calls: calls)
/// // kamailio.cfg: modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:2223")
/// ```
public final class NGServer: Service, Sendable {
    public struct Configuration: Sendable, Equatable {
        public var enabled = true
        public var host = "127.0.0.1"
        public var port = 2223
        /// How long a reply stays cached for retransmissions of its cookie.
        public var cacheSeconds = 30
        /// Kernel receive buffer of the ng socket (bytes): a proxy's burst of offers waits
        /// here instead of being dropped and retried after the proxy's timeout.
        public var receiveBuffer = 4 << 20
        public init() {}
    }

    public let configuration: Configuration
    let ng: NGProtocol
    let logger: Logger
    /// The reply cache (cookie -> reply, when), the per-command counters and the log
    /// limiter. Lock-protected: in practice only the ng channel's event loop touches them
    /// (uncontended), and tests call ``reply(to:now:)`` from their own thread.
    private struct State: ~Copyable {
        var cache: [String: ([UInt8], NIODeadline)] = [:]
        var cacheOrder = CircularBuffer<String>()
        var requestCounters: [String: Counter] = [:]
        let limiter = LogRateLimiter()
    }
    private let state = Mutex(State())
    private let errorCounter = Counter(label: "baton_ng_errors_total")
    private let bound = Mutex<Int?>(nil)
    /// The UDP port the ng socket is bound to, once ``run()`` bound it.
    public var boundPort: Int? { bound.withLock { $0 } }
    let relay: MediaRelay
    private let group: MultiThreadedEventLoopGroup

    public init(configuration: Configuration, calls: CallManager, logger: Logger = Logger(label: "baton.ng")) {
        self.configuration = configuration
        self.ng = NGProtocol(calls: calls)
        self.relay = calls.relay
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// The reply datagram for one request datagram, nil when there is nothing to answer
    /// (no cookie). Event-loop confined (the cookie cache).
    func reply(to datagram: [UInt8], now: NIODeadline = .now()) -> [UInt8]? {
        guard let space = datagram.firstIndex(of: UInt8(ascii: " ")), space > 0, space <= 64 else {
            log(.warning, "ng datagram without a cookie", ["bytes": "\(datagram.count)"])
            errorCounter.increment()
            return nil
        }
        let cookie = String(decoding: datagram[..<space], as: UTF8.self)
        let ttl = TimeAmount.seconds(Int64(configuration.cacheSeconds))
        if let cached = state.withLock({ s -> [UInt8]? in
            guard let (reply, at) = s.cache[cookie], now - at < ttl else { return nil }
            return reply
        }) { return cached }
        let body: Bencode
        var out: [UInt8] = []
        // A reply is about as long as its request (the SDP comes back rewritten) plus the
        // counters: reserve once instead of doubling from the cookie's length up (~7 copies).
        out.reserveCapacity(datagram.count + 512)
        out += datagram[...space]
        do {
            body = try Bencode.decode(datagram[(space + 1)...])
        } catch {
            errorCounter.increment()
            log(.warning, "bad ng request", ["error": "\(error)"])
            Bencode.dictionary([("result", "error"), ("error-reason", .string(error.description))]).encode(into: &out)
            return out
        }
        let command = body["command"]?.string ?? "?"
        count(command)
        let result = ng.handle(body)
        if result["result"]?.string == "error" {
            errorCounter.increment()
            log(.notice, "ng command failed", ["command": "\(command)", "reason": "\(result["error-reason"]?.string ?? "")"])
        }
        result.encode(into: &out)
        remember(cookie, out, now)
        return out
    }

    private func remember(_ cookie: String, _ reply: [UInt8], _ now: NIODeadline) {
        let ttl = TimeAmount.seconds(Int64(configuration.cacheSeconds))
        state.withLock { s in
            s.cache[cookie] = (reply, now)
            s.cacheOrder.append(cookie)
            // Bounded: expire by age, and never keep more than 100 000 replies.
            while let first = s.cacheOrder.first, let (_, at) = s.cache[first], now - at >= ttl || s.cacheOrder.count > 100_000 {
                s.cache[first] = nil
                s.cacheOrder.removeFirst()
            }
        }
    }

    private func count(_ command: String) {
        let c = NGProtocol.commands.contains(command) ? command : "other"
        state.withLock { s in
            if s.requestCounters[c] == nil { s.requestCounters[c] = Counter(label: "baton_ng_requests_total", dimensions: [("command", c)]) }
            s.requestCounters[c]!.increment()
        }
    }

    private func log(_ level: Logger.Level, _ message: Logger.Message, _ metadata: Logger.Metadata) {
        let logger = self.logger
        state.withLock { $0.limiter.log(logger, level, message, metadata: metadata) }
    }

    public func run() async throws {
        guard configuration.enabled else {
            try? await group.shutdownGracefully()
            try? await gracefulShutdown()
            return
        }
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65536))
            // Read bursts of up to 16 requests before answering them (see NGHandler).
            .channelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(NGHandler(server: self)) }
            }
            .bind(host: configuration.host, port: configuration.port).get()
        let port = channel.localAddress?.port
        bound.withLock { $0 = port }
        await setReceiveBuffer(channel, bytes: configuration.receiveBuffer, logger: logger, what: "ng")
        logger.info("ng control listening", metadata: ["address": "\(configuration.host):\(port ?? 0)"])
        try? await gracefulShutdown()
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}

/// Lives on the ng channel's event loop (created there, never shared).
private final class NGHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let server: NGServer
    /// True between the first request of a read burst and `channelReadComplete`.
    private var inBurst = false
    init(server: NGServer) { self.server = server }

    /// A read burst (up to `maxMessagesPerRead` datagrams) is answered as one: the replies
    /// are written and flushed together (one `sendmmsg`), and the relay threads are woken
    /// once for all the burst's commands.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !inBurst {
            inBurst = true
            server.relay.holdWakeups()
        }
        let env = unwrapInboundIn(data)
        guard let reply = server.reply(to: Array(env.data.readableBytesView)) else { return }
        var buf = context.channel.allocator.buffer(capacity: reply.count)
        buf.writeBytes(reply)
        context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: env.remoteAddress, data: buf)), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        endBurst()
        context.flush()
    }

    func handlerRemoved(context: ChannelHandlerContext) { endBurst() }

    private func endBurst() {
        guard inBurst else { return }
        inBurst = false
        server.relay.releaseWakeups()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
