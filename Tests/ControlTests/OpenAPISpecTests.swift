import Calls
import ContactCenter
import Crypto
import Foundation
import Handoff
import Hummingbird
import HummingbirdTesting
import Prometheus
import Store
import Testing
import TestSupport
@testable import Control

/// openapi.yaml is the source of the HTTP API: the generated code must be made from the
/// document as it is now, the served document is that document, and every operation it
/// describes is routed (generated handlers or the plain routes).
@Suite(.serialized) struct OpenAPISpecTests {
    static let control = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/Control")

    static func sha256(_ file: String) throws -> String {
        let data = try Data(contentsOf: control.appendingPathComponent(file))
        return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    @Test func generatedCodeIsMadeFromTheCurrentDocument() throws {
        let digest = try Self.sha256("openapi.yaml") + "-" + Self.sha256("openapi-generator-config.yaml")
        #expect(OpenAPISpec.sourceDigest == digest,
                "Sources/Control/Generated is stale: run tools/openapi/generate.sh after editing openapi.yaml")
        for f in ["Types.swift", "Server.swift"] {
            let text = try String(contentsOf: Self.control.appendingPathComponent("Generated/" + f), encoding: .utf8)
            #expect(text.hasPrefix("// openapi.yaml sha256: \(digest)\n"), "Generated/\(f) is stale")
        }
    }

    @Test func everyDocumentedOperationIsRoutedAndTheServedDocumentIsTheSource() async throws {
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPISpec.json.utf8)) as? [String: Any])
        #expect(doc["openapi"] as? String == "3.0.3")
        let paths = try #require(doc["paths"] as? [String: [String: Any]])
        #expect(paths.count > 25)
        let operations = paths.sorted { $0.key < $1.key }.map { path, item in
            (path, ["get", "put", "post", "delete"].filter { item[$0] != nil })
        }
        let calls = try testCalls(ports: TestPorts.range(20))
        let cc = ContactCenter(store: try Store(path: ":memory:"))
        let forwarding = ForwardingTable(store: try Store(path: ":memory:"))
        let router = HTTPAPI.router(calls: calls, registry: PrometheusCollectorRegistry(), forwarding: forwarding,
                                    contactCenter: cc, users: SIPUsers(store: nil))
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/openapi.json", method: .get) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body) == OpenAPISpec.json)
            }
            // Compact JSON, as before the API was generated (not the runtime's pretty-printing).
            try await client.execute(uri: "/healthz", method: .get) { r in
                #expect(!String(buffer: r.body).contains("\n"), "\(String(buffer: r.body))")
            }
            var checked = 0
            for (path, methods) in operations {
                let uri = path.replacing(/\{(\w+)\}/) { m in m.1 == "on" ? "busy" : "x1" }
                for method in methods {
                    let m: HTTPRequest.Method = switch method { case "get": .get; case "put": .put; case "post": .post; default: .delete }
                    try await client.execute(uri: uri, method: m, headers: [.contentType: "application/json"],
                                             body: ByteBuffer(string: "{}")) { r in
                        // Hummingbird's own 404/405 for a path or method it has no route for has
                        // no body; every answer of Baton's (404s included) has one.
                        #expect(r.status != .methodNotAllowed, "\(method) \(path) has no route")
                        #expect(r.status != .notFound || r.body.readableBytes > 0, "\(method) \(path) has no route")
                        #expect(r.status.code < 500, "\(method) \(path) answered \(r.status)")
                        checked += 1
                    }
                }
            }
            #expect(checked >= 30)
            // A route that is not in the document is not served.
            try await client.execute(uri: "/no-such-route", method: .get) { r in #expect(r.status == .notFound && r.body.readableBytes == 0) }
        }
    }

    /// A body that does not match the document is the client's error, in its words.
    @Test func aBodyThatDoesNotMatchTheDocumentIsA400() async throws {
        let calls = try testCalls(ports: TestPorts.range(20))
        let forwarding = ForwardingTable(store: try Store(path: ":memory:"))
        let router = HTTPAPI.router(calls: calls, registry: PrometheusCollectorRegistry(), forwarding: forwarding)
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/forwarding/100/busy", method: .put, headers: [.contentType: "application/json"],
                                     body: ByteBuffer(string: #"{"to": 5}"#)) { r in
                #expect(r.status == .badRequest)
                let message = String(buffer: r.body)
                #expect(message.contains("body must be JSON") && message.contains("putForwardingRule") && message.contains("to"), "\(message)")
            }
            try await client.execute(uri: "/forwarding/100/sometimes", method: .put, headers: [.contentType: "application/json"],
                                     body: ByteBuffer(string: #"{"to": "sip:a@b"}"#)) { r in
                #expect(r.status == .badRequest)
            }
        }
    }
}
