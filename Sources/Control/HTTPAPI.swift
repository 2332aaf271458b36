import Calls
import ContactCenter
import Foundation
import Handoff
import Hummingbird
import NIOCore
import HummingbirdWebSocket
import Logging
import Media
import Prediction
import OpenAPIHummingbird
import OpenAPIRuntime
import Prometheus
import Store

/// The HTTP front end: the API of openapi.yaml (``APIHandler``, generated protocol), the
/// Prometheus metrics, the OpenAPI document, the agent desktop page and the `/events`
/// WebSocket, a thin layer on ``CallManager``, ``Handoff`` and ``ContactCenter``.
///
/// ```swift
/// let app = HTTPAPI.application(calls: calls, registry: registry, configuration: .init())
/// // GET /healthz, GET /metrics, GET /calls, GET /calls/{id}
/// // POST /calls/{id}/switchover, GET /calls/{id}/switchovers, GET /switchovers/{op}
/// // WebSocket /events (switchover events as JSON text frames)
/// ```
/// Hummingbird's basic context plus the client's address (`RemoteAddressRequestContext`):
/// what the call-key look-up limit counts per address.
public struct BatonRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

public enum HTTPAPI {
    public struct Configuration: Sendable, Equatable {
        public var host: String = "127.0.0.1"
        public var port: Int = 8080
        /// Bearer tokens required for the API (`http.auth`; docs/security.md).
        public var auth = false
        /// Call-key look-ups per token (or for all requests without one) per minute
        /// (`http.key_lookups_per_minute`); beyond: 429.
        public var keyLookupsPerMinute = 30
        /// How long an agent desktop's login session lasts (`http.session_ttl_s`).
        public var sessionSeconds = 43200
        public init() {}
    }

