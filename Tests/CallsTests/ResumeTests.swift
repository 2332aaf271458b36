import Foundation
import Testing
import TestSupport
@testable import Calls
@testable import Media
@testable import SIP
@testable import Store

/// A call's resume state (issue 22): saved sealed as the call changes, taken back by a new
/// controller on a new relay (another process after a restart) with the same ports, the same
/// codecs and SRTP keys per leg, latched sources and Baton's own keys for later re-offers.
@Suite(.serialized) struct ResumeTests {
    static let key = Data((0..<30).map { UInt8($0) }).base64EncodedString()

    static func sdp(port: Int, extra: [String]) -> SessionDescription {
        let text = (["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
                     "m=audio \(port) RTP/SAVP 0 101", "a=rtpmap:101 telephone-event/8000"] + extra).joined(separator: "\r\n") + "\r\n"
        return try! SessionDescription(parsing: Array(text.utf8))
    }

    func manager(_ lo: Int, sealer: StateSealer?) throws -> CallManager {
        var c = MediaRelay.Configuration()
        c.portMin = lo
        c.portMax = lo + 49
        c.reuseSockets = false   // a released port is closed, as when the process dies
        let relay = try MediaRelay(configuration: c)
        relay.start()
        let calls = CallManager(relay: relay, now: { 100 })
        calls.install { $0.gatewayID = "gw"; $0.stateSealer = sealer }
        return calls
    }

    static func dialog(_ callID: String, cseq: UInt32) -> DialogSnapshot {
        DialogSnapshot(callID: callID, localTag: "l-\(callID)", remoteTag: "r-\(callID)", localHeader: "<sip:baton@x>;tag=l-\(callID)",
                       remoteHeader: "<sip:p@x>;tag=r-\(callID)", remoteTarget: "sip:p@127.0.0.1:5070", transport: .udp,
                       host: "127.0.0.1", port: 5070, localCSeq: cseq, routeSet: [])
    }

    /// The anchor rows the controller queued for the store so far.
    func anchors(_ calls: CallManager) -> [CallAnchorRecord] {
        calls.storeOperations.takeAll().operations.compactMap { if case .anchor(let a) = $0 { a } else { nil } }
    }

