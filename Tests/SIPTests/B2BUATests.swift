import NIOCore
import NIOEmbedded
import Testing
@testable import SIP

/// Stands in for the Calls layer: rewrites SDP to fixed ports and records events.
final class FakeAnchor: B2BUADelegate {
    var events: [DialogEvent] = []
    var released: [String] = []
    var anchored: [(CallSide, Int)] = []
    var roles: [SDPRole] = []
    func anchor(call: String, from side: CallSide, sdp: SessionDescription, role: SDPRole, keys: SDESExposure) throws {
        anchored.append((side, sdp.media[0].port))
        roles.append(role)
        try sdp.anchor(media: 0, address: "127.0.0.1", port: side == .caller ? 20002 : 20000)
    }
    func release(call: String) { released.append(call) }
    func dialogEvent(_ event: DialogEvent) { events.append(event) }
    /// A session limit: false refuses new calls.
    var admits = true
    func admitsNewCall() -> Bool { admits }
    var endReasons: [String] { events.compactMap { if case let .ended(_, _, r) = $0 { return r } else { return nil } } }
    /// The To header (with Baton's tag) the caller's dialog uses, from the reported dialogs.
    var callerTo: String? {
        events.compactMap { if case let .dialogs(_, c, _) = $0 { return "Bob <sip:bob@127.0.0.1>;tag=\(c.localTag)" } else { return nil } }.last
    }
    var endedBy: [CallSide?] { events.compactMap { if case let .ended(_, by, _) = $0 { return by } else { return nil } } }
    /// Call moves: handled once the test sets one of these.
    var onRefer: ((ReferRequest) -> Void)?
    var onPull: ((ReplacesRequest) -> Void)?
    var handlesCallMoves: Bool { onRefer != nil || onPull != nil }
    func referred(_ request: ReferRequest) {
        if let onRefer { onRefer(request) } else { request.transaction.respond(501, "Not Implemented") }
    }
    func pulled(_ request: ReplacesRequest) {
        if let onPull { onPull(request) } else { request.transaction.respond(501, "Not Implemented") }
    }
}

/// Counts what the B2BUA reports to the server's metrics.
final class CountingObserver: B2BUAObserver {
    var overloads = 0
    var badSDPs: [SIPError] = []
    func overloadRejected() { overloads += 1 }
    func badSDP(_ error: SIPError) { badSDPs.append(error) }
    var ended: [Int] = []
    func callEnded(active: Int) { ended.append(active) }
}

let caller = SIPPeer(transport: .udp, host: "127.0.0.1", port: 5070)
let callee = SIPPeer(transport: .udp, host: "127.0.0.1", port: 5080)

final class B2BHarness {
    let wire = Wire()
    let anchor = FakeAnchor()
    let b2bua: B2BUA
    init(routes: [StaticRoute] = [StaticRoute(match: ".", host: "127.0.0.1", port: 5080)]) throws {
        let registrar = Registrar(configuration: .init())
        b2bua = B2BUA(configuration: .init(), layer: wire.layer, registrar: registrar, router: try Router(routes: routes))
        b2bua.delegate = anchor
        wire.layer.user = b2bua
    }
    /// Delivers bytes as if they came off the wire from `peer`.
    func deliver(_ m: SIPMessage, from peer: SIPPeer) throws {
        wire.layer.receive(try SIPMessage.parse(try m.serialize()), from: peer)
    }
    func deliver(_ text: String, from peer: SIPPeer) throws {
        wire.layer.receive(try SIPMessage.parse(Fixtures.bytes(text)), from: peer)
    }
    func sent(to peer: SIPPeer) -> [SIPMessage] { wire.take().filter { $0.1 == peer }.map(\.0) }
    func take() -> [(SIPMessage, SIPPeer)] { wire.take() }

    /// Runs a call up to the callee's INVITE; returns it.
    func startCall() throws -> SIPMessage {
        try deliver(Fixtures.invite(), from: caller)
        let out = take()
        #expect(out.contains { $0.1 == caller && $0.0.statusCode == 100 })
        return try #require(out.first { $0.1 == callee && $0.0.method == "INVITE" }?.0)
    }

