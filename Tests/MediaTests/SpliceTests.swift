import Foundation
import Testing
@testable import Media

/// The switchover arithmetic on an injected clock (nanoseconds are given, never read).
@Suite struct SpliceTests {
    typealias H = RTPRewriter.Header
    static let ms: Int64 = 1_000_000

    /// Feeds `count` packets of 20 ms from `source`, starting at seq/ts, at t0 + 20 ms steps.
    static func feed(_ r: inout RTPRewriter, source: Int, ssrc: UInt32, seq: UInt16, ts: UInt32, t0: Int64, count: Int) -> [H] {
        (0..<count).map { i in
            r.rewrite(source: source, H(ssrc: ssrc, seq: seq &+ UInt16(i), timestamp: ts &+ UInt32(i * 160), marker: false),
                      nanos: t0 + Int64(i) * 20 * ms)
        }
    }

    @Test func firstLegPassesThroughUntouched() {
        var r = RTPRewriter()
        let out = Self.feed(&r, source: 1, ssrc: 0xAABBCCDD, seq: 100, ts: 5000, t0: 0, count: 5)
        #expect(out.map(\.seq) == [100, 101, 102, 103, 104])
        #expect(out.map(\.timestamp) == [5000, 5160, 5320, 5480, 5640])
        #expect(out.allSatisfy { $0.ssrc == 0xAABBCCDD && !$0.marker })
        #expect(!r.rewriting)
    }

    @Test func spliceKeepsSSRCContinuesSequenceAndSetsMarker() {
        var r = RTPRewriter()
        _ = Self.feed(&r, source: 1, ssrc: 0x11111111, seq: 1000, ts: 80_000, t0: 0, count: 10)  // last: 1009, 81440 at 180 ms
        // The new leg's first packet arrives 20 ms after the old leg's last one.
        let out = Self.feed(&r, source: 2, ssrc: 0x22222222, seq: 7, ts: 999, t0: 200 * Self.ms, count: 3)
        #expect(out.map(\.ssrc) == [0x11111111, 0x11111111, 0x11111111])
        #expect(out.map(\.seq) == [1010, 1011, 1012])
        #expect(out.map(\.timestamp) == [81600, 81760, 81920])
        #expect(out.map(\.marker) == [true, false, false])
    }

    /// A restart after a switchover: the rewrite in force is saved (``RTPRewriter/continuation``)
    /// and a new rewriter fed by another socket goes on with it, so F's stream keeps its SSRC
    /// and sequence; passing through (no splice yet) saves nothing.
    @Test func aSavedRewriteContinuesInANewProcess() throws {
        var r = RTPRewriter()
        _ = Self.feed(&r, source: 1, ssrc: 0x11111111, seq: 1000, ts: 80_000, t0: 0, count: 10)
        #expect(r.continuation == nil)
        _ = Self.feed(&r, source: 2, ssrc: 0x22222222, seq: 7, ts: 999, t0: 200 * Self.ms, count: 3)   // out: 1010...1012
        let saved = try #require(r.continuation)
        let decoded = try JSONDecoder().decode(RTPRewriter.Continuation.self, from: try JSONEncoder().encode(saved))
        // The new process: the new leg's packets after the downtime (seq 10...11 were lost).
        var again = RTPRewriter(continuing: decoded, source: 42)
        let out = Self.feed(&again, source: 42, ssrc: 0x22222222, seq: 12, ts: 999 + 5 * 160, t0: 5_000 * Self.ms, count: 2)
        #expect(out.map(\.ssrc) == [0x11111111, 0x11111111])
        #expect(out.map(\.seq) == [1015, 1016])
        let expected: [UInt32] = [82400, 82560]   // 81600 + 5 and 6 packets of 160
        #expect(out.map(\.timestamp) == expected)
        #expect(out.allSatisfy { !$0.marker })
    }

    @Test func sequenceWrapsAt65535() {
        var r = RTPRewriter()
        _ = Self.feed(&r, source: 1, ssrc: 1, seq: 65533, ts: 0, t0: 0, count: 2)          // 65533, 65534
        let out = Self.feed(&r, source: 2, ssrc: 2, seq: 40000, ts: 0, t0: 40 * Self.ms, count: 3)
        #expect(out.map(\.seq) == [65535, 0, 1])
    }

    @Test func timestampWrapsAt2To32() {
        var r = RTPRewriter()
        _ = Self.feed(&r, source: 1, ssrc: 1, seq: 1, ts: UInt32.max - 159 - 160, t0: 0, count: 2)  // last ts = 2^32 - 160
        let out = Self.feed(&r, source: 2, ssrc: 2, seq: 9, ts: 123_456, t0: 40 * Self.ms, count: 2)
        #expect(out.map(\.timestamp) == [0, 160])
    }

