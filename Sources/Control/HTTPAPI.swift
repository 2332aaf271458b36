import Calls
import ContactCenter
import Foundation
import Handoff
import Hummingbird
import HummingbirdWebSocket
import Logging
import Media
import Prometheus
import class SIP.B2BUA
import struct SIP.SIPURI
import Store

/// The HTTP front end: health, Prometheus metrics and the calls API, a thin layer on
/// ``CallManager``.
///
/// ```swift
/// let app = HTTPAPI.application(calls: calls, registry: registry, configuration: .init())
/// // GET /healthz, GET /metrics, GET /calls, GET /calls/{id}
/// // POST /calls/{id}/switchover, GET /calls/{id}/switchovers, GET /switchovers/{op}
/// // WebSocket /events (switchover events as JSON text frames)
/// ```
public enum HTTPAPI {
    public struct Configuration: Sendable, Equatable {
        public var host: String = "127.0.0.1"
        public var port: Int = 8080
        public init() {}
    }

    /// The body of `GET /calls`.
    public struct CallList: ResponseEncodable, Sendable {
        public var active: [CallInfo]
        public var ended: [CallInfo]
    }

    public struct Health: ResponseEncodable, Sendable {
        public var status: String
        public var activeCalls: Int
        public var activeStreams: Int
    }

