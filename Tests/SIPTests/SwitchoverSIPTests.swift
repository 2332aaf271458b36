import Testing
@testable import SIP

@Suite struct SwitchoverSIPTests {
    @Test func parsesURIsAndReferTargets() {
        #expect(SIPURI(parsing: "sip:speaker@127.0.0.1:5090")?.user == "speaker")
        #expect(SIPURI(parsing: "sip:speaker@127.0.0.1:5090")?.port == 5090)
        #expect(SIPURI(parsing: "not a uri") == nil)
        #expect(B2BUA.referTarget("<sip:speaker@127.0.0.1:26260>") == "sip:speaker@127.0.0.1:26260")
        #expect(B2BUA.referTarget("Speaker <sip:s@example.com?Replaces=abc%40h>;x=1") == "sip:s@example.com")
        #expect(B2BUA.referTarget("sip:s@example.com;method=INVITE") == "sip:s@example.com")
        #expect(B2BUA.referTarget("<>") == nil)
    }

    @Test func removesTheTagOfAHeader() {
        #expect(B2BUA.withoutTag("sipp <sip:sipp@127.0.0.1:5061>;tag=abc") == "sipp <sip:sipp@127.0.0.1:5061>")
        #expect(B2BUA.withoutTag("<sip:a@h>;tag=abc;x=y") == "<sip:a@h>;x=y")
        #expect(B2BUA.withoutTag("<sip:a@h>") == "<sip:a@h>")
    }
}

@Suite struct ReferHeaderTests {
    @Test func readsReferToAndReferredBy() throws {
        let text = "REFER sip:baton@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n" +
            "From: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:f@127.0.0.1>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 REFER\r\n" +
            "Refer-To: <sip:speaker@127.0.0.1:26260>\r\nReferred-By: <sip:phone@127.0.0.1>\r\nContent-Length: 0\r\n\r\n"
        let m = try SIPMessage.parse(Array(text.utf8))
        #expect(m.header("Refer-To") == "<sip:speaker@127.0.0.1:26260>")
        #expect(m.header("Referred-By") == "<sip:phone@127.0.0.1>")
    }
}

/// The B2BUA's switchover primitives on an embedded loop: a third dialog, the swap, REFER
/// and Replaces edge cases.
@Suite struct B2BUASwitchoverTests {
    static let speaker = SIPPeer(transport: .udp, host: "127.0.0.1", port: 5090)

    /// A confirmed call; returns the harness, the call id and the callee's INVITE.
    func confirmedCall() throws -> (B2BHarness, String, SIPMessage) {
        let h = try B2BHarness()
        let bInvite = try h.startCall()
        let ok = try h.answer(bInvite)
        try h.callerAck(for: ok)
        _ = h.take()
        let id = try #require(h.anchor.events.compactMap { if case let .invited(id, _, _, _, _) = $0 { id } else { nil } }.first)
        return (h, id, bInvite)
    }

    func inDialog(_ method: String, from bInvite: SIPMessage, cseq: UInt32, headers: [(String, String)]) throws -> SIPMessage {
        let m = try SIPMessage.request(method: method, uri: "sip:baton@127.0.0.1:5060",
                                       via: "SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK\(method)\(cseq)",
                                       from: "<sip:bob@127.0.0.1>;tag=callee-tag", to: bInvite.from!,
                                       callID: bInvite.callID!, cseq: cseq, contact: "<sip:bob@127.0.0.1:5080>")
        for (k, v) in headers { m.setHeader(k, v) }
        return m
    }