    /// Answers the callee INVITE with 200 + SDP; returns the 200 the caller got.
    func answer(_ bInvite: SIPMessage) throws -> SIPMessage {
        let ok = bInvite.makeResponse(200, "OK", toTag: "callee-tag")
        try ok.setContact("<sip:bob@127.0.0.1:5080>")
        ok.setBody(Fixtures.bytes(Fixtures.sdp.replacingOccurrences(of: "49170", with: "30000")), contentType: "application/sdp")
        try deliver(ok, from: callee)
        let out = take()
        #expect(out.contains { $0.1 == callee && $0.0.method == "ACK" })
        return try #require(out.first { $0.1 == caller && $0.0.statusCode == 200 }?.0)
    }

    /// An in-dialog re-INVITE from the callee on leg B.
    func calleeReInvite(after bInvite: SIPMessage, cseq: UInt32, sdp: String = Fixtures.sdp) throws {
        let m = try SIPMessage.request(method: "INVITE", uri: "sip:baton@127.0.0.1:5060",
                                       via: "SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKre\(cseq)",
                                       from: "<sip:bob@127.0.0.1>;tag=callee-tag", to: bInvite.from!,
                                       callID: bInvite.callID!, cseq: cseq, contact: "<sip:bob@127.0.0.1:5080>")
        m.setBody(Fixtures.bytes(sdp), contentType: "application/sdp")
        try deliver(m, from: callee)
    }

    func callerAck(for ok: SIPMessage) throws {
        try deliver("ACK sip:baton@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKack1\r\n"
                    + "From: Alice <sip:alice@127.0.0.1>;tag=1928301774\r\nTo: \(ok.to!)\r\nCall-ID: \(ok.callID!)\r\n"
                    + "CSeq: 314159 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", from: caller)
    }
}

