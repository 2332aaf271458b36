import AsyncHTTPClient
import Calls
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import SIP
import Synchronization

/// Where a call another gateway anchors can be reached: its HTTP address, from the shared
/// store (Baton's `ClusterStore`); nil when no live gateway anchors it.
public protocol CallLocator: Sendable {
    /// This gateway's id (a forwarded request names it in `X-Baton-Forwarded`).
    var gatewayID: String { get }
    func httpAddress(anchoring call: String) async -> (gateway: String, address: String)?
}

/// Any gateway answers for any call: a request about a call (`/calls/{id}` and everything
/// under it: switchover, transfer, data, keys, dialog reports, predictions) that reaches a
/// gateway not anchoring the call is carried to the one that does, answered there, and its
/// answer returned as is. Authentication happened here (the token, tenant and agent headers
/// travel with it). A forwarded request carries `X-Baton-Forwarded: <gateway>`, and one that
/// arrives with it is never forwarded again: a loop (two gateways each believing the other
/// anchors a call) ends after one hop with the second gateway's own 404.
struct CallForwardMiddleware<Context: RequestContext>: RouterMiddleware {
    let calls: CallManager
    let locator: any CallLocator
    static var forwardedHeader: HTTPField.Name { HTTPField.Name("X-Baton-Forwarded")! }
    /// The largest body carried (the API's requests are small JSON documents).
    static var maxBody: Int { 1 << 20 }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let id = Self.callID(request.uri.path), calls.call(id: id) == nil,
              request.headers[Self.forwardedHeader] == nil,
              let target = await locator.httpAddress(anchoring: id), target.gateway != locator.gatewayID else {
            return try await next(request, context)
        }
        var out = HTTPClientRequest(url: "http://\(target.address)\(request.uri.string)")
        out.method = .init(rawValue: request.method.rawValue)
        for f in request.headers where f.name.canonicalName != "host" && f.name != .contentLength && f.name != .connection {
            out.headers.add(name: f.name.rawName, value: f.value)
        }
        out.headers.replaceOrAdd(name: Self.forwardedHeader.rawName, value: locator.gatewayID)
        var request = request
        let body = try await request.collectBody(upTo: Self.maxBody)
        if body.readableBytes > 0 { out.body = .bytes(body) }
        forwardedRequests.increment()
        do {
            let reply = try await forwardClient.execute(out, timeout: .seconds(10))
            let bytes = try await reply.body.collect(upTo: 16 << 20)
            var headers = HTTPFields()
            for h in reply.headers where !["content-length", "connection", "transfer-encoding"].contains(h.name.lowercased()) {
                if let name = HTTPField.Name(h.name) { headers.append(HTTPField(name: name, value: h.value)) }
            }
            headers[Self.forwardedHeader] = target.gateway
            context.logger.debug("request forwarded to the anchoring gateway", metadata: ["call": "\(id)", "gateway": "\(target.gateway)"])
            return Response(status: .init(code: Int(reply.status.code), reasonPhrase: reply.status.reasonPhrase), headers: headers,
                            body: .init(byteBuffer: bytes))
        } catch {
            forwardFailures.increment()
            forwardLimiter.withLock {
                $0.log(context.logger, .warning, "anchoring gateway unreachable", metadata: [
                    "call": "\(id)", "gateway": "\(target.gateway)", "error": "\(error)"])
            }
            throw HTTPError(.badGateway, message: "call \(id) is anchored by gateway \(target.gateway), which did not answer (\(error))")
        }
    }

    /// The call id of `/calls/{id}` and `/calls/{id}/...`.
    static func callID(_ path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0] == "calls", !parts[1].isEmpty else { return nil }
        return String(parts[1])
    }
}

private let forwardClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
    timeout: .init(connect: .seconds(2), read: .seconds(10))))

private let forwardedRequests = Counter(label: "baton_http_forwarded_total")
private let forwardFailures = Counter(label: "baton_http_forward_failures_total")
private let forwardLimiter = Mutex(LogRateLimiter())