    @Test func newLegReplacesTheCalleeAfterTheSplice() throws {
        let (h, id, bInvite) = try confirmedCall()
        var events: [String] = []
        let sdp = try h.b2bua.farSDP(call: id, replacing: .callee)
        #expect(String(decoding: sdp, as: UTF8.self).contains("m=audio"))
        let leg = try h.b2bua.inviteSwitchLeg(call: id, replacing: .callee, target: (Self.speaker, "sip:speaker@127.0.0.1:5090"),
                                             body: sdp) { ev in
            switch ev {
            case .ringing(let c): events.append("ringing \(c)")
            case .answered: events.append("answered")
            case .failed(let r): events.append("failed \(r)")
            }
        }
        // A second one is refused while this one runs.
        #expect(throws: SwitchRefusal.alreadyRunning(id)) {
            _ = try h.b2bua.inviteSwitchLeg(call: id, replacing: .callee, target: (Self.speaker, "sip:x@h"), body: sdp) { _ in }
        }
        let invite = try #require(h.sent(to: Self.speaker).first { $0.method == "INVITE" })
        #expect(invite.from?.contains("alice@127.0.0.1") == true)      // the far party's identity
        #expect(invite.from?.contains("1928301774") == false)           // ... not its dialog's tag
        #expect(invite.callID != bInvite.callID)
        let ringing = invite.makeResponse(180, "Ringing", toTag: "spk")
        try h.deliver(ringing, from: Self.speaker)
        let ok = invite.makeResponse(200, "OK", toTag: "spk")
        try ok.setContact("<sip:speaker@127.0.0.1:5090>")
        ok.setBody(Fixtures.bytes(Fixtures.sdp), contentType: "application/sdp")
        try h.deliver(ok, from: Self.speaker)
        #expect(h.sent(to: Self.speaker).contains { $0.method == "ACK" })
        #expect(events == ["ringing 180", "answered"])
        // The splice happened: the old callee gets BYE, the caller nothing.
        h.b2bua.completeSwitch(leg)
        let out = h.take()
        #expect(out.contains { $0.1 == callee && $0.0.method == "BYE" })
        #expect(!out.contains { $0.1 == caller })
        // The caller's BYE now goes to the speaker, and the call ends once.
        try h.deliver(try SIPMessage.request(method: "BYE", uri: "sip:baton@127.0.0.1:5060",
                                             via: "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKbye9",
                                             from: "Alice <sip:alice@127.0.0.1>;tag=1928301774",
                                             to: try #require(h.anchor.callerTo), callID: "a84b4c76e66710@127.0.0.1",
                                             cseq: 314160, contact: nil), from: caller)
        let after = h.take()
        #expect(after.contains { $0.1 == Self.speaker && $0.0.method == "BYE" })
        #expect(!after.contains { $0.1 == callee && $0.0.method == "BYE" })
        #expect(h.anchor.endReasons == ["BYE"])
    }

    @Test func aRejectingTargetLeavesTheCall() throws {
        let (h, id, _) = try confirmedCall()
        var failed: SwitchLegFailure?
        _ = try h.b2bua.inviteSwitchLeg(call: id, replacing: .callee, target: (Self.speaker, "sip:speaker@127.0.0.1:5090"),
                                        body: try h.b2bua.farSDP(call: id, replacing: .callee)) { ev in
            if case .failed(let r) = ev { failed = r }
        }
        let invite = try #require(h.sent(to: Self.speaker).first { $0.method == "INVITE" })
        try h.deliver(invite.makeResponse(486, "Busy Here", toTag: "spk"), from: Self.speaker)
        #expect(failed == .rejected(.busyHere) && failed?.description == "486 Busy Here")
        #expect(failed?.status == .busyHere)   // what a REFER's NOTIFY would report
        #expect(h.anchor.endReasons.isEmpty)
        // A new switchover may start now.
        #expect(throws: Never.self) { _ = try h.b2bua.farSDP(call: id, replacing: .callee) }
    }

    @Test func referAndReplacesEdgeCases() throws {
        let (h, _, bInvite) = try confirmedCall()
        // No handler installed: 501.
        try h.deliver(try inDialog("REFER", from: bInvite, cseq: 2, headers: [("Refer-To", "<sip:speaker@127.0.0.1>")]), from: callee)
        #expect(h.sent(to: callee).last?.statusCode == 501)
        var referred: [ReferRequest] = []
        h.anchor.onRefer = { referred.append($0) }
        try h.deliver(try inDialog("REFER", from: bInvite, cseq: 3, headers: []), from: callee)
        #expect(h.sent(to: callee).last?.statusCode == 400)
        try h.deliver(try inDialog("REFER", from: bInvite, cseq: 4, headers: [("Refer-To", "<sip:speaker@127.0.0.1?Replaces=x>"),
                                                                               ("Referred-By", "<sip:bob@127.0.0.1>")]), from: callee)
        #expect(referred.map(\.referTo) == ["sip:speaker@127.0.0.1"] && referred.first?.side == .callee)
        #expect(referred.first?.referredBy == "<sip:bob@127.0.0.1>")
        // Replaces naming no dialog: 481; an unparsable one: 400.
        for (value, code) in [("nope;to-tag=a;from-tag=b", 481), ("only-call-id", 400)] {
            let inv = try SIPMessage.parse(Fixtures.bytes(Fixtures.invite(branch: "z9hG4bKrep\(code)", callID: "rep\(code)@h")))
            inv.setHeader("Replaces", value)
            try h.deliver(inv, from: Self.speaker)
            #expect(h.sent(to: Self.speaker).last?.statusCode == code, "\(value)")
        }
    }

    /// Several gateways on one store: Replaces naming a dialog another gateway holds gets a
    /// 302 to that gateway (the device sends the INVITE there); one nobody holds still 481.
    @Test func replacesForAnotherGatewaysDialogIsRedirected() throws {
        let (h, _, _) = try confirmedCall()
        h.b2bua.dialogLocator = { callID, done in done(callID == "remote@h" ? "127.0.0.2:5062" : nil) }
        for (callID, code) in [("remote@h", 302), ("nowhere@h", 481)] {
            let inv = try SIPMessage.parse(Fixtures.bytes(Fixtures.invite(branch: "z9hG4bKredir\(code)", callID: "redir\(code)@h")))
            inv.setHeader("Replaces", "\(callID);to-tag=a;from-tag=b")
            try h.deliver(inv, from: Self.speaker)
            h.wire.loop.run()
            let answer = try #require(h.sent(to: Self.speaker).last { $0.statusCode != 100 })
            #expect(answer.statusCode == code, "\(callID)")
            if code == 302 { #expect(answer.contactURI(0)?.text == "sip:bob@127.0.0.2:5062", "\(answer.contact(0) ?? "-")") }
        }
    }

    @Test func aRejectedReInviteDoesNotChangeTheSDPASwitchoverOffers() throws {
        let (h, id, bInvite) = try confirmedCall()
        #expect(String(decoding: try h.b2bua.farSDP(call: id, replacing: .caller), as: UTF8.self).contains("m=audio 30000"))
        try h.calleeReInvite(after: bInvite, cseq: 2, sdp: Fixtures.sdp.replacingOccurrences(of: "49170", with: "55554"))
        let reinvite = try #require(h.sent(to: caller).first { $0.method == "INVITE" })
        try h.deliver(reinvite.makeResponse(488, "Not Acceptable Here", toTag: "1928301774"), from: caller)
        #expect(String(decoding: try h.b2bua.farSDP(call: id, replacing: .caller), as: UTF8.self).contains("m=audio 30000"))
    }

    @Test func theMovingDeviceMayHangUpMidSwitchover() throws {
        let (h, id, bInvite) = try confirmedCall()
        let leg = try h.b2bua.inviteSwitchLeg(call: id, replacing: .callee, target: (Self.speaker, "sip:speaker@127.0.0.1:5090"),
                                             body: try h.b2bua.farSDP(call: id, replacing: .callee)) { _ in }
        _ = h.take()
        try h.deliver(try inDialog("BYE", from: bInvite, cseq: 5, headers: []), from: callee)
        let out = h.take()
        #expect(out.contains { $0.1 == callee && $0.0.statusCode == 200 })
        #expect(!out.contains { $0.1 == caller }, "the far party keeps its call")
        #expect(leg.replacedHungUp && h.anchor.endReasons.isEmpty)
        // If the switchover then fails, the far party is hung up too.
        h.b2bua.abandonSwitch(leg, reason: "408 the target did not answer")
        #expect(h.take().contains { $0.1 == caller && $0.0.method == "BYE" })
        #expect(h.anchor.endReasons.count == 1)
    }
}

