import Calls
import ContactCenter
import Control
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Prometheus
import Store

/// The `http-json` target: `METHOD /path` on the first line, the JSON body after it,
/// through the API's router (error middleware, generated OpenAPI decoding, handlers) with a
/// call manager, contact center, forwarding table and SIP users on an in-memory store.
/// Requests go through HummingbirdTesting's router client (no socket): a test session serves
/// the inputs, fed from the fuzzer's thread.
final class HTTPFuzz: @unchecked Sendable {
    static let shared = HTTPFuzz()

    struct Job: Sendable {
        let method: HTTPRequest.Method
        let uri: String
        let body: [UInt8]
        let done: DispatchSemaphore
    }
    let jobs: AsyncStream<Job>.Continuation

    init() {
        let (stream, continuation) = AsyncStream<Job>.makeStream()
        jobs = continuation
        let store = try! Store(path: ":memory:")
        let router = HTTPAPI.router(calls: MediaFuzz.shared.calls, registry: PrometheusCollectorRegistry(),
                                    forwarding: ForwardingTable(store: store), contactCenter: ContactCenter(store: store),
                                    defaultTenant: "t0", users: SIPUsers(store: store))
        let app = Application(router: router)
        // A test session keeps every request's testing channel until it ends (~8 KB each: a
        // 30-minute run passed 2 GB after 215 000 inputs), so each session serves at most
        // `perSession` inputs and the next one takes over.
        let perSession = 1000
        Task {
            while true {
                let served = try await app.test(.router) { client -> Int in
                    var n = 0
                    for await job in stream {
                        _ = try? await client.execute(uri: job.uri, method: job.method,
                                                      headers: [.contentType: "application/json"],
                                                      body: ByteBuffer(bytes: job.body)) { $0.status }
                        job.done.signal()
                        n += 1
                        if n == perSession { break }
                    }
                    return n
                }
                if served < perSession { return }   // the stream ended
            }
        }
    }

    func run(_ data: [UInt8]) {
        let newline = data.firstIndex(of: 0x0A) ?? data.endIndex
        let line = String(decoding: data[..<newline], as: UTF8.self).split(separator: " ", maxSplits: 1)
        let body = newline < data.endIndex ? Array(data[(newline + 1)...]) : []
        let method = line.first.flatMap { HTTPRequest.Method(String($0)) } ?? .post
        var uri = line.count > 1 ? String(line[1]) : "/"
        if !uri.hasPrefix("/") { uri = "/" + uri }
        let done = DispatchSemaphore(value: 0)
        jobs.yield(Job(method: method, uri: uri, body: body, done: done))
        done.wait()
        MediaFuzz.shared.releaseAll()
    }
}
