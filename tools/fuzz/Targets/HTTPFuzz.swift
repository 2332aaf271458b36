import Calls
import ContactCenter
import Control
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import Prometheus
import Store

/// The `http-json` target: `METHOD /path` on the first line, the JSON body after it,
/// through the API's router (error middleware, generated OpenAPI decoding, handlers) with a
/// call manager, contact center, forwarding table and SIP users on an in-memory store.
/// Requests go straight to the router's responder (no socket), each with a request context
/// on one shared testing channel. (HummingbirdTesting's router client makes a testing
/// channel per request and never closes it: ~8 KB of pipeline per input stay live, and a
/// 30-minute run passed the 2 GB RSS limit after 215 000 inputs.) What inputs create
/// (agents, users, rules) is real state: the store and the router start afresh every
/// ``inputsPerStore`` inputs, so a long run measures what Baton leaks, not what it was asked
/// to keep.
final class HTTPFuzz: @unchecked Sendable {
    static let shared = HTTPFuzz()
    static let inputsPerStore = 20_000

    /// Only the fuzzer's thread touches these (one input at a time).
    private var responder: RouterResponder<BatonRequestContext>
    private var served = 0
    let channel = NIOAsyncTestingChannel()
    let logger = Logger(label: "baton.fuzz.http")

    init() { responder = HTTPFuzz.makeResponder() }

    static func makeResponder() -> RouterResponder<BatonRequestContext> {
        let store = try! Store(path: ":memory:")
        let router = HTTPAPI.router(calls: MediaFuzz.shared.calls, registry: PrometheusCollectorRegistry(),
                                    forwarding: ForwardingTable(store: store), contactCenter: ContactCenter(store: store),
                                    defaultTenant: "t0", users: SIPUsers(store: store))
        return router.buildResponder()
    }

    /// Reads and drops a response body (a handler's encoding runs when the body is written).
    struct Discard: ResponseBodyWriter {
        mutating func write(_ buffer: ByteBuffer) async throws {}
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }

    func run(_ data: [UInt8]) {
        let newline = data.firstIndex(of: 0x0A) ?? data.endIndex
        let line = String(decoding: data[..<newline], as: UTF8.self).split(separator: " ", maxSplits: 1)
        let body = newline < data.endIndex ? Array(data[(newline + 1)...]) : []
        let method = line.first.flatMap { HTTPRequest.Method(String($0)) } ?? .post
        var uri = line.count > 1 ? String(line[1]) : "/"
        if !uri.hasPrefix("/") { uri = "/" + uri }
        served += 1
        if served % HTTPFuzz.inputsPerStore == 0 { responder = HTTPFuzz.makeResponder() }
        let done = DispatchSemaphore(value: 0)
        Task { [responder, channel, logger] in
            var headers: HTTPFields = [.contentType: "application/json"]
            headers[.contentLength] = "\(body.count)"
            let request = Request(head: .init(method: method, scheme: "http", authority: "localhost", path: uri, headerFields: headers),
                                  body: RequestBody(buffer: ByteBuffer(bytes: body)))
            let context = BatonRequestContext(source: .init(channel: channel, logger: logger))
            let response = (try? await responder.respond(to: request, context: context)) ?? Response(status: .internalServerError)
            try? await response.body.write(Discard())
            done.signal()
        }
        done.wait()
        MediaFuzz.shared.releaseAll()
    }
}
