import Calls
import ContactCenter
import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
import SIP
import Store
import Testing
import TestSupport
@testable import Control

/// The contact-center and shared-call routes through the router (no sockets but the relay's).
@Suite(.serialized) struct ContactCenterAPITests {
    func app() throws -> (some ApplicationProtocol, CallManager) {
        let calls = try testCalls(ports: TestPorts.range(20))
        let cc = ContactCenter(store: try Store(path: ":memory:"))
        let router = HTTPAPI.router(calls: calls, registry: PrometheusCollectorRegistry(), contactCenter: cc, defaultTenant: "t0")
        return (Application(router: router), calls)
    }

    static func json(_ r: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: r.body))) as? [String: Any] ?? [:]
    }
    static func message(_ r: TestResponse) -> String? { (json(r)["error"] as? [String: Any])?["message"] as? String }
    static func body(_ o: Any) -> ByteBuffer { ByteBuffer(data: try! JSONSerialization.data(withJSONObject: o)) }

    @Test func callDataKeysAndTenants() async throws {
        let (app, calls) = try app()
        calls.callEvent(.started(id: "c1", from: "<sip:alice@x>;tag=1", to: "<sip:bot@x>", callerCallID: "cid",
                                 caller: .sip(SIPPeer(transport: .udp, host: "127.0.0.1", port: 5070))))
        try await app.test(.router) { client in
            try await client.execute(uri: "/calls/c1/data", method: .post, body: Self.body(["account": "42", "transcript": ["hi"]])) { r in
                #expect(r.status == .ok && Self.json(r)["account"] as? String == "42")
            }
            try await client.execute(uri: "/calls/nope/data", method: .post, body: Self.body(["account": "1"])) { r in
                #expect(r.status == .notFound && Self.message(r) == "Unknown call-id nope")
            }
            try await client.execute(uri: "/calls/c1/data", method: .post, body: ByteBuffer(string: "{not json")) { r in
                #expect(r.status == .badRequest && Self.message(r)?.hasPrefix("body must be JSON") == true)
            }
            try await client.execute(uri: "/calls/c1/data", method: .post, body: Self.body(["transcript": "not a list"])) { r in
                #expect(r.status == .badRequest)
            }
            var key = ""
            try await client.execute(uri: "/calls/c1/keys", method: .post, body: Self.body([:])) { r in
                #expect(r.status == .created)
                key = Self.json(r)["key"] as? String ?? ""
            }
            try await client.execute(uri: "/call-keys/\(key)", method: .get) { r in
                #expect(r.status == .ok)
                #expect((Self.json(r)["data"] as? [String: Any])?["account"] as? String == "42")
            }
            // Another tenant never sees the key; a bad tenant header is a 400.
            try await client.execute(uri: "/call-keys/\(key)", method: .get, headers: [HTTPAPI.tenantHeader: "t1"]) { r in
                #expect(r.status == .notFound && Self.message(r) == "Unknown call key \(key)")
            }
            try await client.execute(uri: "/call-keys/\(key)", method: .get, headers: [HTTPAPI.tenantHeader: ""]) { r in
                #expect(r.status == .badRequest)
            }
            try await client.execute(uri: "/call-keys/abc", method: .get) { r in
                #expect(r.status == .badRequest && Self.message(r)?.contains("digits") == true)
            }
            try await client.execute(uri: "/calls/c1/keys", method: .post, body: Self.body(["ttl_s": 0])) { r in
                #expect(r.status == .badRequest)
            }
        }
    }

    @Test func agentsCategoriesAndSharedCalls() async throws {
        let (app, calls) = try app()
        for id in ["c1", "c2"] {
            calls.callEvent(.started(id: id, from: "<sip:alice@x>;tag=1", to: "<sip:\(id)@x>", callerCallID: id,
                                     caller: .sip(SIPPeer(transport: .udp, host: "127.0.0.1", port: 5070))))
        }
        try await app.test(.router) { client in
            try await client.execute(uri: "/agents/a1", method: .put, body: Self.body(["name": "Ann", "aor": "a1@x", "skills": ["billing"]])) { r in
                #expect(r.status == .ok && Self.json(r)["name"] as? String == "Ann")
            }
            try await client.execute(uri: "/agents/a1/logins/desktop", method: .put, body: Self.body(["state": "logged-in"])) { r in
                #expect(((Self.json(r)["logins"] as? [String: Any])?["desktop"] as? [String: Any])?["state"] as? String == "logged-in")
            }
            try await client.execute(uri: "/agents/a1/logins/desktop", method: .put, body: Self.body(["state": "dancing"])) { r in
                #expect(r.status == .badRequest)
            }
            try await client.execute(uri: "/agents/nobody/logins/desktop", method: .put, body: Self.body(["state": "logged-in"])) { r in
                #expect(r.status == .notFound && Self.message(r) == "Unknown agent nobody")
            }
            try await client.execute(uri: "/categories/billing", method: .put, body: Self.body(["name": "Billing", "contacts": ["sip:billing@x"]])) { r in
                #expect(r.status == .ok)
            }
            try await client.execute(uri: "/categories", method: .get) { r in
                let list = (try? JSONSerialization.jsonObject(with: Data(buffer: r.body))) as? [[String: Any]]
                #expect(list?.map { $0["id"] as? String } == ["billing"])
            }
            try await client.execute(uri: "/categories/billing", method: .delete) { r in #expect(r.status == .noContent) }
            try await client.execute(uri: "/categories/billing", method: .delete) { r in #expect(r.status == .notFound) }
            // Shared calls: c2 joins c1's operation.
            try await client.execute(uri: "/shared-calls/uc-c1/members", method: .post, body: Self.body(["call": "c2"])) { r in
                #expect(r.status == .ok)
                #expect((Self.json(r)["members"] as? [[String: Any]])?.map { $0["id"] as? String } == ["c1", "c2"])
            }
            try await client.execute(uri: "/shared-calls/uc-c2", method: .get) { r in #expect(r.status == .notFound) }
            try await client.execute(uri: "/shared-calls/uc-c1/members", method: .post, body: Self.body(["call": "zz"])) { r in
                #expect(r.status == .notFound && Self.message(r) == "Unknown call zz")
            }
            try await client.execute(uri: "/shared-calls?user=alice", method: .get) { r in
                let list = (try? JSONSerialization.jsonObject(with: Data(buffer: r.body))) as? [[String: Any]]
                #expect(list?.map { $0["id"] as? String } == ["uc-c1"])
                #expect(list?.first?["state"] as? String == "trying")
            }
        }
    }
}
