import Foundation
import Logging
@testable import PostgresStore
import Testing
import TestSupport
@testable import Store

/// The store protocols' contract, checked on both backends: SQLite always, PostgreSQL on a
/// private cluster (tools/pg-cluster.sh) when Debian's server is installed (a failure under
/// CI=true when it is not, a skip note elsewhere).
@Suite(.serialized) struct StoreContractTests {
    static let logger = { var l = Logger(label: "test.store"); if ProcessInfo.processInfo.environment["PGDEBUG"] != nil { l.logLevel = .debug }; return l }()

    @Test func sqliteKeepsTheContract() async throws {
        try await Self.contract(try Store(path: ":memory:"))
    }

    @Test func postgresKeepsTheContractAndTellsOtherGatewaysWhatChanged() async throws {
        guard let pg = try Self.cluster("contract") else { return }
        defer { pg.stop() }
        let a = try await PostgresStore.open(url: pg.url, logger: Self.logger)
        // A second gateway on the same database: migrations already done, nothing re-created.
        let b = try await PostgresStore.open(url: pg.url, logger: Self.logger)
        defer { Task { await a.close(); await b.close() } }
        var changes = b.changes().makeAsyncIterator()
        #expect(await changes.next() == StoreChange(table: "*", key: ""))   // listening: reload everything
        try await Self.contract(a)
        // What A wrote, B was told about, row by row (the caches of users, agents... reload).
        let want: Set = ["registrations", "devices", "forwarding", "agents", "categories", "sip_users", "api_tokens",
                         "stored_settings", "transfer_models"]
        var seen = Set<String>()
        while !seen.isSuperset(of: want), let c = await Self.next(&changes) { seen.insert(c.table) }
        #expect(seen.isSuperset(of: want))
        #expect(try pg.psql("SELECT count(*) FROM baton_migrations") == "\(PostgresSchema.migrations.count)")
        // Two gateways drawing the same call key at once: exactly one gets it.
        let k = CallKeyRecord(key: "RACE1", tenant: "t", callID: "c", created: 1, expires: 1000)
        async let x = a.insertKey(k, now: 10)
        async let y = b.insertKey(k, now: 10)
        let won = try await [x, y].filter { $0 }.count
        #expect(won == 1)
        // Two gateways installing a model at once get two versions.
        async let m1 = a.insertTransferModel(json: "{}", created: 1)
        async let m2 = b.insertTransferModel(json: "{}", created: 2)
        #expect(try await Set([m1, m2]).count == 2)
    }

    @Test func postgresHeartbeatsAndALostGatewayIsClaimedOnce() async throws {
        guard let pg = try Self.cluster("cluster") else { return }
        defer { pg.stop() }
        let a = try await PostgresStore.open(url: pg.url, logger: Self.logger)
        let b = try await PostgresStore.open(url: pg.url, logger: Self.logger)
        defer { Task { await a.close(); await b.close() } }
        let ga = GatewayRecord(id: "a", sip: "127.0.0.1:5060", http: "127.0.0.1:8080")
        #expect(try await a.heartbeat(ga))
        #expect(try await b.heartbeat(GatewayRecord(id: "b", sip: "127.0.0.1:5070", http: "127.0.0.1:8081")))
        #expect(await b.apply([.anchor(CallAnchorRecord(callID: "c1", gateway: "a", caller: "{}", callee: "{}", updated: 1))]).isEmpty)
        #expect(try await b.anchoringGateway(callID: "c1")?.http == "127.0.0.1:8080")
        // Fresh beats, and a database that started moments ago: nobody is dead.
        #expect(try await b.claimDeadGateways(except: "b", staleAfter: 0.5).isEmpty)
        try await Task.sleep(for: .milliseconds(1100))   // 2 x staleAfter since the server started
        #expect(try await b.heartbeat(GatewayRecord(id: "b", sip: "127.0.0.1:5070", http: "127.0.0.1:8081")))
        // A stopped beating 1.6 s ago: B claims it, once; a second claim finds nothing.
        async let c1 = b.claimDeadGateways(except: "b", staleAfter: 0.5)
        async let c2 = b.claimDeadGateways(except: "b", staleAfter: 0.5)
        let claims = try await [c1, c2]
        #expect(claims.flatMap { $0 } == ["a"])
        #expect(try await b.anchoringGateway(callID: "c1") == nil)   // a dead gateway anchors nothing
        #expect(try await b.anchors(gateway: "a").map(\.callID) == ["c1"])
        // A was alive after all: its next beat learns it was declared dead, the one after is normal.
        #expect(try await !a.heartbeat(ga))
        #expect(try await a.heartbeat(ga))
        try await b.deleteAnchors(gateway: "a")
        #expect(try await b.anchors(gateway: "a").isEmpty)
    }