    @Test func timestampContinuesByTheElapsedTimeAfterASilenceWait() {
        var r = RTPRewriter()
        _ = Self.feed(&r, source: 1, ssrc: 1, seq: 1, ts: 1000, t0: 0, count: 1)   // ts 1000 at t=0
        // The old leg stopped sending (silence suppression) and the splice came 300 ms later.
        let waited = Self.feed(&r, source: 2, ssrc: 2, seq: 50, ts: 0, t0: 300 * Self.ms, count: 1)
        #expect(waited[0].timestamp == 1000 + 2400)   // 300 ms at 8 kHz
        #expect(waited[0].seq == 2)                   // sequence never jumps
        // A jittery arrival (27 ms) rounds to whole 20 ms packets, never below one packet.
        var j = RTPRewriter()
        _ = Self.feed(&j, source: 1, ssrc: 1, seq: 1, ts: 0, t0: 0, count: 1)
        #expect(Self.feed(&j, source: 2, ssrc: 2, seq: 1, ts: 0, t0: 27 * Self.ms, count: 1)[0].timestamp == 160)
        var k = RTPRewriter()
        _ = Self.feed(&k, source: 1, ssrc: 1, seq: 1, ts: 0, t0: 0, count: 1)
        #expect(Self.feed(&k, source: 2, ssrc: 2, seq: 1, ts: 0, t0: 2 * Self.ms, count: 1)[0].timestamp == 160)
    }

    @Test func switchingBackRebasesAgain() {
        var r = RTPRewriter()
        _ = Self.feed(&r, source: 1, ssrc: 1, seq: 10, ts: 0, t0: 0, count: 3)              // ..12
        _ = Self.feed(&r, source: 2, ssrc: 2, seq: 500, ts: 9, t0: 60 * Self.ms, count: 3)   // 13..15
        let back = Self.feed(&r, source: 3, ssrc: 3, seq: 1, ts: 77, t0: 120 * Self.ms, count: 2)
        #expect(back.map(\.seq) == [16, 17])
        #expect(back.map(\.ssrc) == [1, 1])
        #expect(back[0].marker && !back[1].marker)
        #expect(back[1].timestamp &- back[0].timestamp == 160)
    }

    @Test func deciderWaitsForSilenceThenWindow() {
        var d = SpliceDecider(mode: .silence, windowMillis: 300)
        #expect(d.decide(oldPacketSilent: true, atOldPacket: true, now: 0) == nil)           // new leg not ready
        d.newLegReady(at: 1000 * Self.ms)
        #expect(d.decide(oldPacketSilent: false, atOldPacket: true, now: 1100 * Self.ms) == nil)
        #expect(d.decide(oldPacketSilent: nil, atOldPacket: true, now: 1299 * Self.ms) == nil)
        #expect(d.decide(oldPacketSilent: true, atOldPacket: true, now: 1120 * Self.ms) == .silence)
        #expect(d.decide(oldPacketSilent: false, atOldPacket: true, now: 1300 * Self.ms) == .window)
        // A new-leg packet never judges silence, but ends an expired window.
        #expect(d.decide(oldPacketSilent: nil, atOldPacket: false, now: 1299 * Self.ms) == nil)
        #expect(d.decide(oldPacketSilent: nil, atOldPacket: false, now: 1300 * Self.ms) == .window)
        #expect(d.waited(until: 1120 * Self.ms) == 120 * Self.ms)
        d.newLegReady(at: 5000 * Self.ms)                                  // the first packet counts
        #expect(d.readyNanos == 1000 * Self.ms)
    }

    @Test func immediateModeSplicesAtTheNextPacketOfEitherLeg() {
        var d = SpliceDecider(mode: .now, windowMillis: 300)
        #expect(d.decide(oldPacketSilent: false, atOldPacket: true, now: 0) == nil)   // not ready
        d.newLegReady(at: 10)
        #expect(d.decide(oldPacketSilent: false, atOldPacket: true, now: 10) == .immediate)
        #expect(d.decide(oldPacketSilent: nil, atOldPacket: false, now: 10) == .immediate)
    }

    @Test func aGoneOldLegSplicesOnTheFirstNewPacket() {
        var d = SpliceDecider(mode: .silence, windowMillis: 300, oldLegGone: true)
        #expect(d.decide(oldPacketSilent: nil, atOldPacket: false, now: 5) == nil)
        d.newLegReady(at: 5)
        #expect(d.decide(oldPacketSilent: nil, atOldPacket: false, now: 5) == .immediate)
    }

