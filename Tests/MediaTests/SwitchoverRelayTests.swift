import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Media

/// The splice on a running relay, with real loopback sockets: F talks to P, then S takes
/// P's place; F must see one SSRC and consecutive sequence numbers throughout.
@Suite(.serialized) struct SwitchoverRelayTests {
    static func rtp(ssrc: UInt32, seq: UInt16, ts: UInt32, loud: Bool) -> [UInt8] {
        var p: [UInt8] = [0x80, 0x00, UInt8(seq >> 8), UInt8(seq & 0xFF),
                          UInt8(ts >> 24), UInt8((ts >> 16) & 0xFF), UInt8((ts >> 8) & 0xFF), UInt8(ts & 0xFF),
                          UInt8(ssrc >> 24), UInt8((ssrc >> 16) & 0xFF), UInt8((ssrc >> 8) & 0xFF), UInt8(ssrc & 0xFF)]
        // µ-law: 0x80/0x00 are full scale (speech), 0xFF is zero (silence).
        p += (0..<160).map { i in loud ? (i % 2 == 0 ? 0x80 : 0x00) : 0xFF }
        return p
    }
    static func header(_ b: [UInt8]) -> (ssrc: UInt32, seq: UInt16, ts: UInt32, marker: Bool) {
        (UInt32(b[8]) << 24 | UInt32(b[9]) << 16 | UInt32(b[10]) << 8 | UInt32(b[11]),
         UInt16(b[2]) << 8 | UInt16(b[3]),
         UInt32(b[4]) << 24 | UInt32(b[5]) << 16 | UInt32(b[6]) << 8 | UInt32(b[7]), b[1] & 0x80 != 0)
    }

