import NIOCore
import NIOEmbedded
import Testing
@testable import SIP

/// A transaction layer on an EmbeddedEventLoop: the clock only moves when the test says so.
final class Wire {
    let loop = EmbeddedEventLoop()
    var sent: [(SIPMessage, SIPPeer)] = []
    lazy var layer = TransactionLayer(loop: loop) { [unowned self] m, p in self.sent.append((m, p)) }
    func take() -> [(SIPMessage, SIPPeer)] { defer { sent.removeAll() }; return sent }
    func advance(_ t: TimeAmount) { loop.advanceTime(by: t) }
}

final class RecordingUser: TransactionUser {
    var requests: [(SIPMessage, ServerTransaction)] = []
    var acks: [SIPMessage] = []
    var stray: [SIPMessage] = []
    func didReceive(request: SIPMessage, transaction: ServerTransaction) { requests.append((request, transaction)) }
    func didReceive(ack: SIPMessage, from peer: SIPPeer) { acks.append(ack) }
    func didReceive(strayResponse: SIPMessage, from peer: SIPPeer) { stray.append(strayResponse) }
}

let udpPeer = SIPPeer(transport: .udp, host: "127.0.0.1", port: 5070)
let tcpPeer = SIPPeer(transport: .tcp, host: "127.0.0.1", port: 5070)

func request(_ method: String, branch: String? = nil) throws -> SIPMessage {
    try SIPMessage.request(method: method, uri: "sip:bob@127.0.0.1", via: "SIP/2.0/UDP 127.0.0.1:5070;branch=\(branch ?? TransactionLayer.newBranch())",
                           from: "<sip:alice@127.0.0.1>;tag=a1", to: "<sip:bob@127.0.0.1>", callID: "c1@test",
                           cseq: 1, contact: "<sip:alice@127.0.0.1:5070>")
}

/// A response to `req` as the far end would send it back.
func reply(_ req: SIPMessage, _ code: Int, toTag: String = "b1") throws -> SIPMessage {
    try SIPMessage.parse(try req.makeResponse(code, "X", toTag: toTag).serialize())
}

@Suite struct ClientTransactionTests {
    @Test func inviteIsRetransmittedOnUDPWithTimerADoubling() throws {
        let w = Wire()
        var events: [ClientTransaction.Event] = []
        let invite = try request("INVITE")
        invite.removeAllVias()
        w.layer.send(invite, to: udpPeer, via: "127.0.0.1:5060") { events.append($0) }
        #expect(w.take().count == 1)
        // Timer A: 500 ms, then 1 s, 2 s, 4 s ...
        w.advance(.milliseconds(499)); #expect(w.take().isEmpty)
        w.advance(.milliseconds(1)); #expect(w.take().count == 1)
        w.advance(.milliseconds(999)); #expect(w.take().isEmpty)
        w.advance(.milliseconds(1)); #expect(w.take().count == 1)
        w.advance(.seconds(2)); #expect(w.take().count == 1)
        // A provisional response stops retransmission.
        w.layer.receive(try reply(invite, 180), from: udpPeer)
        w.advance(.seconds(10)); #expect(w.take().isEmpty)
        #expect(events.count == 1)
    }

    @Test func timerBTimesOutAnUnansweredInvite() throws {
        let w = Wire()
        var timedOut = false
        let invite = try request("INVITE"); invite.removeAllVias()
        w.layer.send(invite, to: udpPeer, via: "127.0.0.1:5060") { if case .timeout = $0 { timedOut = true } }
        w.advance(.milliseconds(31_999)); #expect(!timedOut)
        w.advance(.milliseconds(1)); #expect(timedOut)   // 64·T1 = 32 s
        #expect(w.layer.clientCount == 0)
        // 7 sends in 32 s: 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5
        #expect(w.take().count == 7)
    }

    @Test func noRetransmissionOverTCP() throws {
        let w = Wire()
        let invite = try request("INVITE"); invite.removeAllVias()
        w.layer.send(invite, to: tcpPeer, via: "127.0.0.1:5060") { _ in }
        w.advance(.seconds(20))
        #expect(w.take().count == 1)
    }

    @Test func timerFTimesOutANonInviteAndTimerECapsAtT2() throws {
        let w = Wire()
        var timedOut = false
        let options = try request("OPTIONS"); options.removeAllVias()
        w.layer.send(options, to: udpPeer, via: "127.0.0.1:5060") { if case .timeout = $0 { timedOut = true } }
        _ = w.take()
        // E: 0.5, 1, 2, 4, 4, 4 ... s
        var times: [Int] = []
        for ms in stride(from: 100, through: 32_000, by: 100) {
            w.advance(.milliseconds(100))
            if !w.take().isEmpty { times.append(ms) }
        }
        #expect(Array(times.prefix(6)) == [500, 1500, 3500, 7500, 11500, 15500])
        #expect(timedOut)
    }

