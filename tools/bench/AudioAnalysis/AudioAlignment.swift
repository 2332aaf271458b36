import Foundation

/// What a listener hears, judged against what was sent: the audio a device received (its
/// decoded play-out, or a capture decoded by RTP timestamp) is aligned with the known
/// reference signal block by block, and every place where that alignment breaks is a
/// *transition*: a stretch where the received audio is not the reference (a **gap**: silence
/// or anything else), and a jump in the reference position (**missing** reference audio that
/// was never heard, or **repeated** audio heard twice).
///
/// A switchover is inaudible when, at its splice, the far party's received audio goes on with
/// the reference within one packet: no gap, nothing missing. Packet checks (one SSRC,
/// sequence + 1) cannot see a new device that plays 160 ms of its empty buffer's silence;
/// this does.
///
/// The reference is white noise (``ReferenceSignal``): every 10 ms block of it is unique, so
/// the position of a received block in the reference is found by normalized correlation, and
/// it survives G.711 and Opus at 24 kbit/s with correlation above 0.9 per block
/// (tools/bench/AudioAnalysis measurements in docs/switchover.md).
///
/// ```swift
/// let ref = ReferenceSignal.samples(seconds: 40)
/// let heard = try WAV.read(contentsOf: url).resampled(to: 8000)
/// let report = AudioAlignment.analyse(reference: ref, received: heard.samples)
/// for t in report.transitions { print(t.atMillis, t.gapMillis, t.missingMillis) }
/// ```
public struct AudioAlignment: Sendable, Equatable, Codable {
    /// A stretch of received audio that is the reference delayed by `lag` samples:
    /// `received[n] ≈ reference[n - lag]` for `start <= n < end`.
    public struct Segment: Sendable, Equatable, Codable {
        public var start: Int
        public var end: Int
        public var lag: Int
        /// Mean normalized correlation of its blocks (1 = identical up to gain).
        public var correlation: Double
    }

    /// Where one segment ends and the next begins.
    public struct Transition: Sendable, Equatable, Codable {
        /// Position in the received audio (ms from its start) where the first segment ends.
        public var atMillis: Double
        /// Received audio between the two segments that is not the reference (silence, noise).
        public var gapMillis: Double
        /// Reference audio never heard: the next segment starts this much further on in the
        /// reference than where the previous one stopped (beyond the time that passed).
        public var missingMillis: Double
        /// Reference audio heard twice (the next segment starts before where the previous stopped).
        public var repeatedMillis: Double
        /// Where in the reference it happens (ms): the same event seen in two recordings (what
        /// a device played and what the far party heard from it) has the same position.
        public var referenceMillis: Double
        /// The delays before and after (ms): the old and the new device's play-out delays.
        public var lagBeforeMillis: Double
        public var lagAfterMillis: Double
    }

    public var rate: Int
    public var segments: [Segment]
    public var transitions: [Transition]
    /// Received audio before the first matching block (ms): the device's start-up.
    public var leadInMillis: Double
    /// Received audio that matched the reference, in ms, and all of it.
    public var matchedMillis: Double
    public var receivedMillis: Double

    /// Samples per analysed block (10 ms at 8 kHz) and the correlation a block must reach.
    public static let block = 80
    public static let threshold = 0.7
    /// The correlation a block needs at the delay of the block before it to continue a segment.
    public static let continuation = 0.45

