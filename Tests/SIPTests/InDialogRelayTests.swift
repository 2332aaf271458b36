import Testing
@testable import SIP

/// INFO and UPDATE inside a call go to the other leg and their answers come back.
@Suite struct InDialogRelayTests {
    func established() throws -> (B2BHarness, SIPMessage, SIPMessage) {
        let h = try B2BHarness()
        let bInvite = try h.startCall()
        let ok = try h.answer(bInvite)
        try h.callerAck(for: ok)
        _ = h.take()
        return (h, bInvite, ok)
    }

    @Test func infoDTMFGoesToTheOtherLegAndItsAnswerComesBack() throws {
        let (h, bInvite, ok) = try established()
        let info = try SIPMessage.request(method: "INFO", uri: "sip:baton@127.0.0.1:5060",
                                          via: "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKinfo1",
                                          from: "Alice <sip:alice@127.0.0.1>;tag=1928301774", to: ok.to!,
                                          callID: ok.callID!, cseq: 314160, contact: "<sip:alice@127.0.0.1:5070>")
        info.setBody(Fixtures.bytes("Signal=5\r\nDuration=160\r\n"), contentType: "application/dtmf-relay")
        try h.deliver(info, from: caller)
        let toCallee = try #require(h.sent(to: callee).first { $0.method == "INFO" })
        #expect(toCallee.callID == bInvite.callID && toCallee.toTag == "callee-tag")
        #expect(toCallee.contentType == "application/dtmf-relay")
        #expect(String(decoding: toCallee.body, as: UTF8.self) == "Signal=5\r\nDuration=160\r\n")
        try h.deliver(toCallee.makeResponse(200, "OK"), from: callee)
        let answer = try #require(h.sent(to: caller).first { $0.statusCode == 200 })
        #expect(answer.cseqNumber == 314160 && answer.cseqMethod == "INFO")
    }

    @Test func updateWithSDPIsAnchoredBothWays() throws {
        let (h, bInvite, _) = try established()
        let update = try SIPMessage.request(method: "UPDATE", uri: "sip:baton@127.0.0.1:5060",
                                            via: "SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKupd1",
                                            from: "<sip:bob@127.0.0.1>;tag=callee-tag", to: bInvite.from!,
                                            callID: bInvite.callID!, cseq: 8, contact: "<sip:bob@127.0.0.1:5080>")
        update.setBody(Fixtures.bytes(Fixtures.sdp.replacingOccurrences(of: "a=sendrecv", with: "a=sendonly")), contentType: "application/sdp")
        try h.deliver(update, from: callee)
        let toCaller = try #require(h.sent(to: caller).first { $0.method == "UPDATE" })
        let offer = String(decoding: toCaller.body, as: UTF8.self)
        #expect(offer.contains("a=sendonly") && offer.contains("m=audio 20000 "), "the offer anchored at Baton's port")
        let accept = toCaller.makeResponse(200, "OK")
        accept.setBody(Fixtures.bytes(Fixtures.sdp.replacingOccurrences(of: "a=sendrecv", with: "a=recvonly")), contentType: "application/sdp")
        try h.deliver(accept, from: caller)
        let answer = try #require(h.sent(to: callee).first { $0.statusCode == 200 })
        #expect(answer.cseqMethod == "UPDATE")
        let body = String(decoding: answer.body, as: UTF8.self)
        #expect(body.contains("a=recvonly") && body.contains("m=audio 20002 "), "the answer anchored too")
    }

    @Test func outsideADialogTheyAreNotImplementedAndUnknownDialogsGet481() throws {
        let (h, _, ok) = try established()
        let stray = try SIPMessage.request(method: "INFO", uri: "sip:baton@127.0.0.1:5060",
                                           via: "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKinfo2",
                                           from: "<sip:alice@127.0.0.1>;tag=x", to: "<sip:bob@127.0.0.1>;tag=nope",
                                           callID: ok.callID!, cseq: 1, contact: nil)
        try h.deliver(stray, from: caller)
        #expect(h.sent(to: caller).first?.statusCode == 481)
        let noDialog = try SIPMessage.request(method: "UPDATE", uri: "sip:bob@127.0.0.1",
                                              via: "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKupd2",
                                              from: "<sip:alice@127.0.0.1>;tag=x", to: "<sip:bob@127.0.0.1>",
                                              callID: "other@x", cseq: 1, contact: nil)
        try h.deliver(noDialog, from: caller)
        #expect(h.sent(to: caller).first?.statusCode == 501)
    }
}