    @Test func anSRTPCallIsTakenBackWithItsPortsKeysAndLatches() throws {
        let sealer = try StateSealer(key: StateSealer.generateKey())
        let lo = TestPorts.base(50)
        let before = try manager(lo, sealer: sealer)
        let id = "r1"
        before.callEvent(.started(id: id, from: "<sip:a@x>;tag=1", to: "<sip:b@x>", callerCallID: "cid-a",
                                  caller: .sip(SIPPeer(transport: .udp, host: "127.0.0.1", port: 5070))))
        let offer = Self.sdp(port: 40000, extra: ["a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(Self.key)"])
        try before.anchor(call: id, from: .caller, sdp: offer, role: .offer(transport: nil), keys: .allowed)
        let tag = try #require(offer.crypto(media: 0).first { $0.suite == "AES_CM_128_HMAC_SHA1_80" }).tag
        let answer = Self.sdp(port: 40100, extra: ["a=crypto:\(tag) AES_CM_128_HMAC_SHA1_80 inline:\(Self.key)"])
        try before.anchor(call: id, from: .callee, sdp: answer, role: .answer, keys: .allowed)
        before.callEvent(.answered(id: id))
        let stream = try #require(before.state.withLock { $0.live[id]?.streams.first })
        // An SRTP packet from the caller (under the key it announced) latches side a.
        let phone = try UDPSocket()
        var packet = [UInt8](repeating: 0xFF, count: 172)
        packet[0] = 0x80; packet[3] = 1; packet[11] = 9
        try SRTPSession(suite: .aesCM128HmacSHA1_80, key: (0..<30).map { UInt8($0) }, direction: .outbound).protect(&packet)
        phone.send(packet, to: stream.port(.a))
        let latched = "127.0.0.1:\(phone.port)"
        #expect(waitUntil { stream.latchedAddress(.a) == latched })
        let session = B2BUA.SessionState(callerSDP: Array("v=0 caller".utf8), calleeSDP: Array("v=0 callee".utf8), sdesInClear: true)
        _ = anchors(before)
        before.dialogsConfirmed(call: id, caller: Self.dialog("cid-a", cseq: 3), callee: Self.dialog("cid-b", cseq: 7), session: session)
        // The dialogs are saved at once (a lost gateway's BYEs); the sealed state at the next checkpoint.
        let first = try #require(anchors(before).last)
        #expect(first.state.isEmpty && first.caller.contains("cid-a"))
        before.checkpoint()
        let saved = try #require(anchors(before).last)
        #expect(saved.gateway == "gw" && saved.callID == id && !saved.state.isEmpty)
        // Sealed: neither the parties' keys nor the SDP are readable in the row.
        #expect(!saved.state.contains(Self.key) && !saved.state.contains("caller"))
        #expect(throws: (any Error).self) { _ = try StateSealer(key: StateSealer.generateKey()).open(saved.state) }
        let state = try JSONDecoder().decode(CallResumeState.self, from: try sealer.open(saved.state))
        #expect(state.session == session)
        #expect(state.streams.count == 1 && state.streams[0].relay.a.rtpPort == stream.port(.a) && state.streams[0].relay.b.rtpPort == stream.port(.b))
        let mediaA = try #require(before.relay.media(stream, side: .a)), mediaB = try #require(before.relay.media(stream, side: .b))
        #expect(mediaA.srtp != nil && mediaB.srtp != nil)
        let ports = (stream.port(.a), stream.port(.b))

        // The process dies: its relay and sockets go. A new one takes the call back.
        before.relay.release(stream)
        #expect(waitUntil { before.relay.pool.pairsInUse == 0 })
        before.relay.shutdown()
        let after = try manager(lo, sealer: sealer)
        defer { after.relay.shutdown() }
        try after.resume(call: id, record: nil, caller: Self.dialog("cid-a", cseq: 3), callee: Self.dialog("cid-b", cseq: 7), state: state)
        let again = try #require(after.state.withLock { $0.live[id]?.streams.first })
        #expect((again.port(.a), again.port(.b)) == ports, "the parties' ports are bound again")
        #expect(after.relay.barrierBlocking())
        #expect(again.latchedAddress(.a) == latched, "the caller's source is latched as before")
        #expect(again.latchedAddress(.b) == nil)
        #expect(after.relay.media(again, side: .a) == mediaA && after.relay.media(again, side: .b) == mediaB,
                "each leg's codec and SRTP keys as before")
        let info = try #require(after.call(id: id))
        #expect(info.state == .answered)
        #expect(info.legs.first { $0.side == .caller }?.media.first?.advertised == "127.0.0.1:40000")
        #expect(info.legs.first { $0.side == .callee }?.dialog?.callID == "cid-b")
        // Baton's own keys are kept: a re-offer after the restart does not rekey.
        let n = try #require(after.state.withLock { $0.live[id]?.negotiation[0] })
        #expect(n.batonKeys[.caller]?[.aesCM128HmacSHA1_80] == mediaA.srtp?.send)
        // A second resume of the same call is refused and leaves the first alone.
        #expect(throws: CallsError.self) {
            try after.resume(call: id, record: nil, caller: Self.dialog("cid-a", cseq: 3), callee: Self.dialog("cid-b", cseq: 7), state: state)
        }
        #expect(after.relay.pool.pairsInUse == 2)
        // Saved once as resumed (its latch restored); then nothing changes: the next
        // checkpoint writes nothing, and a re-offer is saved by the one after it.
        after.checkpoint()
        _ = anchors(after)
        after.checkpoint()
        #expect(anchors(after).isEmpty)
        after.dialogsConfirmed(call: id, caller: Self.dialog("cid-a", cseq: 4), callee: Self.dialog("cid-b", cseq: 7), session: session)
        after.checkpoint()
        #expect(anchors(after).contains { !$0.state.isEmpty && $0.caller.contains("\"localCSeq\":4") })
    }

    @Test func aPortTakenMeanwhileFailsTheResumeAndLeavesNothingBound() throws {
        let sealer = try StateSealer(key: StateSealer.generateKey())
        let lo = TestPorts.base(50)
        let calls = try manager(lo, sealer: sealer)
        defer { calls.relay.shutdown() }
        let taken = try calls.relay.allocate()
        let state = CallResumeState(from: "a", to: "b", session: .init(callerSDP: [], calleeSDP: [], sdesInClear: false), streams: [
            .init(relay: StreamSnapshot(a: .init(rtpPort: lo + 40), b: .init(rtpPort: taken.port(.a))), remotes: [:], media: [:],
                  batonKeys: [:], proto: [:]),
        ])
        #expect(throws: CallsError.self) {
            try calls.resume(call: "r2", record: nil, caller: Self.dialog("x", cseq: 1), callee: Self.dialog("y", cseq: 1), state: state)
        }
        #expect(calls.activeCount == 0)
        #expect(calls.relay.pool.pairsInUse == 2, "only the other stream's two pairs: the one bound for side a went back")
    }

    @Test func aStateKeyMustBe32Bytes() {
        #expect(throws: CallsError.self) { _ = try StateSealer(key: [1, 2, 3]) }
    }
}
