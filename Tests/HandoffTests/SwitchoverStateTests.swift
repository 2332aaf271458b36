import Calls
import Foundation
import Handoff
import Media
import NIOCore
import NIOEmbedded
import SIP
import Synchronization
import TestSupport
import Testing

/// The switchover state machine (Handoff over the B2BUA and the call layer) on an in-process
/// SIP wire with an injected clock: the SIP loop is a `NIOAsyncTestingEventLoop`, so Timer B
/// and the no-media timer fire when the test moves time, not after seconds of waiting. The
/// media relay is real (loopback ports), the SIP peers are messages the test writes.
///
/// F (far party, 5070) calls "mobile" P (5080) through Baton; switchovers move P's side to
/// "kitchen" S (5090).
final class HandoffHarness: Sendable {
    static let far = SIPPeer(transport: .udp, host: "127.0.0.1", port: 5070)
    static let phone = SIPPeer(transport: .udp, host: "127.0.0.1", port: 5080)
    static let speaker = SIPPeer(transport: .udp, host: "127.0.0.1", port: 5090)

    let loop = NIOAsyncTestingEventLoop()
    let relay: MediaRelay
    let calls: CallManager
    let sip: SIPServer
    let handoff: Handoff
    /// Baton's RTP port for F's side and the To header (with Baton's tag) of F's dialog, once
    /// the call is up (test thread only).
    nonisolated(unsafe) var farPort = 0
    nonisolated(unsafe) var farTo: String?
    /// What Baton sent, serialized, with where to.
    final class Outbox: Sendable { let sent = Mutex<[([UInt8], SIPPeer)]>([]) }
    private let outbox = Outbox()

    init(ports: Int, noMediaMillis: Int = 3000) throws {
        var media = MediaRelay.Configuration()
        media.portMin = ports
        media.portMax = ports + 49
        relay = try MediaRelay(configuration: media)
        relay.start()
        calls = CallManager(relay: relay)
        var conf = SIPServer.Configuration()
        conf.routes = [StaticRoute(match: "^mobile$", host: "127.0.0.1", port: 5080),
                       StaticRoute(match: "^kitchen$", host: "127.0.0.1", port: 5090)]
        let outbox = self.outbox
        sip = try SIPServer(configuration: conf, loop: loop) { m, peer in
            if let bytes = try? m.serialize() { outbox.sent.withLock { $0.append((bytes, peer)) } }
        }
        var hc = Handoff.Configuration()
        hc.noMediaTimeoutMillis = noMediaMillis
        handoff = Handoff(sip: sip, calls: calls, configuration: hc)
    }

    func start() async throws {
        try await sip.onLoop { [sip, calls] in sip.b2bua.delegate = calls }
        try await handoff.installSIPTriggers()
    }

    func stop() async throws {
        relay.shutdown()
        await loop.shutdownGracefully()
    }

    /// Delivers a message as if it came off the wire from `peer`, on the SIP loop.
    func deliver(_ m: SIPMessage, from peer: SIPPeer) async throws {
        let bytes = try m.serialize()
        try await loop.executeInContext { [sip] in
            sip.layer.receive(try SIPMessage.parse(bytes), from: peer)
        }
    }

    /// Takes what Baton sent to `peer` so far.
    func take(to peer: SIPPeer) throws -> [SIPMessage] {
        try outbox.sent.withLock { all in
            let mine = all.filter { $0.1 == peer }
            all.removeAll { $0.1 == peer }
            return try mine.map { try SIPMessage.parse($0.0) }
        }
    }

