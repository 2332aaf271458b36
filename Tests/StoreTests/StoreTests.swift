import Foundation
import Testing
@testable import Store

@Suite struct StoreTests {
    @Test func registrationsPersistAndExpire() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)/b.sqlite").path
        do {
            let store = try Store(path: path)
            try await store.save(RegistrationRecord(aor: "bob@127.0.0.1", contact: "sip:bob@127.0.0.1:5070", transport: "udp",
                                                    sourceHost: "127.0.0.1", sourcePort: 5070, expires: 2000, callID: "c", cseq: 1))
            try await store.save(RegistrationRecord(aor: "old@127.0.0.1", contact: "sip:old@127.0.0.1", transport: "udp",
                                                    sourceHost: "127.0.0.1", sourcePort: 5071, expires: 500, callID: "c2", cseq: 1))
            // Re-registering the same contact updates, not duplicates.
            try await store.save(RegistrationRecord(aor: "bob@127.0.0.1", contact: "sip:bob@127.0.0.1:5070", transport: "tcp",
                                                    sourceHost: "127.0.0.1", sourcePort: 5070, expires: 3000, callID: "c", cseq: 2))
        }
        // A new process (a new Store on the same file) sees what is still valid.
        let reopened = try Store(path: path)
        let live = try await reopened.registrations(validAt: 1000)
        #expect(live.map(\.aor) == ["bob@127.0.0.1"])
        #expect(live.first?.transport == "tcp" && live.first?.expires == 3000)
        try await reopened.deleteRegistration(aor: "bob@127.0.0.1", contact: "sip:bob@127.0.0.1:5070")
        #expect(try await reopened.registrations(validAt: 1000).isEmpty)
    }

    @Test func callRecordsAreUpsertedAndListedNewestFirst() async throws {
        let store = try Store(path: ":memory:")
        var rec = CallRecord(id: "c1", caller: "a", callee: "b", callerCallID: "x", started: 10)
        try await store.save(rec)
        rec.answered = 11
        rec.ended = 20
        rec.hungUpBy = "callee"
        rec.reason = "BYE"
        try await store.save(rec)
        try await store.save(CallRecord(id: "c2", caller: "a", callee: "b", callerCallID: "y", started: 30))
        let all = try await store.calls()
        #expect(all.map(\.id) == ["c2", "c1"])
        #expect(try await store.call(id: "c1") == rec)
        #expect(try await store.call(id: "nope") == nil)
    }

    @Test func batchedWritesApplyInOrder() async throws {
        let store = try Store(path: ":memory:")
        var rec = CallRecord(id: "c1", caller: "a", callee: "b", callerCallID: "x", started: 10)
        var ended = rec
        ended.ended = 20
        ended.reason = "BYE"
        let reg = RegistrationRecord(aor: "bob@h", contact: "sip:bob@h", transport: "udp", sourceHost: "127.0.0.1",
                                     sourcePort: 5070, expires: 2000, callID: "c", cseq: 1)
        let failed = await store.apply([.call(rec), .saveRegistration(reg), .call(ended),
                                        .deleteRegistration(aor: "bob@h", contact: "sip:bob@h")])
        #expect(failed.isEmpty)
        #expect(try await store.call(id: "c1") == ended)  // the later write of the same record wins
        #expect(try await store.registrations(validAt: 1000).isEmpty)
        // A later batch updates the row in place (UPSERT), every column included.
        var hungUp = ended
        hungUp.hungUpBy = "callee"
        hungUp.calleeCallID = "y"
        #expect(await store.apply([.call(hungUp)]).isEmpty)
        #expect(try await store.call(id: "c1") == hungUp)
        rec.id = "c2"
        #expect(await store.apply([.call(rec)]).isEmpty)
        #expect(Set(try await store.calls().map(\.id)) == ["c1", "c2"])
    }

    @Test func aBatchKeepsTheLastVersionOfEachCallRecord() {
        var a = CallRecord(id: "a", caller: "x", callee: "y", callerCallID: "1", started: 1)
        let b = CallRecord(id: "b", caller: "x", callee: "y", callerCallID: "2", started: 2)
        var a2 = a
        a2.ended = 5
        let reg = RegistrationRecord(aor: "r@h", contact: "sip:r@h", transport: "udp", sourceHost: "h", sourcePort: 1,
                                     expires: 9, callID: "c", cseq: 1)
        let out = Store.coalesced([.call(a), .saveRegistration(reg), .call(b), .call(a2)])
        let ids: [String] = out.map { w in
            switch w {
            case .call(let r): "\(r.id):\(r.ended ?? 0)"
            case .saveRegistration: "reg"
            default: "?"
            }
        }
        #expect(ids == ["reg", "b:0.0", "a:5.0"])
        a.id = "c"
        #expect(Store.coalesced([.call(a)]).count == 1)
    }

    @Test func identitiesAreKeptUntilTheyExpireAndUsedOnce() async throws {
        let store = try Store(path: ":memory:")
        try await store.keepIdentities(orig: "12025550101", dest: "12025550102", values: ["a.b.c;info=<x>", "d.e.f;info=<y>"], expires: 1000)
        #expect(try await store.takeIdentities(orig: "12025550101", dest: "12025550102", now: 1000) == nil, "expired")
        try await store.keepIdentities(orig: "12025550101", dest: "12025550102", values: ["a.b.c;info=<x>", "d.e.f;info=<y>"], expires: 1000)
        #expect(try await store.takeIdentities(orig: "12025550199", dest: "12025550102", now: 0) == nil, "another caller")
        #expect(try await store.takeIdentities(orig: "12025550101", dest: "12025550102", now: 999) == ["a.b.c;info=<x>", "d.e.f;info=<y>"])
        #expect(try await store.takeIdentities(orig: "12025550101", dest: "12025550102", now: 999) == nil, "used once")
        try await store.keepIdentities(orig: "12025550101", dest: "12025550102", values: ["j.k.l;info=<w>"], expires: 2000)
        try await store.keepIdentities(orig: "12025550101", dest: "12025550102", values: ["g.h.i;info=<z>"], expires: 2000)
        #expect(try await store.takeIdentities(orig: "12025550101", dest: "12025550102", now: 1500) == ["g.h.i;info=<z>"], "replaced")
    }

    @Test func unopenablePathIsAClearError() {
        #expect(throws: StoreError.self) { _ = try Store(path: "/proc/baton/cannot/b.sqlite") }
    }
}
