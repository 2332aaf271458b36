import ContactCenter
import Foundation
import Store
import Synchronization
import Testing

@Suite struct ContactCenterTests {
    final class Clock: Sendable {
        let t = Mutex<Double>(1_000_000)
        func advance(_ s: Double) { t.withLock { $0 += s } }
        var now: @Sendable () -> Double { { self.t.withLock { $0 } } }
    }

    func make(_ clock: Clock, digits: Int = 6) throws -> (ContactCenter, Store) {
        let store = try Store(path: ":memory:")
        var c = ContactCenter.Configuration()
        c.keyTTLSeconds = 60
        c.keyDigits = digits
        return (ContactCenter(store: store, configuration: c, now: clock.now), store)
    }

    @Test func callDataMergesAndKeyRedeemsIt() async throws {
        let clock = Clock()
        let (cc, _) = try make(clock)
        _ = try await cc.updateCallData(call: "c1", tenant: "t1", CallDataUpdate(account: "4711", reason: "billing", transcript: ["hello"]))
        let d = try await cc.updateCallData(call: "c1", tenant: "t1", CallDataUpdate(notes: "angry", transcript: ["my bill is wrong"], fields: ["plan": "gold"]))
        #expect(d.account == "4711" && d.reason == "billing" && d.notes == "angry")
        #expect(d.transcript == ["hello", "my bill is wrong"])
        #expect(d.fields == ["plan": "gold"])
        let key = try await cc.issueKey(call: "c1", tenant: "t1")
        #expect(key.key.count == 6 && key.key.allSatisfy(\.isNumber))
        #expect(key.expires == key.created + 60)
        let (k, data) = try await cc.redeem(key: key.key, tenant: "t1")
        #expect(k.call == "c1" && data == d)
        // Spaces and dashes a person types are ignored.
        let spaced = String(key.key.prefix(3)) + " " + String(key.key.dropFirst(3))
        #expect(try await cc.redeem(key: spaced, tenant: "t1").data.account == "4711")
    }