    public static func router(calls: CallManager, registry: PrometheusCollectorRegistry, handoff: Handoff? = nil,
                              forwarding: ForwardingTable? = nil, contactCenter: ContactCenter? = nil,
                              defaultTenant: String = "default", tokens: APITokens? = nil,
                              keyLookups: KeyLookupLimiter = KeyLookupLimiter(perMinute: 30),
                              login: DesktopLogin? = nil, users: SIPUsers? = nil, realm: String = "baton",
                              models: TransferModels? = nil, locator: (any CallLocator)? = nil) -> Router<BatonRequestContext> {
        let router = Router(context: BatonRequestContext.self)
        router.middlewares.add(JSONErrorMiddleware())
        // With tokens every operation but the open ones needs a bearer token (http.auth).
        if let tokens { router.middlewares.add(APIAuthMiddleware(tokens: tokens)) }
        // After authentication: a token's id is then one the auth middleware accepted.
        router.middlewares.add(KeyLookupLimitMiddleware(limiter: keyLookups, perToken: tokens != nil))
        // Several gateways on one store: a call another gateway anchors is answered there.
        if let locator { router.middlewares.add(CallForwardMiddleware(calls: calls, locator: locator)) }
        // Every operation of openapi.yaml but the plain ones below.
        let api = APIHandler(calls: calls, handoff: handoff, forwarding: forwarding, contactCenter: contactCenter,
                             defaultTenant: defaultTenant, login: login ?? DesktopLogin(users: users, tokens: tokens),
                             users: users, realm: realm, models: models)
        // Compact JSON, as Hummingbird's own encoder wrote it before the API was generated
        // (the runtime's default pretty-prints every response).
        do { try api.registerHandlers(on: router, configuration: .init(jsonEncodingOptions: [])) } catch {
            // Registration fails only for a document the generator itself rejected.
            preconditionFailure("openapi.yaml's operations could not be registered: \(error)")
        }
        router.get("/metrics") { _, _ -> Response in
            var bytes = registry.emitToBuffer()
            bytes.append(contentsOf: Array(relayMetrics(calls.relay).utf8))
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        router.get("/openapi.json") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: OpenAPISpec.json)))
        }
        // With http.auth the auth middleware answers /logout itself (it holds the session's
        // principal); without it there is no session to end.
        router.post("/logout") { _, _ -> Response in Response(status: .noContent) }
        router.get("/desktop") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: DesktopPage.html)))
        }
        return router
    }

    static func status(of e: HandoffError) -> HTTPResponse.Status {
        switch e {
        case .refused(.noSuchCall), .refused(.targetNotFound): .notFound
        case .refused(.notAnswered), .refused(.alreadyRunning), .refused(.noSDP): .conflict
        case .invalid: .badRequest
        case .media, .unavailable: .serviceUnavailable
        }
    }

    /// `/events`: every switchover event (`type: "switchover"`), shared-call change
    /// (`type: "shared-call"`) and conversation decision (`type: "conversation"`) as one JSON
    /// text frame each, from the moment of connection.
    static func webSocketRouter(handoff: Handoff?, calls: CallManager, tokens: APITokens? = nil) -> Router<BasicWebSocketRequestContext> {
        let ws = Router(context: BasicWebSocketRequestContext.self)
        // A browser cannot set headers on a WebSocket: the token may come as ?token=.
        if let tokens { ws.middlewares.add(APIAuthMiddleware(tokens: tokens, queryToken: true)) }
        ws.ws("/events") { _, _ in .upgrade([:]) } onUpgrade: { inbound, outbound, _ in
            let switchovers = handoff?.events.subscribe()
            let shared = calls.shared.events.subscribe()
            let decisions = handoff?.conversation.events.subscribe()
            try await withThrowingTaskGroup(of: Void.self) { group in
                // One writer task: frames from both sources, serialized through one stream.
                let (frames, sink) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1000))
                if let switchovers {
                    group.addTask {
                        let encoder = JSONEncoder()
                        encoder.outputFormatting = .sortedKeys
                        for await e in switchovers { sink.yield(String(decoding: try encoder.encode(e), as: UTF8.self)) }
                    }
                }
                group.addTask {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = .sortedKeys
                    for await e in shared { sink.yield(String(decoding: try encoder.encode(e), as: UTF8.self)) }
                }
                if let decisions {
                    group.addTask {
                        let encoder = JSONEncoder()
                        encoder.outputFormatting = .sortedKeys
                        for await d in decisions { sink.yield(String(decoding: try encoder.encode(ConversationEvent(d)), as: UTF8.self)) }
                    }
                }
                group.addTask {
                    for await f in frames { try await outbound.write(.text(f)) }
                }
                // Reading the inbound side answers pings and sees the close; then stop writing.
                for try await _ in inbound {}
                group.cancelAll()
            }
        }
        return ws
    }

    public static func application(calls: CallManager, registry: PrometheusCollectorRegistry, configuration: Configuration,
                                   handoff: Handoff? = nil, forwarding: ForwardingTable? = nil,
                                   contactCenter: ContactCenter? = nil, defaultTenant: String = "default",
                                   tokens: APITokens? = nil, users: SIPUsers? = nil, realm: String = "baton",
                                   models: TransferModels? = nil, locator: (any CallLocator)? = nil,
                                   logger: Logger = Logger(label: "baton.http")) -> some ApplicationProtocol {
        Application(router: router(calls: calls, registry: registry, handoff: handoff, forwarding: forwarding,
                                   contactCenter: contactCenter, defaultTenant: defaultTenant, tokens: tokens,
                                   keyLookups: KeyLookupLimiter(perMinute: configuration.keyLookupsPerMinute),
                                   login: DesktopLogin(users: users, tokens: tokens, sessionSeconds: configuration.sessionSeconds),
                                   users: users, realm: realm, models: models, locator: locator),
                    server: .http1WebSocketUpgrade(webSocketRouter: webSocketRouter(handoff: handoff, calls: calls, tokens: tokens)),
                    configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Baton"),
                    logger: logger)
    }

    /// Relay totals in Prometheus text format (read from the relay's atomics at scrape time,
    /// so the hot path never touches a metrics backend).
    static func relayMetrics(_ relay: MediaRelay) -> String {
        let t = relay.totalsSnapshot
        return """
        # HELP baton_rtp_packets_relayed_total RTP and RTCP packets forwarded by the relay.
        # TYPE baton_rtp_packets_relayed_total counter
        baton_rtp_packets_relayed_total \(t.relayedPackets)
        # HELP baton_rtp_bytes_relayed_total Bytes forwarded by the relay.
        # TYPE baton_rtp_bytes_relayed_total counter
        baton_rtp_bytes_relayed_total \(t.relayedBytes)
        # HELP baton_rtp_packets_dropped_total Packets the relay dropped, by reason.
        # TYPE baton_rtp_packets_dropped_total counter
        baton_rtp_packets_dropped_total{reason="source_mismatch"} \(t.droppedSource)
        baton_rtp_packets_dropped_total{reason="no_destination"} \(t.droppedNoDestination)
        baton_rtp_packets_dropped_total{reason="send_error"} \(t.droppedSendError)
        baton_rtp_packets_dropped_total{reason="parked_port"} \(t.droppedParked)
        # HELP baton_media_streams_active Anchored media streams.
        # TYPE baton_media_streams_active gauge
        baton_media_streams_active \(relay.activeStreams)
        # HELP baton_rtp_port_pairs_in_use RTP/RTCP port pairs allocated.
        # TYPE baton_rtp_port_pairs_in_use gauge
        baton_rtp_port_pairs_in_use \(relay.pool.pairsInUse)
        # HELP baton_rtp_port_pairs_parked Free port pairs whose sockets are kept bound for reuse (media.reuse_sockets).
        # TYPE baton_rtp_port_pairs_parked gauge
        baton_rtp_port_pairs_parked \(relay.pool.pairsParked)
        # HELP baton_rtp_port_pair_budget Most port pairs open at once, in use and parked (RLIMIT_NOFILE less a reserve).
        # TYPE baton_rtp_port_pair_budget gauge
        baton_rtp_port_pair_budget \(relay.pool.pairBudget)

        """
    }
}