    @Test func primingHoldsTheSpliceUntilTheNewLegHasHeardTheFarPartyLongEnough() {
        var d = SpliceDecider(mode: .now, windowMillis: 300, primingMillis: 200)
        d.newLegReady(at: 10 * Self.ms)
        #expect(d.decide(oldPacketSilent: true, atOldPacket: true, now: 50 * Self.ms) == nil)    // not armed
        d.armed(at: 100 * Self.ms)
        d.forked(at: 110 * Self.ms)                                       // the first copy went out
        d.forked(at: 130 * Self.ms)                                       // only the first counts
        #expect(d.primedNanos == 310 * Self.ms)
        #expect(d.decide(oldPacketSilent: true, atOldPacket: true, now: 309 * Self.ms) == nil)
        #expect(!d.isReady(at: 309 * Self.ms) && d.isReady(at: 310 * Self.ms))
        #expect(d.decide(oldPacketSilent: nil, atOldPacket: false, now: 310 * Self.ms) == .immediate)
        #expect(d.primed(until: 330 * Self.ms) == 220 * Self.ms)

        // silence mode: the window counts from readiness, i.e. after priming.
        var s = SpliceDecider(mode: .silence, windowMillis: 300, primingMillis: 200)
        s.armed(at: 0)
        s.forked(at: 0)
        s.newLegReady(at: 20 * Self.ms)
        #expect(s.decide(oldPacketSilent: true, atOldPacket: true, now: 150 * Self.ms) == nil)   // priming
        #expect(s.decide(oldPacketSilent: true, atOldPacket: true, now: 200 * Self.ms) == .silence)
        #expect(s.decide(oldPacketSilent: false, atOldPacket: true, now: 499 * Self.ms) == nil)
        #expect(s.decide(oldPacketSilent: false, atOldPacket: true, now: 500 * Self.ms) == .window)
        #expect(s.waited(until: 260 * Self.ms) == 60 * Self.ms)

        // The far party sends nothing (muted): priming counts from the arming.
        var m = SpliceDecider(mode: .now, windowMillis: 300, primingMillis: 200)
        m.armed(at: 1000 * Self.ms)
        m.newLegReady(at: 1010 * Self.ms)
        #expect(m.decide(oldPacketSilent: nil, atOldPacket: false, now: 1199 * Self.ms) == nil)
        #expect(m.decide(oldPacketSilent: nil, atOldPacket: false, now: 1200 * Self.ms) == .immediate)

        // The new leg is primed before its own first packet: that packet decides.
        var late = SpliceDecider(mode: .now, windowMillis: 300, primingMillis: 100)
        late.armed(at: 0)
        #expect(late.readyNanos == nil)
        late.newLegReady(at: 400 * Self.ms)
        #expect(late.readyNanos == 400 * Self.ms)

        // A gone old leg needs no priming: the far party hears nothing from it anyway.
        var gone = SpliceDecider(mode: .silence, windowMillis: 300, primingMillis: 500, oldLegGone: true)
        gone.armed(at: 0)
        gone.newLegReady(at: 5)
        #expect(gone.decide(oldPacketSilent: nil, atOldPacket: false, now: 5) == .immediate)
    }

    @Test func voiceActivityOnG711() {
        let silentU = [UInt8](repeating: 0xFF, count: 160)     // µ-law zero
        let silentA = [UInt8](repeating: 0xD5, count: 160)     // A-law zero
        // A 1 kHz tone at about -10 dBFS, µ-law and A-law coded by the inverse tables.
        let tone = (0..<160).map { i in Int16(10000 * sin(Double(i) * 2 * Double.pi / 8)) }
        let toneU = tone.map { s in (0...255).map(UInt8.init).min { abs(Int(G711.ulaw($0)) - Int(s)) < abs(Int(G711.ulaw($1)) - Int(s)) }! }
        let toneA = tone.map { s in (0...255).map(UInt8.init).min { abs(Int(G711.alaw($0)) - Int(s)) < abs(Int(G711.alaw($1)) - Int(s)) }! }
        #expect(silentU.withUnsafeBytes { VoiceActivity.isSilent(payloadType: 0, payload: $0) } == true)
        #expect(silentA.withUnsafeBytes { VoiceActivity.isSilent(payloadType: 8, payload: $0) } == true)
        #expect(toneU.withUnsafeBytes { VoiceActivity.isSilent(payloadType: 0, payload: $0) } == false)
        #expect(toneA.withUnsafeBytes { VoiceActivity.isSilent(payloadType: 8, payload: $0) } == false)
        #expect(toneU.withUnsafeBytes { VoiceActivity.isSilent(payloadType: 111, payload: $0) } == nil)
        // ITU-T G.711 reference points: µ-law 0x00 = -32124, 0x80 = 32124, 0xFF = 0; A-law 0x55 = -8, 0xD5 = 8, 0x2A = -32256.
        #expect(G711.ulaw(0x00) == -32124 && G711.ulaw(0x80) == 32124 && G711.ulaw(0xFF) == 0)
        #expect(G711.alaw(0x55) == -8 && G711.alaw(0xD5) == 8 && G711.alaw(0x2A) == -32256)
    }
}