    /// Category calls spread over the skill's free agents, least recently chosen first; a
    /// busy agent (in a call) is skipped, one logged out or without an AOR never chosen.
    @Test func categoryCallsSpreadOverFreeAgentsLeastRecentlyChosenFirst() async throws {
        let clock = Clock()
        let (cc, _) = try make(clock)
        for id in ["ann", "bob", "cy", "dee"] {
            _ = try await cc.putAgent(Agent(id: id, name: id, aor: id == "dee" ? nil : "\(id)@example.com", skills: ["billing"]))
            if id != "cy" { _ = try await cc.setLogin(agent: id, system: "desktop", loggedIn: true) }
        }
        let everyone: ([Agent]) async -> Set<String> = { Set($0.map(\.id)) }
        var order: [String] = []
        for _ in 0..<4 {
            clock.advance(1)
            order.append(await cc.pick(skill: "billing", isFree: everyone)?.id ?? "-")
        }
        #expect(order == ["ann", "bob", "ann", "bob"], "cy is logged out, dee has no AOR: \(order)")
        clock.advance(1)
        #expect(await cc.pick(skill: "billing") { agents in Set(agents.map(\.id).filter { $0 != "ann" }) }?.id == "bob",
                "ann is next by rotation but busy")
        #expect(await cc.pick(skill: "billing") { _ in [] } == nil, "nobody free")
        #expect(await cc.pick(skill: "plumbing", isFree: everyone) == nil)
    }

    /// A transfer's key is bound to the agent it was made for: another agent cannot redeem
    /// it (it is unknown to them), the agent and a requester that is no agent can.
    @Test func aKeyMadeForAnAgentIsUnknownToOtherAgents() async throws {
        let clock = Clock()
        let (cc, _) = try make(clock)
        _ = try await cc.updateCallData(call: "c1", tenant: "t1", CallDataUpdate(account: "4711"))
        let key = try await cc.issueKey(call: "c1", tenant: "t1", agent: "ann")
        await #expect(throws: ContactCenterError.notFound("Unknown call key \(key.key)")) {
            try await cc.redeem(key: key.key, tenant: "t1", agent: "bob")
        }
        #expect(try await cc.redeem(key: key.key, tenant: "t1", agent: "Ann").data.account == "4711")
        #expect(try await cc.redeem(key: key.key, tenant: "t1").data.account == "4711", "an application token")
        let open = try await cc.issueKey(call: "c1", tenant: "t1")
        #expect(try await cc.redeem(key: open.key, tenant: "t1", agent: "bob").data.account == "4711", "a key for no one in particular")
    }

    @Test func keysAreSingleTenantExpireAndRejectJunk() async throws {
        let clock = Clock()
        let (cc, _) = try make(clock)
        _ = try await cc.updateCallData(call: "c1", tenant: "t1", CallDataUpdate(account: "secret"))
        let key = try await cc.issueKey(call: "c1", tenant: "t1", ttl: 5)
        await #expect(throws: ContactCenterError.notFound("Unknown call key \(key.key)")) {
            try await cc.redeem(key: key.key, tenant: "t2")
        }
        let other = key.key == "000000" ? "000001" : "000000"
        await #expect(throws: ContactCenterError.notFound("Unknown call key \(other)")) { try await cc.redeem(key: other, tenant: "t1") }
        await #expect(throws: ContactCenterError.self) { try await cc.redeem(key: "12ab", tenant: "t1") }
        await #expect(throws: ContactCenterError.self) { try await cc.issueKey(call: "c1", tenant: "t1", ttl: 0) }
        clock.advance(5)
        await #expect(throws: ContactCenterError.expired("Call key \(key.key) expired")) {
            try await cc.redeem(key: key.key, tenant: "t1")
        }
    }

    @Test func liveKeysAreUniqueAndExpiredOnesReused() async throws {
        let clock = Clock()
        let (cc, _) = try make(clock, digits: 4)
        var seen = Set<String>()
        // 300 live 4-digit keys: every one distinct (collisions are redrawn).
        for i in 0..<300 { seen.insert(try await cc.issueKey(call: "c\(i)", tenant: "t").key) }
        #expect(seen.count == 300)
        clock.advance(61)
        // All expired: drawing continues (expired keys may be reused) and the new key wins.
        let k = try await cc.issueKey(call: "new", tenant: "t")
        #expect(try await cc.redeem(key: k.key, tenant: "t").key.call == "new")
    }

    @Test func agentsLoginsAndCategoriesPersist() async throws {
        let clock = Clock()
        let (cc, store) = try make(clock)
        _ = try await cc.putAgent(Agent(id: "a1", name: "Ann", aor: "sip:Agent1@Example.com", skills: ["billing"]))
        #expect(!cc.agent(id: "a1")!.available)
        _ = try await cc.setLogin(agent: "a1", system: "desktop", loggedIn: true)
        await cc.registrationChanged(aor: "agent1@example.com", registered: true)
        let a = cc.agent(id: "a1")!
        #expect(a.logins["desktop"]?.state == .loggedIn && a.logins["sip-phone"]?.state == .loggedIn)
        #expect(cc.available(skill: "billing").map(\.id) == ["a1"])
        // Replacing the agent keeps its logins (one record over every system).
        _ = try await cc.putAgent(Agent(id: "a1", name: "Ann B", aor: "agent1@example.com", skills: ["billing", "sales"]))
        #expect(cc.agent(id: "a1")!.logins.count == 2)
        _ = try await cc.putCategory(ServiceCategory(id: "billing", name: "Billing", contacts: ["sip:billing@example.com"], hours: "Mo-Fr"))
        await #expect(throws: ContactCenterError.self) { try await cc.putCategory(ServiceCategory(id: "x y", name: "bad")) }
        await #expect(throws: ContactCenterError.self) { try await cc.putCategory(ServiceCategory(id: "x", name: "X", contacts: ["http://x"])) }
        await #expect(throws: ContactCenterError.self) { try await cc.putAgent(Agent(id: "a2", name: "", aor: nil)) }
        await #expect(throws: ContactCenterError.notFound("Unknown agent nobody")) {
            try await cc.setLogin(agent: "nobody", system: "desktop", loggedIn: true)
        }
        // A second instance on the same store sees the same records.
        let again = ContactCenter(store: store, now: clock.now)
        try await again.load()
        #expect(again.agent(id: "a1")?.name == "Ann B" && again.agent(id: "a1")?.logins.count == 2)
        #expect(again.categories().map(\.id) == ["billing"])
        #expect(try await again.deleteCategory(id: "billing"))
        #expect(try await again.deleteCategory(id: "billing") == false)
    }
}