@Suite struct SDESTests {
    @Test func parsesAndWritesCryptoAttributes() throws {
        // RFC 4568 §9.1 example.
        let c = try #require(SDESCrypto(parsing: "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4"))
        #expect(c.tag == 1 && c.suite == "AES_CM_128_HMAC_SHA1_80" && c.key.count == 30)
        #expect(c.keyParameterTail == "|2^20|1:4")
        #expect(c.attributeValue == "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4")
        let s = try #require(SDESCrypto(parsing: "2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj UNENCRYPTED_SRTCP"))
        #expect(s.sessionParameters == ["UNENCRYPTED_SRTCP"] && s.key.count == 30)
        for bad in ["", "x AES inline:AAAA", "1 AES_CM_128_HMAC_SHA1_80", "1 AES_CM_128_HMAC_SHA1_80 key:AAAA", "1 S inline:@@@@"] {
            #expect(SDESCrypto(parsing: bad) == nil, "\(bad)")
        }
    }
}

/// 2xx retransmission over UDP until the ACK (RFC 3261 §13.3.1.4), for a call's 200 to the
/// caller and for the 200 Baton sends a device pulling a call.
@Suite struct OKRetransmissionTests {
    @Test func the200IsRetransmittedUntilTheACKOrTheCallIsHungUp() throws {
        let h = try B2BHarness()
        let bInvite = try h.startCall()
        _ = try h.answer(bInvite)
        h.wire.advance(.milliseconds(500))
        #expect(h.sent(to: caller).filter { $0.statusCode == 200 }.count == 1)      // T1
        h.wire.advance(.milliseconds(1000))
        #expect(h.take().contains { $0.1 == caller && $0.0.statusCode == 200 })     // 2·T1
        h.wire.advance(.seconds(40))
        let out = h.take()
        #expect(out.contains { $0.1 == caller && $0.0.method == "BYE" } && out.contains { $0.1 == callee && $0.0.method == "BYE" })
        #expect(h.anchor.endReasons == ["no ACK for 200 OK"])
    }