/// Maps any error to `{"error":{"message":…}}` with its HTTP status (Hummingbird's
/// `HTTPError` already does). Any other error is a 500 whose body names an incident id and
/// nothing else: an internal error's text can name files, SQL or peers, which is for the
/// operator's log (where the id leads), not for the client.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as HTTPError {
            throw e
        } catch let e as ServerError {
            // Thrown by the generated layer: a handler's HTTPError, or a request that does not
            // match openapi.yaml (its input was never made), which is the client's error.
            if let h = e.underlyingError as? HTTPError { throw h }
            if e.operationInput == nil {
                let status: HTTPResponse.Status = e.httpStatus.code >= 500 ? .badRequest : e.httpStatus
                if let d = e.underlyingError as? DecodingError {
                    throw HTTPError(status, message: "body must be JSON as openapi.yaml describes for \(e.operationID): \(Self.describe(d))")
                }
                throw HTTPError(status, message: "request does not match openapi.yaml (\(e.operationID)): \(e.causeDescription): \(e.underlyingError)")
            }
            throw incident(e.underlyingError, request, context)
        } catch {
            throw incident(error, request, context)
        }
    }

    private func incident(_ error: any Error, _ request: Request, _ context: Context) -> HTTPError {
        let incident = String(UInt64.random(in: 0 ... .max), radix: 16)
        context.logger.error("HTTP request failed", metadata: [
            "incident": "\(incident)", "method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(error)"])
        return HTTPError(.internalServerError, message: "internal error (incident \(incident)); the gateway's log has the details")
    }

    /// A decoding error in a client's words: what was wrong and where (JSON path).
    static func describe(_ e: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String {
            c.codingPath.isEmpty ? "" : " at " + c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch e {
        case .typeMismatch(let t, let c): return "expected \(t)\(path(c)): \(c.debugDescription)"
        case .valueNotFound(let t, let c): return "missing \(t)\(path(c))"
        case .keyNotFound(let k, let c): return "missing key '\(k.stringValue)'\(path(c))"
        case .dataCorrupted(let c): return "\(c.debugDescription)\(path(c))"
        @unknown default: return "\(e)"
        }
    }
}



/// A conversation decision as an `/events` frame.
struct ConversationEvent: Encodable {
    let type = "conversation"
    let decision: ConversationDecision
    init(_ d: ConversationDecision) { decision = d }
}
