import Calls
import ContactCenter
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Prometheus
import SIP
import Store
import Testing
import TestSupport
@testable import Control

/// HTTP API authentication (issue 19): bearer tokens with roles, the tenant from the token,
/// tokens stored hashed.
@Suite(.serialized) struct APIAuthTests {
    static func json(_ r: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: r.body))) as? [String: Any] ?? [:]
    }
    static func body(_ o: Any) -> ByteBuffer { ByteBuffer(data: try! JSONSerialization.data(withJSONObject: o)) }
    static func bearer(_ t: String) -> HTTPFields { [.authorization: "Bearer \(t)"] }

    @Test func tokensRolesAndTenants() async throws {
        let store = try Store(path: ":memory:")
        let tokens = APITokens(store: store)
        let (admin, _) = try await tokens.create(name: "ops", role: .admin, tenant: "acme")
        let (reader, _) = try await tokens.create(name: "grafana", role: .readOnly, tenant: "acme")
        let (bot, _) = try await tokens.create(name: "bot", role: .application, tenant: "acme")
        let (other, _) = try await tokens.create(name: "rival", role: .application, tenant: "globex")
        let (agent, _) = try await tokens.create(name: "ann", role: .agent, tenant: "acme", agent: "ann")
        // Only hashes are stored.
        let rows = try await store.apiTokens()
        #expect(rows.count == 5 && rows.allSatisfy { $0.hash.count == 64 })
        #expect(rows.allSatisfy { r in ![admin, reader, bot, other, agent].contains { $0.hasSuffix(r.hash) || $0.contains(r.hash) } })
        // A second registry loaded from the store knows them.
        let reloaded = APITokens(store: store)
        try await reloaded.load()
        #expect(reloaded.authenticate(bot)?.name == "bot" && reloaded.authenticate(bot + "x") == nil)

        let calls = try testCalls(ports: TestPorts.range(20))
        let cc = ContactCenter(store: try Store(path: ":memory:"))
        _ = try await cc.putAgent(Agent(id: "ann", name: "Ann"))
        let router = HTTPAPI.router(calls: calls, registry: PrometheusCollectorRegistry(), contactCenter: cc, defaultTenant: "t0", tokens: tokens)
        calls.callEvent(.started(id: "c1", from: "<sip:alice@x>;tag=1", to: "<sip:bot@x>", callerCallID: "cid",
                                 caller: .sip(SIPPeer(transport: .udp, host: "127.0.0.1", port: 5070))))
        try await Application(router: router).test(.router) { client in
            // Open: health and metrics; everything else needs a token.
            try await client.execute(uri: "/healthz", method: .get) { r in #expect(r.status == .ok) }
            try await client.execute(uri: "/calls", method: .get) { r in
                #expect(r.status == .unauthorized && r.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                #expect((Self.json(r)["error"] as? [String: Any])?["message"] as? String != nil, "a JSON error")
            }
            try await client.execute(uri: "/calls", method: .get, headers: Self.bearer("bt_nope_nope")) { r in #expect(r.status == .unauthorized) }
            try await client.execute(uri: "/calls", method: .get, headers: Self.bearer(reader)) { r in #expect(r.status == .ok) }
            // Roles: read-only reads only; an application acts on calls, not on configuration.
            try await client.execute(uri: "/calls/c1/data", method: .post, headers: Self.bearer(reader), body: Self.body(["a": "1"])) { r in
                #expect(r.status == .forbidden)
            }
            try await client.execute(uri: "/forwarding/100/busy", method: .put, headers: Self.bearer(bot), body: Self.body(["to": "sip:x@y"])) { r in
                #expect(r.status == .forbidden)
            }
            // The tenant is the token's: the header a client sends does not choose it.
            var h = Self.bearer(bot)
            h[HTTPField.Name("X-Baton-Tenant")!] = "globex"
            try await client.execute(uri: "/calls/c1/data", method: .post, headers: h, body: Self.body(["account": "42"])) { r in
                #expect(r.status == .ok)
            }
            try await client.execute(uri: "/calls/c1/data", method: .get, headers: Self.bearer(bot)) { r in
                #expect(r.status == .ok && Self.json(r)["account"] as? String == "42", "written in acme, the token's tenant")
            }
            try await client.execute(uri: "/calls/c1/data", method: .get, headers: Self.bearer(other)) { r in
                #expect(r.status == .notFound, "another tenant's token sees nothing of it")
            }
            // An agent changes its own logins only.
            try await client.execute(uri: "/agents/ann/logins/desk", method: .put, headers: Self.bearer(agent)) { r in
                #expect(r.status != .forbidden && r.status != .unauthorized, "\(r.status)")
            }
            try await client.execute(uri: "/agents/bob/logins/desk", method: .put, headers: Self.bearer(agent)) { r in
                #expect(r.status == .forbidden)
            }
            try await client.execute(uri: "/agents/ann", method: .delete, headers: Self.bearer(agent)) { r in #expect(r.status == .forbidden) }
            try await client.execute(uri: "/agents/ann", method: .get, headers: Self.bearer(admin)) { r in #expect(r.status == .ok) }
        }
        // Revoked: refused at once by this gateway.
        #expect(try await tokens.revoke(id: try #require(tokens.authenticate(bot)?.id)))
        #expect(tokens.authenticate(bot) == nil)
    }
}

/// Call keys are a few digits: look-ups are limited per token (429 beyond).
@Suite struct KeyLookupLimitTests {
    @Test func lookUpsBeyondTheBudgetGet429PerToken() async throws {
        let tokens = APITokens(store: nil)
        let (a, _) = try await tokens.create(name: "a", role: .application, tenant: "t")
        let (b, _) = try await tokens.create(name: "b", role: .application, tenant: "t")
        let calls = try testCalls(ports: TestPorts.range(20))
        let cc = ContactCenter(store: try Store(path: ":memory:"))
        let router = HTTPAPI.router(calls: calls, registry: PrometheusCollectorRegistry(), contactCenter: cc, defaultTenant: "t",
                                    tokens: tokens, keyLookups: KeyLookupLimiter(perMinute: 3, now: { 120 }))
        try await Application(router: router).test(.router) { client in
            var codes: [HTTPResponse.Status] = []
            for _ in 0..<5 {
                try await client.execute(uri: "/call-keys/123456", method: .get, headers: APIAuthTests.bearer(a)) { r in
                    codes.append(r.status)
                    if r.status == .tooManyRequests { #expect(r.headers[.retryAfter] == "60") }
                }
            }
            #expect(codes == [.notFound, .notFound, .notFound, .tooManyRequests, .tooManyRequests], "\(codes)")
            try await client.execute(uri: "/call-keys/123456", method: .get, headers: APIAuthTests.bearer(b)) { r in
                #expect(r.status == .notFound, "another token has its own budget")
            }
        }
    }
}