    @Test func theACKStopsTheRetransmissions() throws {
        let h = try B2BHarness()
        let ok = try h.answer(try h.startCall())
        try h.callerAck(for: ok)
        _ = h.take()
        h.wire.advance(.seconds(40))
        #expect(!h.take().contains { $0.0.statusCode == 200 || $0.0.method == "BYE" })
        #expect(h.anchor.endReasons.isEmpty)
    }

    @Test func aPullingDeviceThatNeverACKsFailsTheSwitchover() throws {
        let h = try B2BHarness()
        let bInvite = try h.startCall()
        try h.callerAck(for: try h.answer(bInvite))
        _ = h.take()
        let callee = try #require(h.anchor.events.compactMap { if case let .dialogs(_, _, c) = $0 { c } else { nil } }.last)
        var failed: SwitchLegFailure?
        h.anchor.onPull = { r in
            _ = try? h.b2bua.acceptSwitchLeg(r, body: r.offer) { if case .failed(let why) = $0 { failed = why } }
        }
        let pull = try SIPMessage.parse(Fixtures.bytes(Fixtures.invite(branch: "z9hG4bKpull", callID: "pull@h")))
        pull.setHeader("Replaces", "\(callee.callID);to-tag=\(callee.localTag);from-tag=\(callee.remoteTag ?? "")")
        try h.deliver(pull, from: B2BUASwitchoverTests.speaker)
        #expect(h.sent(to: B2BUASwitchoverTests.speaker).contains { $0.statusCode == 200 })
        h.wire.advance(.milliseconds(500))
        #expect(h.sent(to: B2BUASwitchoverTests.speaker).contains { $0.statusCode == 200 })   // retransmitted
        h.wire.advance(.seconds(40))
        #expect(failed == .noAck && failed?.description == "408 no ACK from the pulling device")
        #expect(failed?.status == .requestTimeout)
        #expect(h.anchor.endReasons.isEmpty)
    }
}
