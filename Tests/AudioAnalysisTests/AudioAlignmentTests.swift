import Foundation
import Testing
@testable import AudioAnalysis

/// The audio judge itself: on synthetic recordings whose breaks are known, it must find
/// exactly those breaks with millisecond figures, and nothing where there is none.
@Suite struct AudioAlignmentTests {
    static let ref = ReferenceSignal.samples(seconds: 12)

    /// `ref` delayed by `lag` samples from `from` to `to` (received positions).
    static func echo(_ out: inout [Int16], from: Int, to: Int, lag: Int, gain: Double = 0.8) {
        for n in from..<to where n - lag >= 0 && n - lag < ref.count { out[n] = Int16(Double(ref[n - lag]) * gain) }
    }

    /// A little noise on every sample, as two G.711 passes add.
    static func roughen(_ x: inout [Int16]) {
        var s: UInt32 = 7
        for i in x.indices {
            s = s &* 1_103_515_245 &+ 12345
            x[i] = x[i] &+ Int16(Int(s >> 16 & 0x1FF) - 256)
        }
    }

    @Test func aContinuousEchoHasNoBreak() {
        var rx = [Int16](repeating: 0, count: 8000 * 6)
        Self.echo(&rx, from: 1200, to: rx.count, lag: 937)
        Self.roughen(&rx)
        let r = AudioAlignment.analyse(reference: Self.ref, received: rx)
        #expect(r.breaks().isEmpty, "\(r.transitions)")
        #expect(r.segments.count == 1 && r.segments[0].lag == 937)
        #expect(abs(r.leadInMillis - 150) <= 1, "lead-in \(r.leadInMillis)")
    }

    @Test func aSilentHoleIsAGapAndMissingAudio() {
        // 160 ms of silence where the new device's empty buffer played: the same delay after it.
        var rx = [Int16](repeating: 0, count: 8000 * 6)
        Self.echo(&rx, from: 0, to: 16_000, lag: 400)
        Self.echo(&rx, from: 16_000 + 1280, to: rx.count, lag: 400)
        Self.roughen(&rx)
        let r = AudioAlignment.analyse(reference: Self.ref, received: rx)
        let t = r.breaks()
        #expect(t.count == 1, "\(r.transitions)")
        #expect(abs((t.first?.gapMillis ?? 0) - 160) <= 2, "\(t)")
        #expect(abs((t.first?.missingMillis ?? 0) - 160) <= 2, "\(t)")
        #expect(abs((t.first?.atMillis ?? 0) - 2000) <= 2, "\(t)")
    }

    @Test func aShorterDelayAfterASpliceSkipsReferenceWithoutAGap() {
        // The new device plays out 15 ms sooner: nothing silent, 15 ms of reference unheard.
        var rx = [Int16](repeating: 0, count: 8000 * 6)
        Self.echo(&rx, from: 0, to: 20_000, lag: 1000)
        Self.echo(&rx, from: 20_000, to: rx.count, lag: 880)
        Self.roughen(&rx)
        let r = AudioAlignment.analyse(reference: Self.ref, received: rx)
        let t = r.breaks()
        #expect(t.count == 1, "\(r.transitions)")
        #expect((t.first?.gapMillis ?? 99) <= 1, "\(t)")
        #expect(abs((t.first?.missingMillis ?? 0) - 15) <= 1.5, "\(t)")
        #expect(t.first?.repeatedMillis == 0)
        // And the other way: 15 ms heard twice, nothing missing.
        var back = [Int16](repeating: 0, count: 8000 * 6)
        Self.echo(&back, from: 0, to: 20_000, lag: 880)
        Self.echo(&back, from: 20_000, to: back.count, lag: 1000)
        let u = AudioAlignment.analyse(reference: Self.ref, received: back).breaks()
        #expect(u.count == 1 && (u.first?.missingMillis ?? 99) <= 1 && abs((u.first?.repeatedMillis ?? 0) - 15) <= 1.5, "\(u)")
    }

    @Test func foreignAudioIsAGap() {
        // 40 ms of something else (another noise) between two stretches of the reference.
        var rx = [Int16](repeating: 0, count: 8000 * 4)
        Self.echo(&rx, from: 0, to: 10_000, lag: 0)
        let other = ReferenceSignal.samples(seconds: 1, seed: 99)
        for i in 0..<320 { rx[10_000 + i] = other[i] }
        Self.echo(&rx, from: 10_320, to: rx.count, lag: 0)
        let t = AudioAlignment.analyse(reference: Self.ref, received: rx).breaks()
        #expect(t.count == 1 && abs((t.first?.gapMillis ?? 0) - 40) <= 2 && abs((t.first?.missingMillis ?? 0) - 40) <= 2, "\(t)")
    }

    @Test func aBadlyCodedStretchAtTheSameDelayIsNoGap() {
        // 60 ms where a codec left the reference at about 0 dB SNR (block correlation ~0.6):
        // still the reference, heard in time; no break. The same stretch replaced by other
        // audio is a gap (foreignAudioIsAGap).
        var rx = [Int16](repeating: 0, count: 8000 * 4)
        Self.echo(&rx, from: 0, to: rx.count, lag: 200, gain: 0.6)
        let other = ReferenceSignal.samples(seconds: 1, seed: 4242)
        for i in 0..<480 { rx[12_000 + i] = rx[12_000 + i] &+ Int16(Double(other[i]) * 0.8) }
        let r = AudioAlignment.analyse(reference: Self.ref, received: rx)
        #expect(r.breaks().isEmpty, "\(r.transitions)")
    }

    @Test func wavRoundTripAndDecimation() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("baton-wav-\(getpid()).wav")
        defer { try? FileManager.default.removeItem(at: url) }
        // A 1 kHz tone at 48 kHz decimates to the same tone at 8 kHz.
        let tone = (0..<48_000).map { Int16(8000 * sin(2 * Double.pi * 1000 * Double($0) / 48_000)) }
        try WAV(rate: 48_000, samples: tone).write(to: url)
        let back = try WAV.read(contentsOf: url)
        #expect(back == WAV(rate: 48_000, samples: tone))
        let low = back.resampled(to: 8000)
        #expect(low.rate == 8000 && low.samples.count == 8000)
        let expected = (0..<8000).map { 8000 * sin(2 * Double.pi * 1000 * Double($0) / 8000) }
        let err = zip(low.samples.dropFirst(10).dropLast(10), expected.dropFirst(10).dropLast(10)).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(err < 400, "largest error \(err)")
        #expect(throws: WAV.Error.self) { try WAV.read(contentsOf: URL(fileURLWithPath: "/etc/hostname")) }
    }
}