    /// Waits (bounded) until Baton sent `peer` a message that `match` accepts; relay threads
    /// report on their own time, so some steps need a moment of real time.
    func await(to peer: SIPPeer, within: Duration = .seconds(3), _ match: (SIPMessage) -> Bool) async throws -> SIPMessage? {
        let end = ContinuousClock.now + within
        var seen: [SIPMessage] = []
        while ContinuousClock.now < end {
            seen += try take(to: peer)
            if let m = seen.first(where: match) { return m }
            try await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    static func sdp(port: Int) -> [UInt8] {
        Array("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio \(port) RTP/AVP 0\r\na=sendrecv\r\n".utf8)
    }

    /// A 2xx from a device to Baton's INVITE, with its SDP.
    static func answer(_ invite: SIPMessage, tag: String, contact: SIPPeer, rtp: Int) throws -> SIPMessage {
        let ok = invite.makeResponse(200, "OK", toTag: tag)
        try ok.setContact("<sip:dev@127.0.0.1:\(contact.port)>")
        ok.setBody(sdp(port: rtp), contentType: "application/sdp")
        return ok
    }

    /// F calls mobile; P answers; F acknowledges. Returns the call id.
    func establish(farRTP: Int = 41000, phoneRTP: Int = 42000) async throws -> String {
        let invite = try SIPMessage.request(method: .invite, uri: "sip:mobile@127.0.0.1:5060",
                                            via: "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKfar1;rport",
                                            from: "<sip:far@127.0.0.1>;tag=ftag", to: "<sip:mobile@127.0.0.1>",
                                            callID: "far-call@127.0.0.1", cseq: 1, contact: "<sip:far@127.0.0.1:5070>")
        invite.setBody(Self.sdp(port: farRTP), contentType: "application/sdp")
        try await deliver(invite, from: Self.far)
        let toP = try #require(try await self.await(to: Self.phone) { $0.sipMethod == .invite }, "no INVITE to P")
        try await deliver(try Self.answer(toP, tag: "ptag", contact: Self.phone, rtp: phoneRTP), from: Self.phone)
        let ok = try #require(try await self.await(to: Self.far) { $0.statusCode == 200 }, "no 200 to F")
        farPort = try SessionDescription(parsing: ok.body).media[0].port
        farTo = ok.to
        let ack = try SIPMessage.request(method: .ack, uri: "sip:baton@127.0.0.1:5060",
                                         via: "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKfarack;rport",
                                         from: try #require(ok.from), to: try #require(ok.to), callID: "far-call@127.0.0.1",
                                         cseq: 1, contact: nil)
        try await deliver(ack, from: Self.far)
        return try #require(calls.calls().first?.id)
    }

    /// Lets what the last steps started settle: every relay thread has run the commands sent
    /// to it (an abort's answer included) and the SIP loop has run what they handed back.
    func settle() async {
        await relay.barrier()
        await loop.run()
    }

    /// Polls an operation until it reaches a final state (bounded).
    func final(_ id: String) async throws -> SwitchoverOperation? {
        let end = ContinuousClock.now + .seconds(3)
        while ContinuousClock.now < end {
            if let op = handoff.operation(id: id), op.state == .completed || op.state == .failed { return op }
            try await Task.sleep(for: .milliseconds(10))
        }
        return handoff.operation(id: id)
    }
}

@Suite(.serialized) struct SwitchoverStateTests {
    /// The call itself: never a message to F, P still in it, media still anchored.
    func expectCallUntouched(_ h: HandoffHarness, _ id: String) throws {
        #expect(try h.take(to: HandoffHarness.far).filter { $0.isRequest }.isEmpty, "F must see nothing of a failed switchover")
        #expect(try h.take(to: HandoffHarness.phone).filter { $0.sipMethod == .bye }.isEmpty, "P keeps the call")
        #expect(h.calls.call(id: id)?.state == .answered)
        // The controller's call is back to its two party legs: the failed leg is gone.
        let call = try #require(h.calls.liveCall(id: id))
        #expect(call.legs.map(\.role) == [.party(.caller), .party(.callee)], "\(call.legs)")
        #expect(call.leg(.callee)?.control == .sip(HandoffHarness.phone))
    }

    @Test func aBusyTargetFailsTheSwitchoverAndLeavesTheCall() async throws {
        let h = try HandoffHarness(ports: TestPorts.base(50))
        try await h.start()
        let id = try await h.establish()
        let op = try await h.handoff.switchover(call: id, SwitchoverRequest(target: "kitchen", mode: .now))
        #expect(op.state == .requested)
        let toS = try #require(try await h.await(to: HandoffHarness.speaker) { $0.sipMethod == .invite })
        // While S is invited the call has a third leg, replacing the callee's.
        let during = try #require(h.calls.liveCall(id: id))
        #expect(during.legs.map(\.role) == [.party(.caller), .party(.callee), .incoming(replacing: .callee)])
        #expect(during.legs.map(\.number) == [0, 1, 2])
        try await h.deliver(toS.makeResponse(486, "Busy Here", toTag: "stag"), from: HandoffHarness.speaker)
        let done = try #require(try await h.final(op.id))
        #expect(done.state == .failed)
        #expect(done.reason == "486 Busy Here")
        #expect(done.events.map(\.kind) == [.requested, .failed])
        #expect(try await h.await(to: HandoffHarness.speaker) { $0.sipMethod == .ack } != nil, "486 acknowledged")
        try expectCallUntouched(h, id)
        // The failed leg left nothing behind: the next switchover may start.
        let again = try await h.handoff.switchover(call: id, SwitchoverRequest(target: "kitchen", mode: .now))
        #expect(again.state == .requested)
        try await h.stop()
    }

    @Test func aTargetThatNeverAnswersTimesOutOnTheInjectedClock() async throws {
        let h = try HandoffHarness(ports: TestPorts.base(50))
        try await h.start()
        let id = try await h.establish()
        let op = try await h.handoff.switchover(call: id, SwitchoverRequest(target: "kitchen", mode: .now))
        #expect(try await h.await(to: HandoffHarness.speaker) { $0.sipMethod == .invite } != nil)
        await h.loop.advanceTime(by: .seconds(31))
        await h.settle()
        #expect(h.handoff.operation(id: op.id)?.state == .requested, "still waiting before Timer B (64*T1)")
        await h.loop.advanceTime(by: .seconds(2))
        await h.settle()
        #expect(h.handoff.operation(id: op.id)?.state == .failed, "Timer B, on the injected clock")
        let done = try #require(try await h.final(op.id))
        #expect(done.state == .failed)
        #expect(done.reason == "408 the target did not answer")
        try expectCallUntouched(h, id)
        try await h.stop()
    }

    @Test func aTargetThatAnswersButSendsNoMediaIsTakenDownAfterTheBound() async throws {
        let h = try HandoffHarness(ports: TestPorts.base(50), noMediaMillis: 1000)
        try await h.start()
        let id = try await h.establish()
        let op = try await h.handoff.switchover(call: id, SwitchoverRequest(target: "kitchen", mode: .now, primingMs: 200))
        let toS = try #require(try await h.await(to: HandoffHarness.speaker) { $0.sipMethod == .invite })
        try await h.deliver(try HandoffHarness.answer(toS, tag: "stag", contact: HandoffHarness.speaker, rtp: 43000), from: HandoffHarness.speaker)
        #expect(try await h.await(to: HandoffHarness.speaker) { $0.sipMethod == .ack } != nil, "S's 200 acknowledged")
        #expect(h.handoff.operation(id: op.id)?.state == .answered)
        // priming 200 + window 300 + no media 1000 ms: nothing before, given up after.
        await h.loop.advanceTime(by: .milliseconds(1400))
        await h.settle()
        #expect(h.handoff.operation(id: op.id)?.state == .answered)
        await h.loop.advanceTime(by: .milliseconds(200))
        await h.settle()
        #expect(h.handoff.operation(id: op.id)?.state == .failed, "given up at the bound, on the injected clock")
        let done = try #require(try await h.final(op.id))
        #expect(done.state == .failed)
        #expect(done.reason?.hasPrefix("no RTP from the target within 1000 ms") == true, "\(done.reason ?? "")")
        #expect(try await h.await(to: HandoffHarness.speaker) { $0.sipMethod == .bye } != nil, "the new leg is hung up")
        try expectCallUntouched(h, id)
        try await h.stop()
    }

    @Test func aSecondSwitchoverWhileOneRunsIsRefused() async throws {
        let h = try HandoffHarness(ports: TestPorts.base(50))
        try await h.start()
        let id = try await h.establish()
        _ = try await h.handoff.switchover(call: id, SwitchoverRequest(target: "kitchen", mode: .now))
        await #expect(throws: HandoffError.self) {
            _ = try await h.handoff.switchover(call: id, SwitchoverRequest(target: "kitchen", mode: .now))
        }
        await #expect(throws: HandoffError.self) {
            _ = try await h.handoff.switchover(call: id, SwitchoverRequest(target: "kitchen", mode: .now, primingMs: 20_000))
        }
        try await h.stop()
    }

