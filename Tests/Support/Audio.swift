import Foundation

/// Tone SNR as a THD+N meter measures it: the best-fitting sinusoid at the tone's frequency
/// (any phase, so the codec's delay does not matter) against everything else.
public func toneSNR(_ x: [Int16], frequency: Double, sampleRate: Double) -> Double {
    var ss = 0.0, cc = 0.0, sc = 0.0, xs = 0.0, xc = 0.0
    for (i, v) in x.enumerated() {
        let w = 2 * Double.pi * frequency * Double(i) / sampleRate
        let s = sin(w), c = cos(w), d = Double(v)
        ss += s * s; cc += c * c; sc += s * c; xs += d * s; xc += d * c
    }
    let det = ss * cc - sc * sc
    let a = (xs * cc - xc * sc) / det, b = (xc * ss - xs * sc) / det
    var sig = 0.0, res = 0.0
    for (i, v) in x.enumerated() {
        let w = 2 * Double.pi * frequency * Double(i) / sampleRate
        let fit = a * sin(w) + b * cos(w)
        sig += fit * fit
        res += (Double(v) - fit) * (Double(v) - fit)
    }
    return 10 * log10(sig / max(res, 1))
}
