import Foundation

/// 16-bit PCM WAV files (what baresip's sndfile module writes, and what its aufile module
/// plays): mono or the first channel of several, any sample rate.
///
/// ```swift
/// try WAV(rate: 8000, samples: ReferenceSignal.samples(seconds: 40)).write(to: url)
/// let heard = try WAV.read(contentsOf: url).resampled(to: 8000).samples
/// ```
public struct WAV: Sendable, Equatable {
    public var rate: Int
    public var samples: [Int16]

    public init(rate: Int, samples: [Int16]) { self.rate = rate; self.samples = samples }

    public enum Error: Swift.Error, CustomStringConvertible {
        case notWAV(String), unsupported(String)
        public var description: String {
            switch self {
            case .notWAV(let s): "not a WAV file: \(s)"
            case .unsupported(let s): "unsupported WAV: \(s)"
            }
        }
    }

    public static func read(contentsOf url: URL) throws -> WAV {
        let d = [UInt8](try Data(contentsOf: url))
        func u32(_ i: Int) -> Int { Int(d[i]) | Int(d[i + 1]) << 8 | Int(d[i + 2]) << 16 | Int(d[i + 3]) << 24 }
        func u16(_ i: Int) -> Int { Int(d[i]) | Int(d[i + 1]) << 8 }
        guard d.count >= 12, d[0..<4].elementsEqual("RIFF".utf8), d[8..<12].elementsEqual("WAVE".utf8) else {
            throw Error.notWAV(url.path)
        }
        var i = 12
        var rate = 0, channels = 1, bits = 16
        while i + 8 <= d.count {
            let id = String(decoding: d[i..<i + 4], as: UTF8.self)
            // A header written before the recording ended may say 0 or too much: read what is there.
            var size = u32(i + 4)
            if id == "data" && (size == 0 || i + 8 + size > d.count) { size = d.count - i - 8 }
            let body = i + 8
            if id == "fmt ", size >= 16 {
                guard u16(body) == 1 else { throw Error.unsupported("format \(u16(body)) (PCM only)") }
                channels = max(1, u16(body + 2)); rate = u32(body + 4); bits = u16(body + 14)
            } else if id == "data" {
                guard bits == 16, rate > 0 else { throw Error.unsupported("\(bits)-bit at \(rate) Hz") }
                let frame = 2 * channels
                let n = size / frame
                var out = [Int16](repeating: 0, count: n)
                for k in 0..<n { out[k] = Int16(bitPattern: UInt16(u16(body + k * frame))) }
                return WAV(rate: rate, samples: out)
            }
            i = body + size + (size & 1)
        }
        throw Error.notWAV("\(url.path): no data chunk")
    }

    public func write(to url: URL) throws {
        var d = Data()
        func le32(_ v: Int) { d.append(contentsOf: withUnsafeBytes(of: UInt32(v).littleEndian, Array.init)) }
        func le16(_ v: Int) { d.append(contentsOf: withUnsafeBytes(of: UInt16(v).littleEndian, Array.init)) }
        d.append(contentsOf: Array("RIFF".utf8)); le32(36 + samples.count * 2); d.append(contentsOf: Array("WAVEfmt ".utf8))
        le32(16); le16(1); le16(1); le32(rate); le32(rate * 2); le16(2); le16(16)
        d.append(contentsOf: Array("data".utf8)); le32(samples.count * 2)
        for s in samples { le16(Int(UInt16(bitPattern: s))) }
        try d.write(to: url)
    }

    /// The same audio at `target` Hz: an integer-ratio decimation through a windowed-sinc
    /// low-pass at 0.475 x target (48 or 16 kHz play-out to the 8 kHz reference), keeping every
    /// m-th sample from `phase` on; unchanged when the rates are equal or not a multiple.
    public func resampled(to target: Int, phase: Int = 0) -> WAV {
        guard rate != target, rate % target == 0 else { return self }
        let m = rate / target
        let taps = 20 * m + 1, half = taps / 2
        let h = WAV.lowpass(cutoff: 0.475 / Double(m), taps: taps)
        let x = samples.map(Double.init)
        var out: [Int16] = []
        out.reserveCapacity(x.count / m + 1)
        var n = max(0, min(phase, m - 1))
        while n < x.count {
            var acc = 0.0
            for t in 0..<taps { let j = n + t - half; if j >= 0 && j < x.count { acc += h[t] * x[j] } }
            out.append(Int16(max(-32768, min(32767, acc.rounded()))))
            n += m
        }
        return WAV(rate: target, samples: out)
    }

    /// A linear-phase FIR low-pass: windowed sinc (Blackman), `cutoff` as a fraction of the
    /// sample rate, `taps` odd.
    static func lowpass(cutoff: Double, taps: Int) -> [Double] {
        let half = taps / 2
        return (0..<taps).map { i in
            let x = Double(i - half)
            let sinc = x == 0 ? 2 * cutoff : sin(2 * Double.pi * cutoff * x) / (Double.pi * x)
            let w = 0.42 - 0.5 * cos(2 * Double.pi * Double(i) / Double(taps - 1)) + 0.08 * cos(4 * Double.pi * Double(i) / Double(taps - 1))
            return sinc * w
        }
    }
}