    /// F's BYE for the call `establish` set up.
    static func farBye(_ h: HandoffHarness, branch: String) throws -> SIPMessage {
        try SIPMessage.request(method: .bye, uri: "sip:baton@127.0.0.1:5060",
                               via: "SIP/2.0/UDP 127.0.0.1:5070;branch=\(branch);rport",
                               from: "<sip:far@127.0.0.1>;tag=ftag", to: try #require(h.farTo),
                               callID: "far-call@127.0.0.1", cseq: 2, contact: nil)
    }

    /// The far party hangs up while the switchover is armed (S answered, priming, no splice
    /// yet): the operation fails, both devices get their BYE, no relay port is left behind.
    @Test func theCallEndingWhileTheSwitchoverIsArmedAbortsItCleanly() async throws {
        let h = try HandoffHarness(ports: TestPorts.base(50))
        try await h.start()
        let id = try await h.establish()
        let op = try await h.handoff.switchover(call: id, SwitchoverRequest(target: "kitchen", mode: .silence, primingMs: 5000))
        let toS = try #require(try await h.await(to: HandoffHarness.speaker) { $0.sipMethod == .invite })
        try await h.deliver(try HandoffHarness.answer(toS, tag: "stag", contact: HandoffHarness.speaker, rtp: 43000), from: HandoffHarness.speaker)
        #expect(try await h.await(to: HandoffHarness.speaker) { $0.sipMethod == .ack } != nil)
        await h.settle()
        #expect(h.handoff.operation(id: op.id)?.state == .answered, "armed, priming, not spliced")
        try await h.deliver(try Self.farBye(h, branch: "z9hG4bKfarbye-armed"), from: HandoffHarness.far)
        let done = try #require(try await h.final(op.id))
        #expect(done.state == .failed, "\(done)")
        #expect(done.reason != nil)
        #expect(try await h.await(to: HandoffHarness.speaker) { $0.sipMethod == .bye } != nil, "the new leg is hung up")
        #expect(try await h.await(to: HandoffHarness.phone) { $0.sipMethod == .bye } != nil, "the old device is hung up")
        await h.settle()
        #expect(h.calls.call(id: id)?.state == .ended)
        #expect(waitUntil { h.relay.pool.pairsInUse == 0 }, "ports left: \(h.relay.pool.pairsInUse)")
        try await h.stop()
    }

