import Foundation
import Testing
import TestSupport
@testable import Calls
@testable import Media
@testable import SIP
@testable import Store

@Suite(.serialized) struct CallManagerTests {
    static let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"

    func manager(_ lo: Int) throws -> CallManager {
        var c = MediaRelay.Configuration()
        c.portMin = lo
        c.portMax = lo + 49
        let relay = try MediaRelay(configuration: c)
        relay.start()
        return CallManager(relay: relay, now: { 100 })
    }

    /// An ng call is a call whose legs the ng protocol controls, not a SIP call with a
    /// made-up peer: its caller leg shows "ng" as signaling, and only ng calls are listed to ng.
    @Test func ngCallsAreTheirOwnKindOfCall() throws {
        let calls = try manager(TestPorts.base(50))
        defer { calls.relay.shutdown() }
        calls.callEvent(.started(id: "sip-1", from: "<sip:a@x>;tag=1", to: "<sip:b@x>", callerCallID: "cid-sip",
                                 caller: .sip(SIPPeer(transport: .udp, host: "127.0.0.1", port: 5070))))
        _ = try calls.offer(callID: "first", fromTag: "f1", sdp: Array(Self.sdp.utf8))
        _ = try calls.offer(callID: "second", fromTag: "f2", sdp: Array(Self.sdp.utf8))
        #expect(calls.ngCallIDs() == ["first", "second"])
        #expect(calls.call(id: "ng:first")?.legs.first { $0.side == .caller }?.signaling == "ng")
        #expect(calls.call(id: "sip-1")?.legs.first { $0.side == .caller }?.signaling == "udp:127.0.0.1:5070")
        try calls.delete(callID: "first")
        #expect(calls.ngCallIDs() == ["second"])
    }

    @Test func anchorsEachSideOnItsOwnPortAndRecordsTheCall() throws {
        let calls = try manager(TestPorts.base(50))
        defer { calls.relay.shutdown() }
        calls.callEvent(.started(id: "k1", from: "<sip:a@x>;tag=1", to: "<sip:b@x>", callerCallID: "cid",
                                 caller: .sip(SIPPeer(transport: .udp, host: "127.0.0.1", port: 5070))))
        let offer = try SessionDescription(parsing: Array(Self.sdp.utf8))
        try calls.anchor(call: "k1", from: .caller, sdp: offer, role: .offer(transport: nil), keys: .allowed)
        let answer = try SessionDescription(parsing: Array(Self.sdp.replacingOccurrences(of: "40000", with: "40100").utf8))
        try calls.anchor(call: "k1", from: .callee, sdp: answer, role: .answer, keys: .allowed)
        // The offer (for the callee) points at side B's port, the answer (for the caller) at side A's.
        let info = try #require(calls.call(id: "k1"))
        let aPort = info.legs[0].media[0].localPort, bPort = info.legs[1].media[0].localPort
        #expect(offer.media[0].port == bPort)
        #expect(answer.media[0].port == aPort)
        #expect(aPort != bPort && calls.relay.pool.range.contains(aPort))
        #expect(info.legs[0].media[0].advertised == "127.0.0.1:40000")
        #expect(info.legs[1].media[0].advertised == "127.0.0.1:40100")
        #expect(calls.relay.pool.pairsInUse == 2)
        calls.callEvent(.answered(id: "k1"))
        #expect(calls.call(id: "k1")?.state == .answered)
        // SIP facts for the dialog records: re-offers after the answer, and the holds among them.
        #expect(calls.sipFacts(call: "k1")! == (0, 0))
        for text in [Self.sdp + "a=sendonly\r\n", Self.sdp + "a=sendonly\r\n", Self.sdp, Self.sdp + "a=inactive\r\n"] {
            try calls.anchor(call: "k1", from: .caller, sdp: try SessionDescription(parsing: Array(text.utf8)),
                             role: .offer(transport: nil), keys: .allowed)
        }
        #expect(calls.sipFacts(call: "k1")! == (4, 2), "four re-offers, two holds (a second sendonly is the same hold)")
        calls.release(call: "k1")
        calls.callEvent(.ended(id: "k1", by: .callee, reason: "BYE"))
        #expect(calls.activeCount == 0)
        let ended = try #require(calls.call(id: "k1"))
        #expect(ended.state == .ended && ended.hungUpBy == "callee")
        #expect(waitUntil { calls.relay.pool.pairsInUse == 0 })
    }

    @Test func recordsFlowToTheStoreInOrder() async throws {
        let calls = try manager(TestPorts.base(50))
        defer { calls.relay.shutdown() }
        let store = try Store(path: ":memory:")
        let writer = Task { await StoreWriter(store: store, operations: calls.storeOperations).runUntilStreamEnds() }
        calls.callEvent(.started(id: "k2", from: "a", to: "b", callerCallID: "cid",
                                 caller: .sip(SIPPeer(transport: .udp, host: "127.0.0.1", port: 1))))
        calls.callEvent(.answered(id: "k2"))
        calls.callEvent(.ended(id: "k2", by: .caller, reason: "BYE"))
        calls.save(Registration(aor: "bob@x", contact: "sip:bob@x", transport: .udp, sourceHost: "127.0.0.1",
                                sourcePort: 5070, expires: 1e12, callID: "r", cseq: 1))
        calls.finishStoreStream()
        await writer.value
        let rec = try #require(try await store.call(id: "k2"))
        #expect(rec.answered == 100 && rec.ended == 100 && rec.hungUpBy == "caller")
        #expect(try await store.registrations(validAt: 0).map(\.aor) == ["bob@x"])
    }

    @Test func exhaustedPortsAreAMediaError() throws {
        var c = MediaRelay.Configuration()
        let ports = TestPorts.range(4)
        c.portMin = ports.lowerBound
        c.portMax = ports.upperBound
        let relay = try MediaRelay(configuration: c)
        relay.start()
        defer { relay.shutdown() }
        let calls = CallManager(relay: relay)
        let two = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\nm=audio 40002 RTP/AVP 0\r\n"
        #expect(throws: CallsError.self) { try calls.anchor(call: "k3", from: .caller, sdp: try SessionDescription(parsing: Array(two.utf8)), role: .offer(transport: nil), keys: .allowed) }
        // The stream allocated before the range ran out goes back too.
        #expect(waitUntil { relay.pool.pairsInUse == 0 })
    }
}