    @Test func postgresUnreachableAtStartIsAClearError() async throws {
        let port = TestPorts.base(2)   // nothing listens there
        let started = ContinuousClock.now
        await #expect(throws: StoreError.self) {
            _ = try await PostgresStore.open(url: "postgres://baton:secret@127.0.0.1:\(port)/baton", logger: Self.logger,
                                             connectTimeout: .seconds(1))
        }
        #expect(ContinuousClock.now - started < .seconds(5))
        do {
            _ = try await PostgresStore.open(url: "postgres://baton:secret@127.0.0.1:\(port)/baton", logger: Self.logger,
                                             connectTimeout: .seconds(1))
        } catch {
            #expect(!"\(error)".contains("secret"))   // the password never reaches a log
            #expect("\(error)".contains("127.0.0.1:\(port)"))
        }
        #expect(throws: StoreError.self) { _ = try PostgresStore.Address(url: "mysql://x@h/db") }
        #expect(throws: StoreError.self) { _ = try PostgresStore.Address(url: "postgres://h/db") }
        #expect(throws: StoreError.self) { _ = try PostgresStore.Address(url: "postgres://u@h/db?sslmode=maybe") }
        let a = try PostgresStore.Address(url: "postgresql://u:p%40ss@db.example:6543/baton?sslmode=require")
        #expect(a.host == "db.example" && a.port == 6543 && a.user == "u" && a.password == "p@ss" && a.database == "baton" && a.sslMode == "require")
    }

    @Test func postgresOutageIsSeenAndOutlived() async throws {
        guard let pg = try Self.cluster("outage") else { return }
        defer { pg.stop() }
        let store = try await PostgresStore.open(url: pg.url, logger: Self.logger, connectTimeout: .seconds(1))
        defer { Task { await store.close() } }
        try await store.save(AgentRecord(id: "a1", name: "Ann", aor: nil, skills: "[]", logins: "{}"))
        pg.pause(immediate: true)
        let t0 = ContinuousClock.now
        await #expect(throws: (any Error).self) { _ = try await store.agents() }
        #expect(ContinuousClock.now - t0 < .seconds(4))   // the query timeout (2 s), not the pool's 60 s
        #expect(!store.isAvailable)
        try await Task.sleep(for: .seconds(5))   // an outage of some seconds
        try pg.restart()
        // Back within the pool's reconnect: the row written before the outage is there.
        var agents: [AgentRecord] = []
        for _ in 0..<50 where agents.isEmpty {
            do { agents = try await store.agents() } catch { print("outage poll: \(error)") }
            if agents.isEmpty { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(agents.map(\.id) == ["a1"])
        #expect(store.isAvailable)
    }

    // MARK: Helpers

    static func cluster(_ tag: String) throws -> PostgresCluster? { try PostgresCluster.forTest(tag) }

    /// The next change within 5 s, nil past that.
    static func next(_ it: inout AsyncStream<StoreChange>.Iterator) async -> StoreChange? {
        let box = UnsafeSendableBox(it)
        let got = await withTaskGroup(of: StoreChange?.self) { g in
            g.addTask { var i = box.value; let c = await i.next(); box.value = i; return c }
            g.addTask { try? await Task.sleep(for: .seconds(5)); return nil }
            defer { g.cancelAll() }
            return await g.next() ?? nil
        }
        it = box.value
        return got
    }

    /// Every protocol method once, with the answers a second gateway (or a restart) relies on.
    static func contract(_ s: any BatonStore) async throws {
        // Registrations: upsert per (aor, contact), expired ones purged.
        let reg = RegistrationRecord(aor: "bob@h", contact: "sip:bob@127.0.0.1:5070", transport: "udp", sourceHost: "127.0.0.1",
                                     sourcePort: 5070, expires: 2000, callID: "c", cseq: 1)
        try await s.save(reg)
        var reg2 = reg; reg2.transport = "tcp"; reg2.cseq = 2; reg2.path = "[\"<sip:127.0.0.9:5090;lr>\"]"
        try await s.save(reg2)
        try await s.save(RegistrationRecord(aor: "old@h", contact: "sip:old@h", transport: "udp", sourceHost: "h", sourcePort: 1,
                                            expires: 500, callID: "o", cseq: 1))
        #expect(try await s.registrations(validAt: 1000) == [reg2])
        #expect(try await s.registrations(aor: "bob@h", validAt: 1000) == [reg2])
        #expect(try await s.registrations(aor: "old@h", validAt: 1000).isEmpty)
        try await s.deleteRegistration(aor: "bob@h", contact: reg.contact)
        #expect(try await s.registrations(validAt: 1000).isEmpty)
        try await s.save(reg2)

        // Calls: batched writes in order, the last version of a record wins, events kept in order.
        var call = CallRecord(id: "c1", caller: "a", callee: "b", callerCallID: "x", started: 10)
        var ended = call; ended.ended = 20; ended.reason = "BYE"; ended.hungUpBy = "caller"
        let failed = await s.apply([.call(call), .event(CallEventRecord(callID: "c1", time: 11, kind: "switchover", operation: "op1")),
                                    .call(ended), .event(CallEventRecord(callID: "c1", time: 12, kind: "done", detail: "{}"))])
        #expect(failed.isEmpty)
        #expect(try await s.call(id: "c1") == ended)
        #expect(try await s.call(id: "none") == nil)
        #expect(try await s.events(call: "c1").map(\.kind) == ["switchover", "done"])
        #expect(try await s.events(call: "c1").first?.operation == "op1")
        // A batch of several calls, anchors and a release (PostgreSQL: one statement per kind).
        var many: [CallRecord] = []
        for i in 0..<3 {
            var r = CallRecord(id: "b\(i)", caller: "a", callee: "b", callerCallID: "x\(i)", started: Double(1 + i))
            if i == 1 { r.answered = 1.5 }
            if i == 2 { r.hungUpBy = "callee" }
            many.append(r)
        }
        let anchor = { (id: String) in CallAnchorRecord(callID: id, gateway: "g1", caller: "{\"a\":1}", callee: "{}", updated: 1) }
        var batch: [StoreWrite] = many.map { StoreWrite.call($0) }
        batch += [.anchor(anchor("b0")), .anchor(anchor("b1")), .releaseAnchor(callID: "b0"),
                  .event(CallEventRecord(callID: "b1", time: 2, kind: "k1")), .event(CallEventRecord(callID: "b1", time: 3, kind: "k2"))]
        #expect(await s.apply(batch).isEmpty)
        for r in many { #expect(try await s.call(id: r.id) == r) }
        #expect(try await s.anchors(gateway: "g1").map(\.callID) == ["b1"])
        #expect(try await s.anchors(gateway: "g1").first?.caller == "{\"a\":1}")
        #expect(try await s.events(call: "b1").map(\.kind) == ["k1", "k2"])
        try await s.deleteAnchors(gateway: "g1")
        call.id = "c2"; call.started = 30
        try await s.save(call)
        #expect(try await s.calls(limit: 10).map(\.id).filter { $0.hasPrefix("c") } == ["c2", "c1"])

        // Devices, forwarding rules.
        try await s.save(DeviceRecord(user: "alice", id: "speaker", aor: "kitchen@h", kind: "speaker", priority: 2))
        try await s.save(DeviceRecord(user: "alice", id: "phone", aor: "alice@h", kind: "phone", priority: 1))
        try await s.save(DeviceRecord(user: "alice", id: "phone", aor: "alice2@h", kind: "phone", priority: 1))
        #expect(try await s.devices().map(\.aor) == ["alice2@h", "kitchen@h"])
        #expect(try await s.deleteDevice(user: "alice", id: "speaker"))
        #expect(try await !s.deleteDevice(user: "alice", id: "speaker"))
        try await s.save(ForwardingRecord(number: "+1555", on: "no-answer", to: "+1666", afterSeconds: 10))
        try await s.save(ForwardingRecord(number: "+1555", on: "no-answer", to: "+1777", afterSeconds: 5))
        #expect(try await s.forwardingRules() == [ForwardingRecord(number: "+1555", on: "no-answer", to: "+1777", afterSeconds: 5)])
        #expect(try await s.deleteForwarding(number: "+1555", on: "no-answer"))
        try await s.save(ForwardingRecord(number: "+1555", on: "user-busy", to: "+1888", afterSeconds: 0))

        // Identity cache: used once, not after it expires.
        try await s.keepIdentities(orig: "+1", dest: "+2", values: ["id1", "id2"], expires: 100)
        #expect(try await s.takeIdentities(orig: "+1", dest: "+2", now: 50) == ["id1", "id2"])
        #expect(try await s.takeIdentities(orig: "+1", dest: "+2", now: 50) == nil)
        try await s.keepIdentities(orig: "+1", dest: "+2", values: ["id3"], expires: 100)
        #expect(try await s.takeIdentities(orig: "+1", dest: "+2", now: 150) == nil)

        // Forwarding history, tokens, SIP users.
        try await s.addForwardingCounts(number: "+1555", calls: 3, forwards: 2, at: 1)
        try await s.addForwardingCounts(number: "+1555", calls: 1, forwards: 0, at: 2)
        #expect(try await s.forwardingCounts().map { "\($0.number)=\($0.calls)/\($0.forwards)" } == ["+1555=4/2"])
        let tok = APITokenRecord(id: "t1", name: "ops", role: "admin", tenant: "default", agent: nil, hash: "ab", created: 1)
        try await s.save(tok)
        #expect(try await s.apiTokens() == [tok])
        #expect(try await s.deleteAPIToken(id: "t1"))
        #expect(try await s.apiTokens().isEmpty)
        let user = SIPUserRecord(user: "alice", realm: "baton", ha1MD5: "m", ha1SHA256: "s", created: 1)
        try await s.save(user)
        #expect(try await s.sipUsers() == [user])
        #expect(try await s.deleteSIPUser("alice"))
        try await s.save(user)

        // Contact center: agents, categories, call data, keys, dialog records, transfers, samples, settings.
        try await s.save(AgentRecord(id: "a1", name: "Ann", aor: "ann@h", skills: "[\"billing\"]", logins: "{}"))
        try await s.save(AgentRecord(id: "a0", name: "Al", aor: nil, skills: "[]", logins: "{\"desktop\":\"ready\"}"))
        #expect(try await s.agents().map(\.id) == ["a0", "a1"])
        #expect(try await s.agents().first?.aor == nil)
        #expect(try await s.deleteAgent(id: "a0"))
        try await s.save(CategoryRecord(id: "billing", name: "Billing", description: "", contacts: "[]", hours: nil))
        #expect(try await s.categories().map(\.name) == ["Billing"])
        #expect(try await s.deleteCategory(id: "billing"))
        try await s.save(CategoryRecord(id: "sales", name: "Sales", description: "d", contacts: "[\"sip:s@h\"]", hours: "9-17"))
        try await s.save(CallDataRecord(tenant: "t", callID: "c1", data: "{\"a\":1}", updated: 1))
        try await s.save(CallDataRecord(tenant: "t", callID: "c1", data: "{\"a\":2}", updated: 2))
        #expect(try await s.callData(tenant: "t", callID: "c1")?.data == "{\"a\":2}")
        #expect(try await s.callData(tenant: "u", callID: "c1") == nil)
        let key = CallKeyRecord(key: "K1", tenant: "t", callID: "c1", created: 1, expires: 100, agent: "a1")
        #expect(try await s.insertKey(key, now: 1))
        #expect(try await !s.insertKey(CallKeyRecord(key: "K1", tenant: "t", callID: "c9", created: 2, expires: 100), now: 2))
        #expect(try await s.callKey("K1") == key)
        // An expired key's text may be drawn again.
        #expect(try await s.insertKey(CallKeyRecord(key: "K1", tenant: "t", callID: "c9", created: 200, expires: 300), now: 200))
        #expect(try await s.callKey("K1")?.callID == "c9")
        #expect(try await s.callKey("nope") == nil)
        for i in 0..<3 { try await s.append(DialogRecord(callID: "c1", time: Double(i), kind: "bot", detail: "{\"i\":\(i)}")) }
        let recs = try await s.dialogRecords(callID: "c1", limit: 2)
        #expect(recs.map(\.detail) == ["{\"i\":0}", "{\"i\":1}"])
        #expect(recs.allSatisfy { $0.seq != nil })
        try await s.append(TransferRecord(callID: "c1", caller: "alice", candidate: "a1", time: 1))
        try await s.append(TransferRecord(callID: "c2", caller: "bob", candidate: "a1", time: 2))
        try await s.append(TransferRecord(callID: "c3", caller: "bob", candidate: "category:sales", time: 3))
        let counts = try await s.transferCounts(caller: "alice", candidate: "a1")
        #expect(counts.callerToCandidate == 1 && counts.toCandidate == 2 && counts.all == 3)
        try await s.append([TransferSampleRecord(callID: "c1", candidate: "a1", features: "{}", transferred: true, time: 1),
                            TransferSampleRecord(callID: "c1", candidate: "a2", features: "{}", transferred: false, time: 1),
                            TransferSampleRecord(callID: "c2", candidate: "a1", features: "{}", transferred: false, time: 2)])
        let samples = try await s.transferSamples(limit: 2)
        #expect(samples.map(\.callID) == ["c1", "c2"] && samples.map(\.transferred) == [false, false])
        try await s.saveStoredSetting("conversation_rules", value: "[1]", at: 5)
        try await s.saveStoredSetting("conversation_rules", value: "[2]", at: 6)
        #expect(try await s.storedSetting("conversation_rules").map { "\($0.value)@\($0.updated)" } == "[2]@6.0")
        #expect(try await s.storedSetting("none") == nil)

        // Transfer models: versions count up, the newest is in force.
        let v1 = try await s.insertTransferModel(json: "{\"m\":1}", created: 1)
        let v2 = try await s.insertTransferModel(json: "{\"m\":2}", created: 2)
        #expect(v2 == v1 + 1)
        #expect(try await s.latestTransferModel()?.model == "{\"m\":2}")
        #expect(s.isAvailable)
    }
}

/// A mutable box handed across a task boundary in a test helper (one task at a time uses it).
final class UnsafeSendableBox<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
