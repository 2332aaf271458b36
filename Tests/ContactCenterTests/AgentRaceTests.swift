import ContactCenter
import Foundation
import Store
import Synchronization
import Testing

/// Two changes to one agent that overlap in time: the second must build on the first, not on
/// the record both read before either was saved (issue 18: a registration and an
/// unregistration interleaving left the agent logged in).
@Suite struct AgentRaceTests {
    /// A real store whose next agent save, once armed, waits until the test opens the gate:
    /// the first change is held in the middle of its store write while the second one starts.
    final class GatedStore: ContactCenterStore {
        let inner: Store
        private let gate = Mutex<(armed: Bool, open: Bool, waiting: CheckedContinuation<Void, Never>?)>((false, false, nil))
        let entered = AsyncStream<Void>.makeStream()
        init(_ inner: Store) { self.inner = inner }

        func arm() { gate.withLock { $0 = (true, false, nil) } }
        func open() { gate.withLock { g in g.open = true; let w = g.waiting; g.waiting = nil; return w }?.resume() }

        private func passGate() async {
            if gate.withLock({ g in defer { g.armed = false }; return g.armed }) {
                entered.continuation.yield()
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    if gate.withLock({ g in if g.open { return true }; g.waiting = c; return false }) { c.resume() }
                }
            }
        }

        func save(_ r: AgentRecord) async throws {
            await passGate()
            try await inner.save(r)
        }
        func setAgentLogin(id: String, system: String, login: String) async throws -> AgentRecord? {
            await passGate()
            return try await inner.setAgentLogin(id: id, system: system, login: login)
        }
        func agents() async throws -> [AgentRecord] { try await inner.agents() }
        func deleteAgent(id: String) async throws -> Bool { try await inner.deleteAgent(id: id) }
        func save(_ r: CategoryRecord) async throws { try await inner.save(r) }
        func categories() async throws -> [CategoryRecord] { try await inner.categories() }
        func deleteCategory(id: String) async throws -> Bool { try await inner.deleteCategory(id: id) }
        func save(_ r: CallDataRecord) async throws { try await inner.save(r) }
        func append(_ r: DialogRecord) async throws { try await inner.append(r) }
        func dialogRecords(callID: String, limit: Int) async throws -> [DialogRecord] { try await inner.dialogRecords(callID: callID, limit: limit) }
        func append(_ r: TransferRecord) async throws { try await inner.append(r) }
        func transferCounts(caller: String, candidate: String) async throws -> (callerToCandidate: Int, toCandidate: Int, all: Int) {
            try await inner.transferCounts(caller: caller, candidate: candidate)
        }
        func callData(tenant: String, callID: String) async throws -> CallDataRecord? { try await inner.callData(tenant: tenant, callID: callID) }
        func saveStoredSetting(_ name: String, value: String, at time: Double) async throws {
            try await inner.saveStoredSetting(name, value: value, at: time)
        }
        func storedSetting(_ name: String) async throws -> (value: String, updated: Double)? { try await inner.storedSetting(name) }
        func append(_ samples: [TransferSampleRecord]) async throws { try await inner.append(samples) }
        func transferSamples(limit: Int) async throws -> [TransferSampleRecord] { try await inner.transferSamples(limit: limit) }
        func insertKey(_ k: CallKeyRecord, now: Double) async throws -> Bool { try await inner.insertKey(k, now: now) }
        func callKey(_ key: String) async throws -> CallKeyRecord? { try await inner.callKey(key) }
    }

    func make() async throws -> (ContactCenter, GatedStore, Store) {
        let store = try Store(path: ":memory:")
        let gated = GatedStore(store)
        let cc = ContactCenter(store: gated)
        _ = try await cc.putAgent(Agent(id: "a1", name: "Ann", aor: "sip:agent1@example.com", skills: ["billing"]))
        return (cc, gated, store)
    }

    /// Holds `first` inside its store write, starts `second`, lets it run as far as it can
    /// (up to 300 ms: before the fix it finished in that time), then lets `first` finish.
    func interleave(_ gated: GatedStore, first: @escaping @Sendable () async -> Void,
                    second: @escaping @Sendable () async -> Void) async {
        gated.arm()
        let a = Task { await first() }
        var it = gated.entered.stream.makeAsyncIterator()
        _ = await it.next()
        let secondDone = Mutex(false)
        let b = Task { await second(); secondDone.withLock { $0 = true } }
        let deadline = ContinuousClock.now + .milliseconds(300)
        while ContinuousClock.now < deadline, !secondDone.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(10)) }
        gated.open()
        await a.value
        await b.value
    }

    @Test func unregisteringWhileTheRegistrationIsBeingSavedEndsLoggedOut() async throws {
        let (cc, gated, store) = try await make()
        await interleave(gated,
                         first: { await cc.registrationChanged(aor: "agent1@example.com", registered: true) },
                         second: { await cc.registrationChanged(aor: "agent1@example.com", registered: false) })
        #expect(cc.agent(id: "a1")?.logins["sip-phone"]?.state == .loggedOut)
        #expect(cc.agent(id: "a1")?.available == false)
        // The store agrees with the cache (a restart reads the same).
        let again = ContactCenter(store: store)
        try await again.load()
        #expect(again.agent(id: "a1")?.logins["sip-phone"]?.state == .loggedOut)
    }

    @Test func aDesktopLoginAndAPhoneLoginAtOnceAreBothKept() async throws {
        let (cc, gated, store) = try await make()
        await interleave(gated,
                         first: { _ = try? await cc.setLogin(agent: "a1", system: "desktop", loggedIn: true) },
                         second: { await cc.registrationChanged(aor: "agent1@example.com", registered: true) })
        let logins = cc.agent(id: "a1")?.logins ?? [:]
        #expect(logins["desktop"]?.state == .loggedIn && logins["sip-phone"]?.state == .loggedIn, "\(logins)")
        let again = ContactCenter(store: store)
        try await again.load()
        #expect(again.agent(id: "a1")?.logins == logins)
    }

    /// The registrar's changes, queued on its loop and applied by ``ContactCenter/run()``, end
    /// in the state of the last one, whatever the store's speed.
    @Test func queuedRegistrationChangesApplyInOrder() async throws {
        let (cc, _, store) = try await make()
        let runner = Task { await cc.run() }
        for i in 0..<21 { cc.noteRegistration(aor: "agent1@example.com", registered: i % 2 == 0) }
        cc.finish()
        await runner.value
        #expect(cc.agent(id: "a1")?.logins["sip-phone"]?.state == .loggedIn)
        let again = ContactCenter(store: store)
        try await again.load()
        #expect(again.agent(id: "a1")?.logins["sip-phone"]?.state == .loggedIn)
    }
}
