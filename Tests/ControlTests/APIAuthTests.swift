import Calls
import ContactCenter
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Prediction
import Prometheus
import SIP
import Store
import Synchronization
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
                #expect(r.status == .tooManyRequests, "another token from the same client address: the address's budget is spent")
            }
        }
    }

    /// Each look-up counts against the client's address and its token; either spent is 429:
    /// a client cannot get around the limit with more tokens, nor with more addresses.
    @Test func addressAndTokenBudgetsBothHold() {
        let limiter = KeyLookupLimiter(perMinute: 3, now: { 120 })
        for _ in 0..<3 { #expect(limiter.take(["address:10.0.0.1", "token:a"]) == nil) }
        #expect(limiter.take(["address:10.0.0.1", "token:b"]) == 60, "same address, new token")
        #expect(limiter.take(["address:10.0.0.2", "token:a"]) == 60, "same token, new address")
        #expect(limiter.take(["address:10.0.0.3", "token:c"]) == nil, "a fresh client")
    }
}

/// The agent desktop logs in with the agent's SIP password (issue 19): a session token bound
/// to the agent, refused passwords, a block after repeated failures, logout ending the session.
@Suite struct DesktopLoginTests {
    static func post(_ client: some TestClientProtocol, _ agent: String, _ password: String) async throws -> (HTTPResponse.Status, [String: Any], String?) {
        try await client.execute(uri: "/login", method: .post, headers: [.contentType: "application/json"],
                                 body: APIAuthTests.body(["agent": agent, "password": password])) { r in
            (r.status, APIAuthTests.json(r), r.headers[.retryAfter])
        }
    }