    /// The far party's BYE and the new device's first packet (which splices, mode `now`)
    /// arrive together: whichever wins, the call ends, both devices get a BYE and every
    /// relay port comes back; the operation ends in a final state.
    @Test func theCallEndingAsTheSpliceHappensLeavesNothingBehind() async throws {
        for round in 0..<3 {
            let h = try HandoffHarness(ports: TestPorts.base(50))
            try await h.start()
            let id = try await h.establish()
            let speaker = try UDPSocket(receiveTimeout: .milliseconds(10))
            let op = try await h.handoff.switchover(call: id, SwitchoverRequest(target: "kitchen", mode: .now, primingMs: 0))
            let toS = try #require(try await h.await(to: HandoffHarness.speaker) { $0.sipMethod == .invite })
            let batonPort = try SessionDescription(parsing: toS.body).media[0].port
            try await h.deliver(try HandoffHarness.answer(toS, tag: "stag", contact: HandoffHarness.speaker, rtp: speaker.port),
                                from: HandoffHarness.speaker)
            await h.settle()
            // The race: S's first packet (the splice) and F's BYE, in an order that varies by round.
            if round == 1 { try await h.deliver(try Self.farBye(h, branch: "z9hG4bKrace\(round)"), from: HandoffHarness.far) }
            speaker.send(Self.rtp(seq: 1, ssrc: 9, fill: 0x55), to: batonPort)
            if round != 1 { try await h.deliver(try Self.farBye(h, branch: "z9hG4bKrace\(round)"), from: HandoffHarness.far) }
            let done = try #require(try await h.final(op.id))
            #expect(done.state == .completed || done.state == .failed, "round \(round): \(done)")
            #expect(try await h.await(to: HandoffHarness.speaker) { $0.sipMethod == .bye } != nil, "round \(round): S hung up")
            #expect(try await h.await(to: HandoffHarness.phone) { $0.sipMethod == .bye } != nil, "round \(round): P hung up")
            await h.settle()
            #expect(h.calls.call(id: id)?.state == .ended, "round \(round)")
            #expect(waitUntil { h.relay.pool.pairsInUse == 0 }, "round \(round): ports left: \(h.relay.pool.pairsInUse), \(done.state) \(done.reason ?? "") \(done.events.map { "\($0.kind.rawValue):\($0.detail ?? "")" })")
            try await h.stop()
        }
    }

