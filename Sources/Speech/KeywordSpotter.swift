import CPocketSphinx
import Foundation

/// Keyword spotting on 8 kHz telephone audio with pocketsphinx's keyphrase search (one
/// decoder per listened call; not thread-safe: one thread feeds it).
///
/// The audio is upsampled to the 16 kHz the acoustic model expects (Debian's model decodes
/// upsampled telephone audio better than with 8 kHz front-end parameters: notes in
/// ../shared/notes/keyword-spotting.md). After each detection the utterance restarts, so a
/// keyword said once is reported once.
///
/// ```swift
/// let spotter = try KeywordSpotter(model)
/// for kw in spotter.feed(pcm8k) { print("caller said", kw) }
/// ```
public final class KeywordSpotter {
    private let decoder: OpaquePointer
    private let model: KeywordModel
    private var upsampler = Upsampler()
    private var wide: [Int16] = []
    private let files: [String]
    /// Samples fed so far, and when each keyword was last reported (a keyword detected
    /// again within `repeatWindow` samples is the same saying, found twice).
    private var fed = 0
    private var lastReported: [String: Int] = [:]
    private let repeatWindow = 12_000

    public init(_ model: KeywordModel) throws(SpeechError) {
        self.model = model
        // The keyphrase list and the reduced dictionary as files (pocketsphinx reads paths).
        let dir = FileManager.default.temporaryDirectory.path
        let tag = "baton-kws-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let kws = "\(dir)/\(tag).kws", dict = "\(dir)/\(tag).dict"
        do {
            try model.keyphraseFile.write(toFile: kws, atomically: true, encoding: .utf8)
            try (model.pronunciations.joined(separator: "\n") + "\n").write(toFile: dict, atomically: true, encoding: .utf8)
        } catch { throw .model("cannot write \(dir): \(error)") }
        files = [kws, dict]
        let args = ["baton", "-hmm", model.directory + "/en-us", "-dict", dict, "-logfn", "/dev/null"]
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        defer { for a in argv { free(a) } }
        guard let config = cmd_ln_parse_r(nil, ps_args(), Int32(args.count), &argv, 1) else {
            for f in files { unlink(f) }
            throw .model("pocketsphinx refused its arguments")
        }
        guard let ps = ps_init(config) else {
            cmd_ln_free_r(config)
            for f in files { unlink(f) }
            throw .model("pocketsphinx could not load \(model.directory)")
        }
        cmd_ln_free_r(config)
        decoder = ps
        guard ps_set_kws(ps, "keywords", kws) == 0, ps_set_search(ps, "keywords") == 0 else {
            ps_free(ps)
            for f in files { unlink(f) }
            throw .invalid("pocketsphinx refused the keyphrase list")
        }
        ps_start_utt(ps)
    }

    deinit {
        ps_end_utt(decoder)
        ps_free(decoder)
        for f in files { unlink(f) }
    }

    /// Feeds 8 kHz samples; returns the keywords detected in them (usually none).
    public func feed(_ pcm: UnsafeBufferPointer<Int16>) -> [String] {
        guard !pcm.isEmpty else { return [] }
        fed += pcm.count
        upsampler.run(pcm, into: &wide)
        let n = wide.withUnsafeBufferPointer { ps_process_raw(decoder, $0.baseAddress, $0.count, 0, 0) }
        guard n >= 0 else { return [] }
        var score: Int32 = 0
        guard let hyp = ps_get_hyp(decoder, &score) else { return [] }
        // Several phrases of one detection round come back joined by spaces; take the
        // segments, each one keyphrase.
        var found: [String] = []
        var seg = ps_seg_iter(decoder)
        while let s = seg {
            if let w = ps_seg_word(s), let k = model.keyword(phrase: String(cString: w)), !found.contains(k) { found.append(k) }
            seg = ps_seg_next(s)
        }
        if found.isEmpty, let k = model.keyword(phrase: String(cString: hyp)) { found.append(k) }
        // Restart: the next detection is a new saying.
        ps_end_utt(decoder)
        ps_start_utt(decoder)
        found.removeAll { k in lastReported[k].map { fed - $0 < repeatWindow } ?? false }
        for k in found { lastReported[k] = fed }
        return found
    }

    /// Convenience for tests and the CLI.
    public func feed(_ pcm: [Int16]) -> [String] { pcm.withUnsafeBufferPointer { feed($0) } }
}

/// 8 kHz -> 16 kHz: each input sample and, between samples, a windowed-sinc interpolation
/// of the 8 around it (a half-band filter: the telephone band is kept, no image above 4 kHz).
struct Upsampler {
    private static let taps: [Float] = {
        // h[k] = sinc(k + 0.5) * Hann window over 8 points, k = -4...3.
        (0..<8).map { i in
            let x = Float(i - 4) + 0.5
            let sinc = sin(Float.pi * x) / (Float.pi * x)
            let w = 0.5 + 0.5 * cos(Float.pi * x / 4.5)
            return sinc * w
        }
    }()
    private var history = [Float](repeating: 0, count: 8)

    mutating func run(_ input: UnsafeBufferPointer<Int16>, into out: inout [Int16]) {
        out.removeAll(keepingCapacity: true)
        out.reserveCapacity(input.count * 2)
        let taps = Upsampler.taps
        for s in input {
            history.removeFirst()
            history.append(Float(s))
            // history[3] is the sample 4 back; interpolate between history[3] and history[4].
            var mid: Float = 0
            for k in 0..<8 { mid += taps[k] * history[k] }
            out.append(Int16(clamping: Int(history[3].rounded())))
            out.append(Int16(clamping: Int(mid.rounded())))
        }
    }
}