    /// Aligns `received` with `reference` (both at `rate`). `maxLag` bounds the search
    /// (samples, either sign: a recording may start before or after the reference did).
    public static func analyse(reference: [Int16], received: [Int16], rate: Int = 8000, maxLag: Int = 16000) -> AudioAlignment {
        let ref = reference.map(Double.init), rx = received.map(Double.init)
        let b = block
        let blocks = rx.count / b
        // Per block: the lag it matches at (nil: silence or not the reference).
        var lags = [Int?](repeating: nil, count: blocks)
        var corrs = [Double](repeating: 0, count: blocks)
        var last: Int?
        var skipFull = 0
        for k in 0..<blocks {
            let s = k * b
            guard energy(rx, s, b) > 1e4 * Double(b) else { continue }   // below ~-50 dBFS: silence
            var found: (lag: Int, c: Double)?
            if let l = last {
                // The same delay as the block before, then near it, then anywhere.
                let c = correlation(rx, s, ref, s - l, b)
                if c >= threshold { found = (l, c) } else { found = search(rx, s, ref, lags: (l - 240)...(l + 240), b) }
                // A block a codec coded badly (two Opus passes) still follows on at the same
                // delay: silence or other audio correlates near 0 there (0.45 is 4 standard
                // deviations of an unrelated 80-sample block), the reference does not.
                if (found?.c ?? 0) < threshold, c >= continuation { found = (l, threshold) }
            }
            // A full search costs 2 x maxLag correlations: after one that failed, try again
            // only every fifth block (a long stretch of foreign audio stays cheap).
            if found == nil || found!.c < threshold {
                if skipFull > 0 {
                    skipFull -= 1
                } else {
                    found = search(rx, s, ref, lags: -maxLag...maxLag, b)
                    if (found?.c ?? 0) < threshold { skipFull = 4 }
                }
            }
            if let f = found, f.c >= threshold {
                lags[k] = f.lag; corrs[k] = f.c; last = f.lag
            }
        }
        // Segments: runs of matching blocks whose lag moves by at most 2 samples.
        var segments: [Segment] = []
        var k = 0
        while k < blocks {
            guard let l = lags[k] else { k += 1; continue }
            var j = k + 1, sum = corrs[k], lag = l
            while j < blocks, let m = lags[j], abs(m - lag) <= 2 { sum += corrs[j]; lag = m; j += 1 }
            segments.append(Segment(start: k * b, end: j * b, lag: l, correlation: sum / Double(j - k)))
            k = j
        }
        // Refine each boundary to 1 ms: a 1 ms chunk belongs to a segment when it is the
        // reference at the segment's lag and gain, its residual under half the chunk's energy
        // (a block that is half silence still correlates at 0.7; a chunk does not).
        let step = max(1, rate / 1000)
        func chunkMatches(_ n: Int, _ seg: Segment, _ gain: Double) -> Bool {
            let r = n - seg.lag
            guard n >= 0, r >= 0, n + step <= rx.count, r + step <= ref.count else { return false }
            var res = 0.0, e = 0.0
            for i in 0..<step {
                let want = gain * ref[r + i]
                res += (rx[n + i] - want) * (rx[n + i] - want); e += want * want
            }
            return e > 0 && res <= 0.5 * e
        }
        func gain(_ seg: Segment, at n: Int) -> Double {
            // Least squares over the 20 ms of the segment next to the boundary.
            let from = max(seg.start, min(n, seg.end - 2 * b)), to = min(seg.end, from + 2 * b)
            var xy = 0.0, yy = 0.0
            for i in from..<to where i - seg.lag >= 0 && i - seg.lag < ref.count { xy += rx[i] * ref[i - seg.lag]; yy += ref[i - seg.lag] * ref[i - seg.lag] }
            return yy > 0 ? xy / yy : 1
        }
        for i in segments.indices {
            let seg = segments[i]
            let gEnd = gain(seg, at: seg.end - 2 * b), gStart = gain(seg, at: seg.start)
            var e = seg.end
            while e - step > seg.start, !chunkMatches(e - step, seg, gEnd) { e -= step }
            let limit = i + 1 < segments.count ? segments[i + 1].start : rx.count
            while e + step <= limit, chunkMatches(e, seg, gEnd) { e += step }
            var st = seg.start
            while st + step < e, !chunkMatches(st, seg, gStart) { st += step }
            let floor = i > 0 ? segments[i - 1].end : 0
            while st - step >= floor, chunkMatches(st - step, seg, gStart) { st -= step }
            segments[i].start = st
            segments[i].end = e
        }
        var transitions: [Transition] = []
        let ms = 1000.0 / Double(rate)
        for i in segments.indices.dropFirst() {
            let a = segments[i - 1], c = segments[i]
            let gap = max(0, c.start - a.end)
            let jump = (c.start - c.lag) - (a.end - a.lag)   // reference position: next start - previous end
            transitions.append(Transition(atMillis: Double(a.end) * ms, gapMillis: Double(gap) * ms,
                                          missingMillis: Double(max(0, jump)) * ms, repeatedMillis: Double(max(0, -jump)) * ms,
                                          referenceMillis: Double(a.end - a.lag) * ms,
                                          lagBeforeMillis: Double(a.lag) * ms, lagAfterMillis: Double(c.lag) * ms))
        }
        let matched = segments.reduce(0) { $0 + $1.end - $1.start }
        return AudioAlignment(rate: rate, segments: segments, transitions: transitions,
                              leadInMillis: Double(segments.first?.start ?? rx.count) * ms,
                              matchedMillis: Double(matched) * ms, receivedMillis: Double(rx.count) * ms)
    }