    @Test func timerKAbsorbsRetransmittedFinalsThenEnds() throws {
        let w = Wire()
        var finals = 0
        let bye = try request("BYE"); bye.removeAllVias()
        w.layer.send(bye, to: udpPeer, via: "127.0.0.1:5060") { if case .response = $0 { finals += 1 } }
        let sent = w.take()[0].0
        w.layer.receive(try reply(sent, 200), from: udpPeer)
        w.advance(.seconds(2))
        w.layer.receive(try reply(sent, 200), from: udpPeer)   // retransmission: absorbed
        #expect(finals == 1)
        #expect(w.layer.clientCount == 1)
        w.advance(.seconds(3))                                  // T4 = 5 s after the final
        #expect(w.layer.clientCount == 0)
        #expect(w.take().isEmpty)                               // no retransmission after the final
    }

    @Test func nonSuccessFinalIsAcknowledgedByTheTransaction() throws {
        let w = Wire()
        var finals: [Int] = []
        let invite = try request("INVITE"); invite.removeAllVias()
        w.layer.send(invite, to: udpPeer, via: "127.0.0.1:5060") { if case .response(let r) = $0 { finals.append(r.statusCode) } }
        let sentInvite = w.take()[0].0
        let busy = try reply(sentInvite, 486)
        w.layer.receive(busy, from: udpPeer)
        let ack = w.take()
        #expect(ack.count == 1)
        #expect(ack[0].0.method == "ACK")
        #expect(ack[0].0.topViaBranch == sentInvite.topViaBranch)   // same branch (§17.1.1.3)
        #expect(ack[0].0.toTag == "b1")
        // A retransmitted 486 is absorbed: ACK again, not passed up twice.
        w.layer.receive(try reply(sentInvite, 486), from: udpPeer)
        #expect(w.take().map { $0.0.method } == ["ACK"])
        #expect(finals == [486])
        // Timer D (32 s) then ends it.
        w.advance(.seconds(32))
        #expect(w.layer.clientCount == 0)
    }
}

@Suite struct ServerTransactionTests {
    @Test func retransmittedRequestGetsTheLastResponse() throws {
        let w = Wire(); let user = RecordingUser(); w.layer.user = user
        let inv = try SIPMessage.parse(try request("INVITE", branch: "z9hG4bKaaa").serialize())
        w.layer.receive(inv, from: udpPeer)
        #expect(user.requests.count == 1)
        user.requests[0].1.respond(100, "Trying")
        _ = w.take()
        w.layer.receive(try SIPMessage.parse(try inv.serialize()), from: udpPeer)
        #expect(user.requests.count == 1)              // not a new request
        #expect(w.take().map { $0.0.statusCode } == [100])
    }

    @Test func ackForNonSuccessIsAbsorbedAndStopsTimerG() throws {
        let w = Wire(); let user = RecordingUser(); w.layer.user = user
        let inv = try SIPMessage.parse(try request("INVITE", branch: "z9hG4bKbbb").serialize())
        w.layer.receive(inv, from: udpPeer)
        let t = user.requests[0].1
        t.respond(486, "Busy Here", toTag: "t1")
        #expect(w.take().count == 1)
        // Timer G retransmits the 486: 0.5 s, then 1 s.
        w.advance(.milliseconds(500)); #expect(w.take().count == 1)
        w.advance(.seconds(1)); #expect(w.take().count == 1)
        // The ACK (same branch) matches the transaction: absorbed, never reaches the TU.
        let ack = try request("ACK", branch: "z9hG4bKbbb")
        try ack.setTo("<sip:bob@127.0.0.1>;tag=t1")
        w.layer.receive(try SIPMessage.parse(try ack.serialize()), from: udpPeer)
        #expect(user.acks.isEmpty)
        #expect(t.state == .confirmed)
        w.advance(.seconds(10)); #expect(w.take().isEmpty)
        #expect(w.layer.serverCount == 0)           // timer I ended it
    }

    @Test func timerHGivesUpWithoutAck() throws {
        let w = Wire(); let user = RecordingUser(); w.layer.user = user
        w.layer.receive(try SIPMessage.parse(try request("INVITE", branch: "z9hG4bKccc").serialize()), from: udpPeer)
        let t = user.requests[0].1
        var gaveUp = false
        t.onAckTimeout = { gaveUp = true }
        t.respond(404, "Not Found", toTag: "t")
        w.advance(.seconds(31)); #expect(!gaveUp)
        w.advance(.seconds(1)); #expect(gaveUp)
        // G doubles up to T2: sends at 0 and 0.5, 1.5, 3.5, 7.5, 11.5, ... 31.5 s -> 11 in 32 s
        #expect(w.take().count == 11)
    }

    @Test func timerJKeepsANonInviteFinalForRetransmissions() throws {
        let w = Wire(); let user = RecordingUser(); w.layer.user = user
        let opt = try SIPMessage.parse(try request("OPTIONS", branch: "z9hG4bKddd").serialize())
        w.layer.receive(opt, from: udpPeer)
        user.requests[0].1.respond(200, "OK", toTag: "t")
        _ = w.take()
        w.advance(.seconds(20))
        w.layer.receive(try SIPMessage.parse(try opt.serialize()), from: udpPeer)
        #expect(w.take().map { $0.0.statusCode } == [200])
        w.advance(.seconds(12))
        #expect(w.layer.serverCount == 0)
    }
}