    @Test func theAgentsSIPPasswordGivesASessionBoundToTheAgent() async throws {
        let store = try Store(path: ":memory:")
        let clock = Mutex(1000.0)
        let tokens = APITokens(store: nil, now: { clock.withLock { $0 } })
        let users = SIPUsers(store: store)
        try await users.put(user: "ann", realm: "baton", password: "ann-secret")
        try await users.put(user: "bob", realm: "baton", password: "bob-secret")
        let cc = ContactCenter(store: try Store(path: ":memory:"))
        _ = try await cc.putAgent(Agent(id: "agent1", name: "Ann", aor: "sip:ann@127.0.0.1"))
        _ = try await cc.putAgent(Agent(id: "bob", name: "Bob"))
        let login = DesktopLogin(users: users, tokens: tokens, sessionSeconds: 600, maxFailures: 2, blockSeconds: 60,
                                 now: { clock.withLock { $0 } })
        let calls = try testCalls(ports: TestPorts.range(20))
        let router = HTTPAPI.router(calls: calls, registry: PrometheusCollectorRegistry(), contactCenter: cc, defaultTenant: "t",
                                    tokens: tokens, login: login)
        try await Application(router: router).test(.router) { client in
            // The password of the SIP user named by the agent's AOR (ann), not the agent id's.
            let (ok, body, _) = try await Self.post(client, "agent1", "ann-secret")
            #expect(ok == .ok, "\(body)")
            let token = try #require(body["token"] as? String)
            #expect((body["agent"] as? [String: Any])?["id"] as? String == "agent1")
            // The session is an agent token: its own logins, nobody else's, no admin work.
            try await client.execute(uri: "/agents/agent1/logins/desktop", method: .put, headers: APIAuthTests.bearer(token),
                                     body: APIAuthTests.body(["state": "logged-in"])) { #expect($0.status == .ok) }
            try await client.execute(uri: "/agents/bob/logins/desktop", method: .put, headers: APIAuthTests.bearer(token),
                                     body: APIAuthTests.body(["state": "logged-in"])) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/agents/mallory", method: .put, headers: APIAuthTests.bearer(token),
                                     body: APIAuthTests.body(["name": "M"])) { #expect($0.status == .forbidden) }
            // Wrong password, unknown agent, and an agent whose SIP user has another password: one answer.
            #expect(try await Self.post(client, "agent1", "bob-secret").0 == .unauthorized)
            #expect(try await Self.post(client, "nobody", "x").0 == .unauthorized)
            // A second failure in a row for agent1 (maxFailures 2): blocked, even with the right password, until the minute is over.
            #expect(try await Self.post(client, "agent1", "guess").0 == .unauthorized)
            let (blocked, _, retry) = try await Self.post(client, "agent1", "ann-secret")
            #expect(blocked == .tooManyRequests && retry == "60")
            #expect(try await Self.post(client, "bob", "bob-secret").0 == .ok, "another agent is not blocked")
            clock.withLock { $0 += 61 }
            #expect(try await Self.post(client, "agent1", "ann-secret").0 == .ok)
            // Logout ends the session: its token is refused from then on.
            try await client.execute(uri: "/logout", method: .post, headers: APIAuthTests.bearer(token)) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/agents", method: .get, headers: APIAuthTests.bearer(token)) { #expect($0.status == .unauthorized) }
            // A session expires.
            let (_, second, _) = try await Self.post(client, "bob", "bob-secret")
            let bobToken = try #require(second["token"] as? String)
            try await client.execute(uri: "/agents", method: .get, headers: APIAuthTests.bearer(bobToken)) { #expect($0.status == .ok) }
            clock.withLock { $0 += 601 }
            try await client.execute(uri: "/agents", method: .get, headers: APIAuthTests.bearer(bobToken)) { #expect($0.status == .unauthorized) }
        }
    }
}

/// SIP users over the HTTP API (issue 19): admin tokens only, passwords in, HA1s never out.
@Suite struct UsersAPITests {
    @Test func adminsManageUsersAndNobodyElseSeesThem() async throws {
        let tokens = APITokens(store: nil)
        let (admin, _) = try await tokens.create(name: "ops", role: .admin, tenant: "t")
        let (reader, _) = try await tokens.create(name: "grafana", role: .readOnly, tenant: "t")
        let (bot, _) = try await tokens.create(name: "bot", role: .application, tenant: "t")
        let store = try Store(path: ":memory:")
        let users = SIPUsers(store: store)
        let calls = try testCalls(ports: TestPorts.range(20))
        let router = HTTPAPI.router(calls: calls, registry: PrometheusCollectorRegistry(), defaultTenant: "t", tokens: tokens,
                                    users: users, realm: "baton.test")
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/users/carol", method: .put, headers: APIAuthTests.bearer(admin),
                                     body: APIAuthTests.body(["password": "carol-pw"])) { r in
                #expect(r.status == .ok, "\(String(buffer: r.body))")
                let j = APIAuthTests.json(r)
                #expect(j["user"] as? String == "carol" && j["realm"] as? String == "baton.test")
                #expect(j["algorithms"] as? [String] == ["MD5", "SHA-256"])
                #expect(!String(buffer: r.body).contains(SIPCredentials(user: "carol", realm: "baton.test", password: "carol-pw").ha1[.md5]!))
            }
            #expect(users.verify(user: "carol", password: "carol-pw") && !users.verify(user: "carol", password: "x"))
            #expect(try await store.sipUsers().map(\.user) == ["carol"], "kept in the store")
            for t in [reader, bot] {
                try await client.execute(uri: "/users", method: .get, headers: APIAuthTests.bearer(t)) { #expect($0.status == .forbidden) }
                try await client.execute(uri: "/users/mallory", method: .put, headers: APIAuthTests.bearer(t),
                                         body: APIAuthTests.body(["password": "p"])) { #expect($0.status == .forbidden) }
            }
            try await client.execute(uri: "/users", method: .get, headers: APIAuthTests.bearer(admin)) { r in
                let list = (try? JSONSerialization.jsonObject(with: Data(buffer: r.body))) as? [[String: Any]]
                #expect(list?.map { $0["user"] as? String } == ["carol"])
            }
            try await client.execute(uri: "/users/bad%20name", method: .put, headers: APIAuthTests.bearer(admin),
                                     body: APIAuthTests.body(["password": "p"])) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/users/carol", method: .delete, headers: APIAuthTests.bearer(admin)) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/users/carol", method: .delete, headers: APIAuthTests.bearer(admin)) { #expect($0.status == .notFound) }
            // Devices under /users/<user>/devices keep their rules (reads for every token).
            try await client.execute(uri: "/users/carol/devices", method: .get, headers: APIAuthTests.bearer(reader)) { #expect($0.status != .forbidden) }
        }
    }
}

/// An agent's token moves only its own side of its own calls (issue 19: the REFER rules
/// over HTTP); application tokens are not limited by it.
@Suite struct AgentMoveRulesTests {
    @Test func anAgentMovesOnlyItsOwnSideToItsOwnDevices() async throws {
        let tokens = APITokens(store: nil)
        let (ann, _) = try await tokens.create(name: "ann", role: .agent, tenant: "t", agent: "ann")
        let (bot, _) = try await tokens.create(name: "bot", role: .application, tenant: "t")
        let calls = try testCalls(ports: TestPorts.range(20))
        let cc = ContactCenter(store: try Store(path: ":memory:"))
        _ = try await cc.putAgent(Agent(id: "ann", name: "Ann", aor: "sip:ann@example.com"))
        let peer = LegControl.sip(SIPPeer(transport: .udp, host: "127.0.0.1", port: 5070))
        calls.callEvent(.started(id: "other", from: "<sip:alice@x>;tag=1", to: "<sip:bot@x>", callerCallID: "c1", caller: peer))
        calls.callEvent(.started(id: "hers", from: "<sip:alice@x>;tag=2", to: "<sip:ann@example.com>", callerCallID: "c2", caller: peer))
        let router = HTTPAPI.router(calls: calls, registry: PrometheusCollectorRegistry(), contactCenter: cc, defaultTenant: "t",
                                    tokens: tokens)
        try await Application(router: router).test(.router) { client in
            func post(_ path: String, _ token: String, _ body: [String: Any]) async throws -> (HTTPResponse.Status, String) {
                try await client.execute(uri: path, method: .post, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                                         body: APIAuthTests.body(body)) { ($0.status, String(buffer: $0.body)) }
            }
            // Someone else's call, whatever the target.
            #expect(try await post("/calls/other/switchover", ann, ["target": "speaker"]).0 == .forbidden)
            #expect(try await post("/calls/other/transfer", ann, ["agent": "bob"]).0 == .forbidden)
            // Her call, the caller's side: not hers.
            #expect(try await post("/calls/hers/switchover", ann, ["target": "speaker", "leg": "caller"]).0 == .forbidden)
            // Her side to a number that is no device of hers (the toll-fraud REFER, over HTTP).
            let (premium, why) = try await post("/calls/hers/switchover", ann, ["target": "sip:19005550100@carrier.example"])
            #expect(premium == .forbidden && why.contains("19005550100"), "\(why)")
            // Her side to her own device, or a transfer of her side: past authorization (this
            // router has no switchover service, hence not 403 but its 404 "not enabled").
            for (path, body) in [("switchover", ["target": "speaker"]), ("switchover", ["target": "sip:ann@example.com"]),
                                 ("transfer", ["agent": "bob"])] {
                let (status, text) = try await post("/calls/hers/\(path)", ann, body)
                #expect(status == .notFound && text.contains("not enabled"), "\(path) \(body): \(status) \(text)")
            }
            // An application token is not an agent: no party check.
            #expect(try await post("/calls/other/switchover", bot, ["target": "sip:19005550100@carrier.example"]).1.contains("not enabled"))
            // A client's own X-Baton-Agent header is replaced by the token's (none for an application).
            try await client.execute(uri: "/calls/other/switchover", method: .post,
                                     headers: [.authorization: "Bearer \(bot)", .contentType: "application/json",
                                               HTTPField.Name("X-Baton-Agent")!: "mallory"],
                                     body: APIAuthTests.body(["target": "speaker"])) { #expect(String(buffer: $0.body).contains("not enabled")) }
        }
    }
}

/// Dialog records and transfer probabilities over the API (issue 20, first part): a bot's
/// reports change the call's summary and its probabilities; bad reports, unknown calls and a
/// flood are refused; without a model the probabilities are a 409.
@Suite struct DialogPredictionTests {
    @Test func reportsMoveTheProbabilitiesAndBadInputIsRefused() async throws {
        let calls = try testCalls(ports: TestPorts.range(20))
        let store = try Store(path: ":memory:")
        // A clock that stands still: the flood below is 12 reports "in one second" however
        // slowly a loaded machine sends them.
        let cc = ContactCenter(store: store, now: { 1_800_000_000 })
        _ = try await cc.putCategory(ServiceCategory(id: "billing", name: "Billing"))
        let models = TransferModels(store: store)
        let router = HTTPAPI.router(calls: calls, registry: PrometheusCollectorRegistry(), contactCenter: cc, models: models)
        calls.callEvent(.started(id: "c1", from: "<sip:alice@x>;tag=1", to: "<sip:bot@x>", callerCallID: "cid",
                                 caller: .sip(SIPPeer(transport: .udp, host: "127.0.0.1", port: 5070))))
        try await Application(router: router).test(.router) { client in
            func report(_ body: [String: Any], call: String = "c1") async throws -> (HTTPResponse.Status, [String: Any]) {
                try await client.execute(uri: "/calls/\(call)/dialog", method: .post, headers: [.contentType: "application/json"],
                                         body: APIAuthTests.body(body)) { ($0.status, APIAuthTests.json($0)) }
            }
            func predictions() async throws -> (HTTPResponse.Status, [String: Any]) {
                try await client.execute(uri: "/calls/c1/predictions", method: .get) { ($0.status, APIAuthTests.json($0)) }
            }
            #expect(try await predictions().0 == .conflict, "no model yet")
            // A model where asking for a person and not being understood raise the odds.
            _ = try await models.install(TransferModel(features: TransferFeatures.names,
                                                       weights: [0.5, 2.5, 1, 0.3, 1, 0.05, 0.6, 2], intercept: -4))
            let (s0, before) = try await predictions()
            #expect(s0 == .ok)
            let p0 = try #require((before["candidates"] as? [[String: Any]])?.first?["probability"] as? Double)
            #expect((before["candidates"] as? [[String: Any]])?.first?["candidate"] as? String == "category:billing")
            #expect(try await report(["noMatch": true, "intent": "fallback"]).0 == .ok)
            let (s1, result) = try await report(["humanRequested": true, "sentiment": -0.8, "transcript": "I want a person"])
            let summary = result["summary"] as? [String: Any] ?? [:]
            #expect(s1 == .ok && summary["noMatch"] as? Int == 1 && summary["humanRequested"] as? Bool == true, "\(result)")
            #expect(result["decision"] == nil, "no switchover service, no rules: nothing decided")
            let (_, after) = try await predictions()
            let p1 = try #require((after["candidates"] as? [[String: Any]])?.first?["probability"] as? Double)
            #expect(p1 > p0 + 0.3, "p \(p0) -> \(p1)")
            #expect((after["features"] as? [String: Double])?["human_request"] == 1)
            // Stored, in order.
            try await client.execute(uri: "/calls/c1/dialog", method: .get) { r in
                let records = APIAuthTests.json(r)["records"] as? [[String: Any]]
                #expect(records?.count == 2 && (records?[1]["report"] as? [String: Any])?["transcript"] as? String == "I want a person")
            }
            // Bad input: a sentiment out of range, an empty report, an unknown call.
            #expect(try await report(["sentiment": 3]).0 == .badRequest)
            #expect(try await report([:]).0 == .badRequest)
            #expect(try await report(["noMatch": true], call: "nope").0 == .notFound)
            // A flood: more than 10 a second for one call.
            var codes: [HTTPResponse.Status] = []
            for _ in 0..<12 { codes.append(try await report(["noInput": true]).0) }
            #expect(codes.contains(.tooManyRequests), "\(codes)")
        }
    }
}