    /// Aligns a recording at any rate that is a multiple of the reference's (baresip writes
    /// what it decoded at the codec's rate, 48 kHz for Opus): it is brought to the reference's
    /// rate at each of the possible decimation phases and the phase that matches most is kept
    /// (a codec's delay is rarely a whole number of 8 kHz samples, and half a sample off costs
    /// a band-limited signal most of its correlation).
    public static func analyse(reference: [Int16], recording: WAV, rate: Int = 8000, maxLag: Int = 16000) -> AudioAlignment {
        guard recording.rate != rate, recording.rate % rate == 0 else {
            return analyse(reference: reference, received: recording.samples, rate: rate, maxLag: maxLag)
        }
        var best: AudioAlignment?
        for phase in 0..<(recording.rate / rate) {
            let r = analyse(reference: reference, received: recording.resampled(to: rate, phase: phase).samples, rate: rate, maxLag: maxLag)
            if r.matchedMillis > best?.matchedMillis ?? -1 { best = r }
        }
        return best!
    }

    /// Transitions that are real breaks (a gap or a jump of at least `minMillis`); lag drift
    /// of a sample or two between blocks is not one.
    public func breaks(minMillis: Double = 1) -> [Transition] {
        transitions.filter { $0.gapMillis >= minMillis || $0.missingMillis >= minMillis || $0.repeatedMillis >= minMillis }
    }

    static func energy(_ x: [Double], _ s: Int, _ n: Int) -> Double {
        var e = 0.0
        var i = s
        while i < s + n { e += x[i] * x[i]; i += 1 }
        return e
    }

    /// Normalized correlation of x[xs..<xs+n] and y[ys..<ys+n]; 0 where y runs out.
    static func correlation(_ x: [Double], _ xs: Int, _ y: [Double], _ ys: Int, _ n: Int) -> Double {
        guard xs >= 0, ys >= 0, xs + n <= x.count, ys + n <= y.count else { return 0 }
        var xy = 0.0, xx = 0.0, yy = 0.0
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeBufferPointer { yp in
                var i = 0
                while i < n {
                    let a = xp[xs + i], c = yp[ys + i]
                    xy += a * c; xx += a * a; yy += c * c
                    i += 1
                }
            }
        }
        return xx > 0 && yy > 0 ? xy / (xx * yy).squareRoot() : 0
    }

    static func search(_ rx: [Double], _ s: Int, _ ref: [Double], lags: ClosedRange<Int>, _ n: Int) -> (lag: Int, c: Double)? {
        var best: (lag: Int, c: Double)?
        for l in lags {
            let c = correlation(rx, s, ref, s - l, n)
            if c > (best?.c ?? 0) { best = (l, c) }
        }
        return best
    }
}

/// The reference a caller sends in audio tests: deterministic noise (a 32-bit LCG) band-
/// limited to the telephone band, 250-3400 Hz (a windowed-sinc band-pass), about -17 dBFS
/// RMS. Every 10 ms of it is unique, which a tone is not; and it keeps its waveform through
/// G.711 (correlation 1.0 per block) and Opus (0.9 and more at 24-64 kbit/s), where white
/// noise up to 4 kHz does not: Opus's narrowband decoder rolls off above ~3.5 kHz.
public enum ReferenceSignal {
    public static func samples(seconds: Double, rate: Int = 8000, seed: UInt32 = 0x5EED) -> [Int16] {
        var state = seed
        let n = Int(seconds * Double(rate))
        let taps = 101
        let white: [Double] = (0..<(n + taps)).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Double(Int32(state >> 16) - 32768)
        }
        // Band-pass = low-pass at 3400 Hz minus low-pass at 250 Hz.
        let hi = WAV.lowpass(cutoff: 3400 / Double(rate), taps: taps), lo = WAV.lowpass(cutoff: 250 / Double(rate), taps: taps)
        let h = zip(hi, lo).map { $0 - $1 }
        return (0..<n).map { k in
            var acc = 0.0
            for t in 0..<taps { acc += h[t] * white[k + t] }
            return Int16(max(-32767, min(32767, acc * 0.55)))
        }
    }
}
