import CSpanDSP

/// In-band DTMF (tones in the audio, the way a phone without RFC 4733 sends digits) with
/// spandsp's DTMF receiver (ITU-T Q.24 timing and twist limits). One per listened call.
public final class ToneDetector {
    private let state: OpaquePointer

    public init() {
        state = dtmf_rx_init(nil, nil, nil)
    }

    deinit { dtmf_rx_free(state) }

    /// Feeds 8 kHz samples; returns the digits completed in them ("", "0", "12#"...).
    public func feed(_ pcm: UnsafeBufferPointer<Int16>) -> String {
        guard let base = pcm.baseAddress, !pcm.isEmpty else { return "" }
        dtmf_rx(state, base, Int32(pcm.count))
        var digits = [CChar](repeating: 0, count: 33)
        let n = dtmf_rx_get(state, &digits, 32)
        guard n > 0 else { return "" }
        return String(decoding: digits[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func feed(_ pcm: [Int16]) -> String { pcm.withUnsafeBufferPointer { feed($0) } }
}

/// Talk or silence of one party, from spandsp's power meter: a 20 ms block is speech when its
/// level is above `threshold` dBm0; talking lasts while speech blocks come with gaps under
/// `hangover` blocks (the pauses between words).
public struct ActivityMeter {
    private var meter = power_meter_t()
    public var threshold: Float
    public let hangover: Int
    private var quiet = Int.max
    /// The last block's level (dBm0).
    public private(set) var level: Float = -96
    /// Sum and count of the levels of speech blocks (the mean speech level).
    public private(set) var speechLevelSum: Double = 0
    public private(set) var speechBlocks = 0

    public init(threshold: Float = -40, hangover: Int = 10) {
        self.threshold = threshold
        self.hangover = hangover
        power_meter_init(&meter, 5)
    }

    /// One block of samples (20 ms at 8 kHz: 160); returns whether the party is talking.
    public mutating func block(_ pcm: UnsafeBufferPointer<Int16>) -> Bool {
        for s in pcm { power_meter_update(&meter, s) }
        level = power_meter_current_dbm0(&meter)
        if level > threshold {
            quiet = 0
            speechLevelSum += Double(level)
            speechBlocks += 1
        } else if quiet < Int.max {
            quiet += 1
        }
        return quiet <= hangover
    }
}