    public static func router(calls: CallManager, registry: PrometheusCollectorRegistry, handoff: Handoff? = nil,
                              forwarding: ForwardingTable? = nil, contactCenter: ContactCenter? = nil,
                              defaultTenant: String = "default") -> Router<BasicRequestContext> {
        let router = Router()
        router.middlewares.add(JSONErrorMiddleware())
        router.get("/healthz") { _, _ in
            Health(status: "ok", activeCalls: calls.activeCount, activeStreams: calls.relay.activeStreams)
        }
        router.get("/metrics") { _, _ -> Response in
            var bytes = registry.emitToBuffer()
            bytes.append(contentsOf: Array(relayMetrics(calls.relay).utf8))
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        router.get("/calls") { _, _ in
            CallList(active: calls.calls(), ended: calls.endedCalls())
        }
        router.get("/calls/:id") { _, ctx -> CallInfo in
            let id = try ctx.parameters.require("id")
            guard let info = calls.call(id: id) else { throw HTTPError(.notFound, message: "Unknown call-id \(id)") }
            return info
        }
        if let handoff { switchoverRoutes(router, handoff: handoff) }
        if let forwarding { forwardingRoutes(router, table: forwarding) }
        if let contactCenter {
            contactCenterRoutes(router, cc: contactCenter, calls: calls, handoff: handoff, defaultTenant: defaultTenant)
        }
        router.get("/openapi.json") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        router.get("/desktop") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: DesktopPage.html)))
        }
        return router
    }

    /// The body of `PUT /forwarding/{number}/{on}`.
    struct ForwardingBody: Decodable {
        var to: String
        var after_s: Int?
    }

    /// Call-forwarding rules (docs/http-api.md): `on` is unconditional, user-busy (or busy)
    /// or no-answer.
    static func forwardingRoutes(_ router: Router<BasicRequestContext>, table: ForwardingTable) {
        @Sendable func reason(_ ctx: BasicRequestContext) throws -> B2BUA.ForwardReason {
            let on = try ctx.parameters.require("on")
            guard let r = on == "busy" ? .busy : B2BUA.ForwardReason(rawValue: on) else {
                throw HTTPError(.badRequest, message: "on must be unconditional, busy (user-busy) or no-answer, not '\(on)'")
            }
            return r
        }
        router.get("/forwarding") { _, _ -> [ForwardingRule] in table.all }
        router.put("/forwarding/:number/:on") { request, ctx -> ForwardingRule in
            let number = try ctx.parameters.require("number"), on = try reason(ctx)
            let body: ForwardingBody
            do { body = try await request.decode(as: ForwardingBody.self, context: ctx) } catch {
                throw HTTPError(.badRequest, message: "body must be JSON {\"to\": \"sip:...\", \"after_s\": 20}: \(error)")
            }
            guard SIPURI(parsing: body.to) != nil else { throw HTTPError(.badRequest, message: "to must be a SIP URI, not '\(body.to)'") }
            let after = body.after_s ?? 20
            guard (1...600).contains(after) else { throw HTTPError(.badRequest, message: "after_s must be 1-600") }
            let rule = ForwardingRule(number: number, to: body.to, on: on, afterSeconds: after)
            try await table.put(rule)
            return rule
        }
        router.delete("/forwarding/:number/:on") { _, ctx -> HTTPResponse.Status in
            let number = try ctx.parameters.require("number")
            guard try await table.delete(number: number, on: try reason(ctx)) else {
                throw HTTPError(.notFound, message: "no such forwarding rule")
            }
            return .noContent
        }
    }

    static func switchoverRoutes(_ router: Router<BasicRequestContext>, handoff: Handoff) {
        router.post("/calls/:id/switchover") { request, ctx -> EditedResponse<SwitchoverOperation> in
            let id = try ctx.parameters.require("id")
            let body: SwitchoverRequest
            do { body = try await request.decode(as: SwitchoverRequest.self, context: ctx) } catch {
                throw HTTPError(.badRequest, message: "body must be JSON {\"target\": \"...\", \"mode\": \"silence|now\", \"window_ms\": 300, \"priming_ms\": 300, \"leg\": \"callee|caller\"}: \(error)")
            }
            do {
                return EditedResponse(status: .accepted, response: try await handoff.switchover(call: id, body))
            } catch let e as HandoffError {
                throw HTTPError(status(of: e), message: e.description)
            }
        }
        router.get("/calls/:id/switchovers") { _, ctx -> [SwitchoverOperation] in
            handoff.operations(call: try ctx.parameters.require("id"))
        }
        if let devices = handoff.devices { deviceRoutes(router, devices: devices, handoff: handoff) }
        router.get("/switchovers/:op") { _, ctx -> SwitchoverOperation in
            let id = try ctx.parameters.require("op")
            guard let op = handoff.operation(id: id) else { throw HTTPError(.notFound, message: "Unknown switchover \(id)") }
            return op
        }
    }

    /// The body of `PUT /users/{user}/devices/{id}`.
    struct DeviceBody: Decodable {
        var aor: String
        var kind: String
        var priority: Int?
    }

    static func deviceRoutes(_ router: Router<BasicRequestContext>, devices: Devices, handoff: Handoff) {
        router.get("/users/:user/devices") { _, ctx -> [DeviceRecord] in
            devices.list(user: try ctx.parameters.require("user"))
        }
        router.put("/users/:user/devices/:id") { request, ctx -> DeviceRecord in
            let user = try ctx.parameters.require("user"), id = try ctx.parameters.require("id")
            let body: DeviceBody
            do { body = try await request.decode(as: DeviceBody.self, context: ctx) } catch {
                throw HTTPError(.badRequest, message: "body must be JSON {\"aor\": \"kitchen@example.com\", \"kind\": \"speaker\", \"priority\": 0}: \(error)")
            }
            let d = DeviceRecord(user: user, id: id, aor: body.aor, kind: body.kind, priority: body.priority ?? 0)
            do { try await devices.put(d) } catch let e as HandoffError { throw HTTPError(status(of: e), message: e.description) }
            return d
        }
        router.delete("/users/:user/devices/:id") { _, ctx -> HTTPResponse.Status in
            let user = try ctx.parameters.require("user"), id = try ctx.parameters.require("id")
            let removed: Bool
            do { removed = try await devices.delete(user: user, id: id) } catch let e as HandoffError {
                throw HTTPError(status(of: e), message: e.description)
            }
            guard removed else { throw HTTPError(.notFound, message: "Unknown device \(user)/\(id)") }
            return .noContent
        }
        router.get("/users/:user/speakers") { _, ctx -> [SpeakerState] in
            try await handoff.speakers(user: try ctx.parameters.require("user"))
        }
    }

    static func status(of e: HandoffError) -> HTTPResponse.Status {
        switch e {
        case .refused(.noSuchCall), .refused(.targetNotFound): .notFound
        case .refused(.notAnswered), .refused(.alreadyRunning), .refused(.noSDP): .conflict
        case .invalid: .badRequest
        case .media, .unavailable: .serviceUnavailable
        }
    }

    /// `/events`: every switchover event (`type: "switchover"`) and shared-call change
    /// (`type: "shared-call"`) as one JSON text frame each, from the moment of connection.
    static func webSocketRouter(handoff: Handoff?, calls: CallManager) -> Router<BasicWebSocketRequestContext> {
        let ws = Router(context: BasicWebSocketRequestContext.self)
        ws.ws("/events") { _, _ in .upgrade([:]) } onUpgrade: { inbound, outbound, _ in
            let switchovers = handoff?.events.subscribe()
            let shared = calls.shared.events.subscribe()
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
                                   logger: Logger = Logger(label: "baton.http")) -> some ApplicationProtocol {
        Application(router: router(calls: calls, registry: registry, handoff: handoff, forwarding: forwarding,
                                   contactCenter: contactCenter, defaultTenant: defaultTenant),
                    server: .http1WebSocketUpgrade(webSocketRouter: webSocketRouter(handoff: handoff, calls: calls)),
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
        } catch {
            let incident = String(UInt64.random(in: 0 ... .max), radix: 16)
            context.logger.error("HTTP request failed", metadata: [
                "incident": "\(incident)", "method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(error)"])
            throw HTTPError(.internalServerError, message: "internal error (incident \(incident)); the gateway's log has the details")
        }
    }
}

extension CallInfo: ResponseEncodable {}
extension SwitchoverOperation: ResponseEncodable {}
extension DeviceRecord: ResponseEncodable {}
extension SpeakerState: ResponseEncodable {}
extension ForwardingRule: ResponseEncodable {}