    func run(mode: SpliceDecider.Mode, loudUntil: Int) throws -> (received: [[UInt8]], report: SpliceReport?, sGotF: Int) {
        let relay = try startedRelay(ports: TestPorts.range(100), threads: 1)
        defer { relay.shutdown() }
        let stream = try relay.allocate()
        let f = try UDPSocket(receiveTimeout: .milliseconds(50)), p = try UDPSocket(), s = try UDPSocket(receiveTimeout: .milliseconds(50))
        try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: f.port)
        try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: p.port)
        #expect(relay.barrierBlocking(), "the relay threads ran the commands")
        var received: [[UInt8]] = []
        func drainF() { while let b = f.receiveBytes() { received.append(b) } }
        // P talks to F for 10 packets.
        var pSeq: UInt16 = 65530, pTS: UInt32 = UInt32.max - 800
        for i in 0..<10 {
            p.send(Self.rtp(ssrc: 0xF00DF00D, seq: pSeq, ts: pTS, loud: i < 100), to: stream.port(.b))
            pSeq &+= 1; pTS &+= 160
            usleep(2000)
        }
        let leg = try relay.prepareSwitch(stream, replacing: .b)
        try relay.setRemote(leg, ip: "127.0.0.1", port: s.port)
        #expect(relay.barrierBlocking(), "the relay threads ran the commands")
        let report = Mutex<SpliceReport?>(nil)
        relay.arm(leg, mode: mode, windowMillis: 300) { r in report.withLock { $0 = r } }
        // Both P and S send; P goes silent at `loudUntil`. S's packets are held until the splice.
        var sSeq: UInt16 = 100, sTS: UInt32 = 5000
        var i = 0
        while report.withLock({ $0 }) == nil && i < 100 {
            p.send(Self.rtp(ssrc: 0xF00DF00D, seq: pSeq, ts: pTS, loud: i < loudUntil), to: stream.port(.b))
            pSeq &+= 1; pTS &+= 160
            s.send(Self.rtp(ssrc: 0x5EEE5EEE, seq: sSeq, ts: sTS, loud: true), to: leg.port)
            sSeq &+= 1; sTS &+= 160
            i += 1
            usleep(5000)
        }
        #expect(report.withLock { $0 } != nil)
        relay.commit(leg)
        for _ in 0..<10 {
            p.send(Self.rtp(ssrc: 0xF00DF00D, seq: pSeq, ts: pTS, loud: true), to: stream.port(.b))  // old leg: dropped now
            s.send(Self.rtp(ssrc: 0x5EEE5EEE, seq: sSeq, ts: sTS, loud: true), to: leg.port)
            sSeq &+= 1; sTS &+= 160
            f.send(Self.rtp(ssrc: 0xFFFF0001, seq: 1, ts: 1, loud: true), to: stream.port(.a))        // F's audio: to S now
            usleep(5000)
        }
        usleep(20_000)
        drainF()
        var sGotF = 0
        while let b = s.receiveBytes() { if Self.header(b).ssrc == 0xFFFF0001 { sGotF += 1 } }
        #expect(stream.port(.b) == leg.port)
        return (received, report.withLock { $0 }, sGotF)
    }

    func checkContinuity(_ received: [[UInt8]]) {
        let h = received.map(Self.header)
        #expect(Set(h.map(\.ssrc)) == [0xF00DF00D], "one SSRC for the whole stream")
        for k in 1..<h.count { #expect(h[k].seq == h[k - 1].seq &+ 1, "seq step at \(k)") }
        let markers = h.enumerated().filter(\.element.marker).map(\.offset)
        #expect(markers.count == 1)
        if let m = markers.first, m > 0 {
            #expect(h[m].ts &- h[m - 1].ts >= 160 && h[m].ts &- h[m - 1].ts <= 1600)
            #expect(received[m].count == received[m - 1].count)
            #expect(received[m][12] == 0x80, "S's audio (loud) follows the splice")
        }
    }

    @Test func splicesAtSilenceWithOneSSRCAndContinuousSequence() throws {
        let (received, report, sGotF) = try run(mode: .silence, loudUntil: 4)
        #expect(report?.reason == .silence)
        #expect(received.count >= 15)
        checkContinuity(received)
        // Every packet F got after P's last silent one came from S.
        #expect(sGotF == 10)
    }

    @Test func windowExpiresWhenTheOldLegNeverGoesSilent() throws {
        let (received, report, _) = try run(mode: .silence, loudUntil: 1000)
        #expect(report?.reason == .window)
        #expect((report?.silenceWaitMillis ?? 0) >= 299)
        checkContinuity(received)
    }

    @Test func nowModeSplicesAtOnce() throws {
        let (received, report, sGotF) = try run(mode: .now, loudUntil: 1000)
        #expect(report?.reason == .immediate)
        #expect((report?.silenceWaitMillis ?? 1000) < 50)
        checkContinuity(received)
        #expect(sGotF == 10)
    }

    /// Priming: from the arming on, F's audio reaches S too (its own copy, F's stream as it is),
    /// the splice waits until S has heard F for the priming time, and P keeps hearing F until
    /// the commit releases it.
    @Test func primingForksTheFarPartyToTheNewLegBeforeTheSplice() throws {
        let relay = try startedRelay(ports: TestPorts.range(100), threads: 1)
        defer { relay.shutdown() }
        let stream = try relay.allocate()
        let f = try UDPSocket(receiveTimeout: .milliseconds(20)), p = try UDPSocket(receiveTimeout: .milliseconds(20))
        let s = try UDPSocket(receiveTimeout: .milliseconds(1))
        try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: f.port)
        try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: p.port)
        #expect(relay.barrierBlocking(), "the relay threads ran the commands")
        var fSeq: UInt16 = 7000, fTS: UInt32 = 1000, pSeq: UInt16 = 1, pTS: UInt32 = 0, sSeq: UInt16 = 500, sTS: UInt32 = 0
        func tick(_: Bool) {
            f.send(Self.rtp(ssrc: 0xFA11FA11, seq: fSeq, ts: fTS, loud: true), to: stream.port(.a)); fSeq &+= 1; fTS &+= 160
            p.send(Self.rtp(ssrc: 0xF00DF00D, seq: pSeq, ts: pTS, loud: true), to: stream.port(.b)); pSeq &+= 1; pTS &+= 160
        }
        for _ in 0..<5 { tick(false); usleep(5000) }
        let leg = try relay.prepareSwitch(stream, replacing: .b)
        try relay.setRemote(leg, ip: "127.0.0.1", port: s.port)
        // Before the arming S hears nothing (its device has not answered yet).
        for _ in 0..<3 { tick(false); usleep(5000) }
        usleep(20_000)
        #expect(s.receiveBytes() == nil, "nothing reaches the new leg before it is armed")
        let report = Mutex<SpliceReport?>(nil)
        let armed = ContinuousClock.now
        relay.arm(leg, mode: .now, windowMillis: 300, primingMillis: 150) { r in report.withLock { $0 = r } }
        var sHeardF: [(seq: UInt16, at: Duration)] = []
        var splicedAt: Duration?
        var i = 0
        while i < 200 {
            tick(true)
            s.send(Self.rtp(ssrc: 0x5EEE5EEE, seq: sSeq, ts: sTS, loud: true), to: leg.port); sSeq &+= 1; sTS &+= 160
            usleep(5000)
            while let b = s.receiveBytes(), Self.header(b).ssrc == 0xFA11FA11 {
                sHeardF.append((Self.header(b).seq, ContinuousClock.now - armed))
            }
            if splicedAt == nil, report.withLock({ $0 }) != nil { splicedAt = ContinuousClock.now - armed; break }
            i += 1
        }
        let r = try #require(report.withLock { $0 }, "no splice")
        #expect(r.reason == .immediate)
        #expect(r.primedMillis >= 150, "spliced after \(r.primedMillis) ms of priming")
        #expect((splicedAt ?? .zero) >= .milliseconds(150))
        // S heard F from (about) the arming on, F's stream as F sent it, before the splice.
        let first = try #require(sHeardF.first, "S heard nothing of F before the splice")
        #expect(first.at < .milliseconds(60), "first copy \(first.at) after arming")
        #expect(sHeardF.count >= 10, "\(sHeardF.count) packets of F reached S while priming")
        for k in sHeardF.indices.dropFirst() { #expect(sHeardF[k].seq == sHeardF[k - 1].seq &+ 1) }
        // After the splice and before the commit, F's audio goes to S (main) and still to P.
        while p.receiveBytes() != nil {}
        for _ in 0..<5 { tick(true); usleep(5000) }
        var pGot = 0, sGot: [UInt16] = []
        while let b = p.receiveBytes() { if Self.header(b).ssrc == 0xFA11FA11 { pGot += 1 } }
        while let b = s.receiveBytes() { if Self.header(b).ssrc == 0xFA11FA11 { sGot.append(Self.header(b).seq) } }
        #expect(pGot == 5, "the old device hears F until it is released")
        #expect(sGot.count == 5)
        if let a = sHeardF.last?.seq, let b = sGot.first { #expect(b &- a >= 1 && b &- a <= 3, "S's copy of F continues: \(a) -> \(b)") }
        relay.commit(leg)
        #expect(relay.barrierBlocking(), "the relay threads ran the commands")
        while p.receiveBytes() != nil {}
        for _ in 0..<5 { tick(true); usleep(5000) }
        usleep(10_000)
        var after = 0
        while let b = p.receiveBytes() { if Self.header(b).ssrc == 0xFA11FA11 { after += 1 } }
        #expect(after == 0, "released: the old device no longer hears F")
        #expect(leg.rtpCounters.txPackets >= 20)
    }

    @Test func abortLeavesTheCallUntouched() throws {
        let relay = try startedRelay(ports: TestPorts.range(100), threads: 1)
        defer { relay.shutdown() }
        let stream = try relay.allocate()
        let f = try UDPSocket(), p = try UDPSocket(), s = try UDPSocket()
        try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: f.port)
        try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: p.port)
        let leg = try relay.prepareSwitch(stream, replacing: .b)
        #expect(relay.pool.pairsInUse == 3)
        let spliced = Mutex<Bool?>(nil)
        relay.abort(leg) { r in spliced.withLock { $0 = r } }
        #expect(waitUntil { spliced.withLock { $0 } == false })
        #expect(waitUntil { relay.pool.pairsInUse == 2 })
        #expect(relay.barrierBlocking(), "the relay threads ran the commands")
        p.send(Self.rtp(ssrc: 1, seq: 1, ts: 1, loud: true), to: stream.port(.b))
        #expect(Self.header(f.receiveBytes() ?? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).seq == 1)
        _ = s
    }
}