@Suite struct B2BUATests {
    /// The caller's credentials were for Baton: the callee's INVITE carries none of them
    /// (libosip2 keeps Authorization headers in their own lists, which removeHeader misses).
    @Test func theCallersCredentialsAreNotPassedToTheCallee() throws {
        let h = try B2BHarness()
        let invite = try SIPMessage.parse(Fixtures.bytes(Fixtures.invite()))
        invite.addHeader("Proxy-Authorization", #"Digest username="alice", realm="baton", nonce="n", uri="sip:bob@127.0.0.1", response="0123456789abcdef0123456789abcdef""#)
        invite.addHeader("Authorization", #"Digest username="alice", realm="other", nonce="m", uri="sip:bob@127.0.0.1", response="fedcba9876543210fedcba9876543210""#)
        let reparsed = try SIPMessage.parse(try invite.serialize())
        #expect(reparsed.authorizations(proxy: true).count == 1 && reparsed.authorizations(proxy: false).count == 1, "the test INVITE carries both")
        try h.deliver(reparsed, from: caller)
        let out = try #require(h.take().first { $0.1 == callee && $0.0.method == "INVITE" }?.0)
        #expect(out.authorizations(proxy: true).isEmpty && out.authorizations(proxy: false).isEmpty)
        let text = String(decoding: try out.serialize(), as: UTF8.self)
        #expect(!text.contains("Digest"), "\(text)")
    }

    @Test func callHasTwoLegsWithTheirOwnIdentifiersAndAnchoredSDP() throws {
        let h = try B2BHarness()
        let bInvite = try h.startCall()
        #expect(bInvite.callID != "a84b4c76e66710@127.0.0.1")
        #expect(bInvite.fromTag != "1928301774")
        #expect(bInvite.cseqNumber == 1)
        #expect(bInvite.viaCount == 1)
        #expect(bInvite.topViaHost == "127.0.0.1" && bInvite.topViaPort == 5060)
        #expect(bInvite.header("Max-Forwards") == "69")
        #expect(try SessionDescription(parsing: bInvite.body).media[0].port == 20002)
        #expect(h.anchor.anchored.first! == (.caller, 49170))

        // 180 goes back to the caller on leg A's dialog.
        try h.deliver(bInvite.makeResponse(180, "Ringing", toTag: "callee-tag"), from: callee)
        let ringing = try #require(h.sent(to: caller).first)
        #expect(ringing.statusCode == 180)
        #expect(ringing.callID == "a84b4c76e66710@127.0.0.1")
        let aTag = try #require(ringing.toTag)
        #expect(aTag != "callee-tag")

        let ok = try h.answer(bInvite)
        #expect(ok.toTag == aTag)
        #expect(try SessionDescription(parsing: ok.body).media[0].port == 20000)
        #expect(h.anchor.anchored.last! == (.callee, 30000))
        try h.callerAck(for: ok)

        // BYE from the caller: 200 to the caller, BYE on leg B with leg B's identifiers.
        try h.deliver("BYE sip:baton@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKbye1\r\n"
                      + "From: Alice <sip:alice@127.0.0.1>;tag=1928301774\r\nTo: \(ok.to!)\r\nCall-ID: a84b4c76e66710@127.0.0.1\r\n"
                      + "CSeq: 314160 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", from: caller)
        let out = h.take()
        #expect(out.contains { $0.1 == caller && $0.0.statusCode == 200 && $0.0.cseqMethod == "BYE" })
        let bye = try #require(out.first { $0.1 == callee && $0.0.method == "BYE" }?.0)
        #expect(bye.callID == bInvite.callID)
        #expect(bye.toTag == "callee-tag")
        #expect(bye.cseqNumber == 2)
        #expect(h.anchor.endedBy == [.caller])
        #expect(h.anchor.released.count == 1)
        #expect(h.b2bua.activeCalls == 0)
    }

    /// Behind proxies (RFC 3261 §12, loose routing): the caller's INVITE came through a
    /// record-routing proxy, so Baton's 200 carries its Record-Route and Baton's BYE to the
    /// caller names it in Route; the callee's 200 came back through two proxies, so the ACK
    /// and BYE on that leg carry their Route headers in reverse order and go to the nearest.
    @Test func recordRoutedLegsGetRouteSets() throws {
        let h = try B2BHarness()
        let proxy = SIPPeer(transport: .udp, host: "127.0.0.9", port: 5090)
        let invite = try SIPMessage.parse(Fixtures.bytes(Fixtures.invite()))
        try invite.prependVia("SIP/2.0/UDP 127.0.0.9:5090;branch=z9hG4bKproxy1")
        invite.addHeader("Record-Route", "<sip:127.0.0.9:5090;lr>")
        try h.deliver(invite, from: proxy)
        let bInvite = try #require(h.take().first { $0.1 == callee && $0.0.method == "INVITE" }?.0)
        #expect(bInvite.recordRoutes.isEmpty && bInvite.routes.isEmpty, "leg B starts its own dialog")
        let ok = bInvite.makeResponse(200, "OK", toTag: "callee-tag")
        try ok.setContact("<sip:bob@127.0.0.1:5080>")
        ok.addHeader("Record-Route", "<sip:127.0.0.7:5070;lr>")
        ok.addHeader("Record-Route", "<sip:127.0.0.8:5080;lr>")
        ok.setBody(Fixtures.bytes(Fixtures.sdp), contentType: "application/sdp")
        try h.deliver(ok, from: callee)
        let out = h.take()
        // Leg B: Route = the Record-Route reversed, sent to the nearest proxy (the last one).
        let ack = try #require(out.first { $0.0.method == "ACK" })
        #expect(ack.1 == SIPPeer(transport: .udp, host: "127.0.0.8", port: 5080), "\(ack.1)")
        #expect(ack.0.routes == ["<sip:127.0.0.8:5080;lr>", "<sip:127.0.0.7:5070;lr>"], "\(ack.0.routes)")
        #expect(ack.0.requestURI?.text == "sip:bob@127.0.0.1:5080")
        // Leg A: the 200 carries the caller's proxy's Record-Route.
        let okA = try #require(out.first { $0.1 == proxy && $0.0.statusCode == 200 }?.0)
        #expect(okA.recordRoutes == ["<sip:127.0.0.9:5090;lr>"])
        // The callee hangs up: BYE to the caller through its proxy, with Route.
        try h.deliver("BYE sip:baton@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.8:5080;branch=z9hG4bKbyeb\r\n"
                      + "From: <sip:bob@127.0.0.1>;tag=callee-tag\r\nTo: \(bInvite.from!)\r\nCall-ID: \(bInvite.callID!)\r\n"
                      + "CSeq: 9 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", from: SIPPeer(transport: .udp, host: "127.0.0.8", port: 5080))
        let byes = h.take().filter { $0.0.method == "BYE" }
        let bye = try #require(byes.first)
        #expect(bye.1 == proxy && bye.0.routes == ["<sip:127.0.0.9:5090;lr>"], "\(bye.1) \(bye.0.routes)")
        #expect(bye.0.requestURI?.text == "sip:alice@127.0.0.1:5070", "the caller's Contact stays the Request-URI")
    }

    /// RFC 3327: a REGISTER that came through a proxy with Path is stored with it (and the
    /// Path echoed in the 200); an INVITE to that user goes back through the proxy, with the
    /// Path as its Route and the registered Contact as its Request-URI.
    @Test func registrationThroughAProxyKeepsItsPath() throws {
        let h = try B2BHarness()
        let proxy = SIPPeer(transport: .udp, host: "127.0.0.9", port: 5090)
        try h.deliver("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.9:5090;branch=z9hG4bKreg9\r\n"
                      + "Via: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKregphone;received=203.0.113.7;rport=40000\r\n"
                      + "From: <sip:carol@127.0.0.1>;tag=r9\r\nTo: <sip:carol@127.0.0.1>\r\nCall-ID: reg9\r\nCSeq: 1 REGISTER\r\n"
                      + "Path: <sip:127.0.0.9:5090;lr>, <sip:edge.example;lr>\r\nContact: <sip:carol@10.0.0.5:5062>\r\n"
                      + "Expires: 300\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", from: proxy)
        let ok = try #require(h.take().first { $0.1 == proxy && $0.0.statusCode == 200 }?.0)
        #expect(ok.headers("Path") == ["<sip:127.0.0.9:5090;lr>", "<sip:edge.example;lr>"], "\(ok.headers("Path"))")
        #expect(h.b2bua.registrar.lookup(aor: "carol@127.0.0.1").first?.path == ["<sip:127.0.0.9:5090;lr>", "<sip:edge.example;lr>"])
        try h.deliver(Fixtures.invite(user: "carol"), from: caller)
        let out = h.take()
        let invite = try #require(out.first { $0.0.method == "INVITE" })
        #expect(invite.1 == proxy, "sent to the proxy the REGISTER came from: \(invite.1)")
        #expect(invite.0.routes == ["<sip:127.0.0.9:5090;lr>", "<sip:edge.example;lr>"], "\(invite.0.routes)")
        #expect(invite.0.requestURI?.text == "sip:carol@10.0.0.5:5062")
        // Without Path, nothing changes: no Route.
        try h.deliver("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5064;branch=z9hG4bKreg10\r\n"
                      + "From: <sip:dave@127.0.0.1>;tag=r10\r\nTo: <sip:dave@127.0.0.1>\r\nCall-ID: reg10\r\nCSeq: 1 REGISTER\r\n"
                      + "Contact: <sip:dave@127.0.0.1:5064>\r\nExpires: 300\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
                      from: SIPPeer(transport: .udp, host: "127.0.0.1", port: 5064))
        #expect(h.take().first { $0.0.statusCode == 200 }?.0.headers("Path").isEmpty == true)
        try h.deliver(Fixtures.invite(branch: "z9hG4bKdave", callID: "dave-call", user: "dave"), from: caller)
        let daveInvite = try #require(h.take().first { $0.0.method == "INVITE" }?.0)
        #expect(daveInvite.routes.isEmpty)
    }

    @Test func pathListsSplitOnCommasOutsideBrackets() {
        #expect(Registrar.splitList("<sip:a;lr>, <sip:b;lr>") == ["<sip:a;lr>", "<sip:b;lr>"])
        #expect(Registrar.splitList("\"x, y\" <sip:a;lr>") == ["\"x, y\" <sip:a;lr>"])
        #expect(Registrar.splitList("<sip:a,b;lr>") == ["<sip:a,b;lr>"])
        #expect(Registrar.splitList(" ") == [])
    }

    /// Draining: OPTIONS (a load balancer's probe) gets 503 with Retry-After, so the
    /// balancer moves new calls away before the gateway's own calls end.
    @Test func optionsIs503WhileDraining() throws {
        let h = try B2BHarness()
        let options = "OPTIONS sip:baton@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.9:5090;branch=z9hG4bKopt1\r\n"
            + "From: <sip:probe@127.0.0.9>;tag=p1\r\nTo: <sip:baton@127.0.0.1>\r\nCall-ID: opt1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        try h.deliver(options, from: caller)
        #expect(h.sent(to: caller).first?.statusCode == 200)
        h.b2bua.startDraining()
        try h.deliver(options.replacingOccurrences(of: "opt1", with: "opt2"), from: caller)
        let r = try #require(h.sent(to: caller).first)
        #expect(r.statusCode == 503 && r.header("Retry-After") != nil)
    }

    @Test func okIsRetransmittedToTheCallerUntilACK() throws {
        let h = try B2BHarness()
        let ok = try h.answer(try h.startCall())
        h.wire.advance(.milliseconds(500))
        #expect(h.sent(to: caller).map(\.statusCode) == [200])
        h.wire.advance(.seconds(1))
        #expect(h.sent(to: caller).map(\.statusCode) == [200])
        try h.callerAck(for: ok)
        h.wire.advance(.seconds(10))
        #expect(h.sent(to: caller).isEmpty)
        #expect(h.b2bua.activeCalls == 1)
    }

    @Test func timerBGivesTheCaller408() throws {
        let h = try B2BHarness()
        _ = try h.startCall()
        h.wire.advance(.seconds(32))
        let toCaller = h.sent(to: caller)
        #expect(toCaller.map(\.statusCode) == [408])
        #expect(h.anchor.endReasons.first?.hasPrefix("408") == true)
        #expect(h.b2bua.activeCalls == 0)
    }

    @Test func cancelBeforeAnswerGives487AndCancelsTheCallee() throws {
        let h = try B2BHarness()
        let bInvite = try h.startCall()
        try h.deliver(bInvite.makeResponse(180, "Ringing", toTag: "callee-tag"), from: callee)
        _ = h.take()
        try h.deliver(Fixtures.invite().replacingOccurrences(of: "INVITE sip:", with: "CANCEL sip:")
            .replacingOccurrences(of: "CSeq: 314159 INVITE", with: "CSeq: 314159 CANCEL")
            .components(separatedBy: "Content-Type:")[0] + "Content-Length: 0\r\n\r\n", from: caller)
        let out = h.take()
        let toCaller = out.filter { $0.1 == caller }.map(\.0)
        #expect(toCaller.contains { $0.statusCode == 200 && $0.cseqMethod == "CANCEL" })
        #expect(toCaller.contains { $0.statusCode == 487 && $0.cseqMethod == "INVITE" })
        let cancel = try #require(out.first { $0.1 == callee && $0.0.method == "CANCEL" }?.0)
        #expect(cancel.topViaBranch == bInvite.topViaBranch)
        #expect(cancel.callID == bInvite.callID)
        #expect(h.anchor.endedBy == [.caller])
        // The callee's 487 is ACKed by its transaction.
        try h.deliver(bInvite.makeResponse(487, "Request Terminated", toTag: "callee-tag"), from: callee)
        #expect(h.sent(to: callee).map { $0.method } == ["ACK"])
    }

    @Test func cancelAfterAnswerHasNoEffect() throws {
        let h = try B2BHarness()
        let ok = try h.answer(try h.startCall())
        try h.deliver(Fixtures.invite().replacingOccurrences(of: "INVITE sip:", with: "CANCEL sip:")
            .replacingOccurrences(of: "CSeq: 314159 INVITE", with: "CSeq: 314159 CANCEL")
            .components(separatedBy: "Content-Type:")[0] + "Content-Length: 0\r\n\r\n", from: caller)
        let out = h.take()
        #expect(out.contains { $0.1 == caller && $0.0.statusCode == 200 && $0.0.cseqMethod == "CANCEL" })
        #expect(!out.contains { $0.0.statusCode == 487 })
        #expect(!out.contains { $0.1 == callee && ($0.0.method == "CANCEL" || $0.0.method == "BYE") })
        #expect(h.b2bua.activeCalls == 1)
        try h.callerAck(for: ok)
    }

    @Test func reInviteForHoldPassesToTheOtherLeg() throws {
        let h = try B2BHarness()
        let bInvite = try h.startCall()
        let ok = try h.answer(bInvite)
        try h.callerAck(for: ok)
        // The callee puts the caller on hold.
        try h.calleeReInvite(after: bInvite, cseq: 7, sdp: Fixtures.sdp.replacingOccurrences(of: "a=sendrecv", with: "a=sendonly"))
        let out = h.take()
        #expect(out.contains { $0.1 == callee && $0.0.statusCode == 100 })
        let toCaller = try #require(out.first { $0.1 == caller && $0.0.method == "INVITE" }?.0)
        #expect(toCaller.callID == "a84b4c76e66710@127.0.0.1")
        #expect(toCaller.fromTag == ok.toTag)
        #expect(toCaller.toTag == "1928301774")
        #expect(toCaller.requestURI?.port == 5070)               // the caller's Contact
        let body = String(decoding: toCaller.body, as: UTF8.self)
        #expect(body.contains("a=sendonly"))
        #expect(body.contains("m=audio 20000 "))
        // The caller accepts; the 200 goes back to the callee on leg B, and leg A is ACKed.
        let accept = toCaller.makeResponse(200, "OK")
        accept.setBody(Fixtures.bytes(Fixtures.sdp.replacingOccurrences(of: "a=sendrecv", with: "a=recvonly")), contentType: "application/sdp")
        try h.deliver(accept, from: caller)
        let out2 = h.take()
        #expect(out2.contains { $0.1 == caller && $0.0.method == "ACK" })
        let ok2 = try #require(out2.first { $0.1 == callee && $0.0.statusCode == 200 }?.0)
        #expect(ok2.cseqNumber == 7)
        #expect(String(decoding: ok2.body, as: UTF8.self).contains("a=recvonly"))
    }

    @Test func unansweredReInviteGivesItsSender408() throws {
        let h = try B2BHarness()
        let bInvite = try h.startCall()
        let ok = try h.answer(bInvite)
        try h.callerAck(for: ok)
        try h.calleeReInvite(after: bInvite, cseq: 9)
        _ = h.take()
        h.wire.advance(.seconds(32))                       // timer B on leg A
        let toCallee = h.sent(to: callee)
        #expect(toCallee.contains { $0.statusCode == 408 && $0.cseqNumber == 9 })
        #expect(h.b2bua.activeCalls == 1)                  // the call itself goes on
    }

    @Test func unknownMethodsDialogsAndRoutesGetTheRightStatus() throws {
        let h = try B2BHarness(routes: [StaticRoute(match: "^9", host: "127.0.0.1", port: 5080)])
        func status(_ text: String) throws -> Int? {
            try h.deliver(text, from: caller)
            return h.sent(to: caller).last?.statusCode
        }
        let info = Fixtures.invite(branch: "z9hG4bKinfo").replacingOccurrences(of: "INVITE sip:", with: "MESSAGE sip:")
            .replacingOccurrences(of: "314159 INVITE", with: "314159 MESSAGE")
        #expect(try status(info) == 501)
        let bye = Fixtures.invite(branch: "z9hG4bKbye", toTag: "nope").replacingOccurrences(of: "INVITE sip:", with: "BYE sip:")
            .replacingOccurrences(of: "314159 INVITE", with: "314159 BYE")
        #expect(try status(bye) == 481)
        #expect(try status(Fixtures.invite(branch: "z9hG4bKnoroute", user: "bob")) == 404)
        let opts = Fixtures.invite(branch: "z9hG4bKopt").replacingOccurrences(of: "INVITE sip:", with: "OPTIONS sip:")
            .replacingOccurrences(of: "314159 INVITE", with: "314159 OPTIONS")
        #expect(try status(opts) == 200)
        // No SDP is a late offer (RFC 3264 §5): routed like any INVITE.
        #expect(try status(Fixtures.invite(branch: "z9hG4bKnosdp", user: "900", body: "")) == 100)
        // A session interval under sip.session_min_se (90): 422 with Min-SE (RFC 4028 §6).
        let brief = Fixtures.invite(branch: "z9hG4bKbrief", user: "900").replacingOccurrences(of: "CSeq:", with: "Session-Expires: 30\r\nCSeq:")
        try h.deliver(brief, from: caller)
        let tooSmall = try #require(h.sent(to: caller).last)
        #expect(tooSmall.statusCode == 422 && tooSmall.header("Min-SE") == "90")
        h.b2bua.startDraining()
        try h.deliver(Fixtures.invite(branch: "z9hG4bKdrain", user: "900"), from: caller)
        let drained = try #require(h.sent(to: caller).last)
        #expect(drained.statusCode == 503)
        #expect(drained.header("Retry-After") == "30")
    }

    /// Over the session limit a new INVITE gets 503 with Retry-After and a Warning, nothing
    /// is routed or anchored; a call already up is untouched, and once the limit admits
    /// again a new call goes through.
    @Test func sessionLimitRefusesNewCallsOnly() throws {
        let h = try B2BHarness()
        let bInvite = try h.startCall()
        _ = try h.answer(bInvite)
        h.anchor.admits = false
        let anchoredBefore = h.anchor.anchored.count
        try h.deliver(Fixtures.invite(branch: "z9hG4bKlimit", callID: "limit-1"), from: caller)
        let out = h.take()
        let refused = try #require(out.first { $0.1 == caller }?.0)
        #expect(refused.statusCode == 503)
        #expect(refused.header("Retry-After") == "5")
        #expect(refused.header("Warning")?.contains("session limit reached") == true)
        #expect(!out.contains { $0.1 == callee })
        #expect(h.anchor.anchored.count == anchoredBefore)
        #expect(h.b2bua.activeCalls == 1)
        h.anchor.admits = true
        try h.deliver(Fixtures.invite(branch: "z9hG4bKlimit2", callID: "limit-2"), from: caller)
        #expect(h.take().contains { $0.1 == callee && $0.0.method == "INVITE" })
    }

    /// Overloaded (the guard saw the UDP queue fill up): a new INVITE gets 503 with
    /// Retry-After and a Warning and is counted; the live call's BYE is still served.
    @Test func overloadRefusesNewInvitesButServesLiveCalls() throws {
        let h = try B2BHarness()
        let bInvite = try h.startCall()
        let ok = try h.answer(bInvite)
        try h.callerAck(for: ok)
        let observer = CountingObserver()
        h.b2bua.observer = observer
        h.b2bua.overloaded = true
        try h.deliver(Fixtures.invite(branch: "z9hG4bKover", callID: "over-1"), from: caller)
        let out = h.take()
        let refused = try #require(out.first { $0.1 == caller }?.0)
        #expect(refused.statusCode == 503)
        #expect(refused.header("Warning")?.contains("overloaded") == true)
        #expect(refused.header("Retry-After") == "5")
        #expect(!out.contains { $0.1 == callee })
        #expect(observer.overloads == 1)
        try h.deliver("BYE sip:baton@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKbye9\r\n"
                      + "From: Alice <sip:alice@127.0.0.1>;tag=1928301774\r\nTo: \(ok.to!)\r\nCall-ID: a84b4c76e66710@127.0.0.1\r\n"
                      + "CSeq: 314160 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", from: caller)
        #expect(h.take().contains { $0.1 == callee && $0.0.method == "BYE" })
    }

    @Test func calleeErrorIsRelayedToTheCaller() throws {
        let h = try B2BHarness()
        let bInvite = try h.startCall()
        try h.deliver(bInvite.makeResponse(486, "Busy Here", toTag: "x"), from: callee)
        let out = h.take()
        #expect(out.contains { $0.1 == callee && $0.0.method == "ACK" })
        #expect(out.contains { $0.1 == caller && $0.0.statusCode == 486 })
        #expect(h.anchor.endedBy == [.callee])
        #expect(h.anchor.released.count == 1)
    }
}

import Foundation