    /// RTP as a device sends it: PCMU, 20 ms frames, its payload filled with `fill` so the
    /// far party can tell whose audio it hears.
    static func rtp(seq: Int, ssrc: UInt32, fill: UInt8) -> [UInt8] {
        let ts = UInt32(truncatingIfNeeded: seq * 160)
        return [0x80, 0x00, UInt8(truncatingIfNeeded: seq >> 8), UInt8(truncatingIfNeeded: seq),
                UInt8(truncatingIfNeeded: ts >> 24), UInt8(truncatingIfNeeded: ts >> 16), UInt8(truncatingIfNeeded: ts >> 8), UInt8(truncatingIfNeeded: ts),
                UInt8(truncatingIfNeeded: ssrc >> 24), UInt8(truncatingIfNeeded: ssrc >> 16), UInt8(truncatingIfNeeded: ssrc >> 8), UInt8(truncatingIfNeeded: ssrc)]
            + [UInt8](repeating: fill, count: 160)
    }

    /// Moves the call to `target` (`mode: now`, no priming): the target's device answers
    /// from `device` with RTP from `socket`, sends `fill` frames until the operation ends.
    /// Returns the final operation and the payload fills F heard.
    func move(_ h: HandoffHarness, call id: String, to target: String, device: SIPPeer, tag: String,
              socket: UDPSocket, fill: UInt8, far: UDPSocket) async throws -> (SwitchoverOperation, Set<UInt8>) {
        let op = try await h.handoff.switchover(call: id, SwitchoverRequest(target: target, mode: .now, primingMs: 0))
        let invite = try #require(try await h.await(to: device) { $0.sipMethod == .invite && $0.toTag == nil })
        let batonPort = try SessionDescription(parsing: invite.body).media[0].port
        try await h.deliver(try HandoffHarness.answer(invite, tag: tag, contact: device, rtp: socket.port), from: device)
        var heard = Set<UInt8>()
        var final: SwitchoverOperation?
        for seq in 0..<100 {
            socket.send(Self.rtp(seq: seq, ssrc: UInt32(fill) * 1000, fill: fill), to: batonPort)
            await h.settle()
            if let p = far.receiveBytes(), p.count > 12 { heard.insert(p[12]) }
            if let o = h.handoff.operation(id: op.id), o.state == .completed || o.state == .failed { final = o; break }
            try await Task.sleep(for: .milliseconds(20))
        }
        // What F hears from here on is the new device's.
        for seq in 100..<105 {
            socket.send(Self.rtp(seq: seq, ssrc: UInt32(fill) * 1000, fill: fill), to: batonPort)
            if let p = far.receiveBytes(), p.count > 12 { heard.insert(p[12]) }
        }
        return (try #require(final, "switchover to \(target) did not finish"), heard)
    }

    /// A full round trip on the in-process wire: P -> S at S's first packet, then S -> P;
    /// each old device gets its BYE once the new one carries the call, F hears the new
    /// device's audio and is never signalled.
    @Test func phoneToSpeakerAndBackSplicesOnTheNewDevicesMedia() async throws {
        let h = try HandoffHarness(ports: TestPorts.base(50))
        try await h.start()
        let far = try UDPSocket(receiveTimeout: .milliseconds(30)), phone = try UDPSocket(receiveTimeout: .milliseconds(30))
        let speaker = try UDPSocket(receiveTimeout: .milliseconds(30))
        let id = try await h.establish(farRTP: far.port, phoneRTP: phone.port)
        // F talks so its side is latched (its audio goes to whichever device holds the call).
        far.send(Self.rtp(seq: 1, ssrc: 7, fill: 0x11), to: h.farPort)

        let (there, heardS) = try await move(h, call: id, to: "kitchen", device: HandoffHarness.speaker, tag: "stag",
                                             socket: speaker, fill: 0x55, far: far)
        #expect(there.state == .completed, "\(there)")
        #expect(there.events.map(\.kind).contains(.spliced))
        #expect(heardS.contains(0x55), "F heard S after the splice: \(heardS)")
        // S's leg (the call's third) now speaks for the callee; P's leg is gone.
        let moved = try #require(h.calls.liveCall(id: id))
        #expect(moved.legs.map(\.number) == [0, 2], "\(moved.legs)")
        #expect(moved.leg(.callee)?.control == .sip(HandoffHarness.speaker))
        #expect(moved.leg(.callee)?.callID != nil && moved.leg(.callee)?.callID != moved.leg(.caller)?.callID)
        print("handoff round trip: S heard \(heardS.sorted()), \(there.events.map(\.kind.rawValue))")
        #expect(try await h.await(to: HandoffHarness.phone) { $0.sipMethod == .bye } != nil, "P released")
        #expect(try h.take(to: HandoffHarness.far).filter { $0.isRequest }.isEmpty, "nothing to F")

        let (back, heardP) = try await move(h, call: id, to: "mobile", device: HandoffHarness.phone, tag: "ptag2",
                                            socket: phone, fill: 0x33, far: far)
        #expect(back.state == .completed, "\(back)")
        #expect(heardP.contains(0x33), "F heard P again after the switch back: \(heardP)")
        #expect(h.calls.liveCall(id: id)?.legs.map(\.number) == [0, 3])
        #expect(h.calls.liveCall(id: id)?.leg(.callee)?.control == .sip(HandoffHarness.phone))
        #expect(try await h.await(to: HandoffHarness.speaker) { $0.sipMethod == .bye } != nil, "S released")
        #expect(try h.take(to: HandoffHarness.far).filter { $0.isRequest }.isEmpty, "nothing to F")
        #expect(h.calls.call(id: id)?.state == .answered)
        try await h.stop()
    }
}

/// A drain waits for the last call to end (told by the B2BUA, no polling), or gives up at its
/// timeout on the SIP loop's clock with the calls still up.
@Suite(.serialized) struct DrainTests {
    @Test func aDrainEndsWhenTheLastCallEndsOrAtItsTimeout() async throws {
        let h = try HandoffHarness(ports: TestPorts.base(50))
        try await h.start()
        #expect(try await h.sip.waitUntilIdle(timeout: .seconds(5)) == 0, "no call: at once")
        let id = try await h.establish()
        // Timeout: 5 s on the injected clock, not before.
        final class Result: Sendable { let left = Mutex<Int?>(nil) }
        let result = Result()
        let timedOut = Task { let n = try await h.sip.waitUntilIdle(timeout: .seconds(5)); result.left.withLock { $0 = n } }
        try await Task.sleep(for: .milliseconds(50))
        await h.loop.advanceTime(by: .seconds(4))
        try await Task.sleep(for: .milliseconds(50))
        #expect(result.left.withLock { $0 } == nil, "still waiting at 4 s")
        #expect(h.calls.call(id: id)?.state == .answered)
        await h.loop.advanceTime(by: .seconds(2))
        try await timedOut.value
        #expect(result.left.withLock { $0 } == 1, "gave up at 5 s with the call still up")
        // The far party hangs up: the waiting drain ends then, long before its timeout.
        let idle = Task { try await h.sip.waitUntilIdle(timeout: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(50))
        let bye = try SIPMessage.request(method: .bye, uri: "sip:baton@127.0.0.1:5060",
                                         via: "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKfarbye;rport",
                                         from: "<sip:far@127.0.0.1>;tag=ftag", to: try #require(h.farTo),
                                         callID: "far-call@127.0.0.1", cseq: 2, contact: nil)
        try await h.deliver(bye, from: HandoffHarness.far)
        #expect(try await idle.value == 0)
        try await h.stop()
    }
}
