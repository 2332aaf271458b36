/// Per-source RTP receive statistics (RFC 3550 Appendix A.1 and A.8): sequence gaps,
/// duplicates and interarrival jitter. Owned by one relay socket and updated only by its
/// relay thread. A final class rather than a struct stored in the socket: mutating a struct
/// property of a class goes through a `modify` coroutine, which in unoptimized builds
/// allocates its frame on every call.
final class RTPSequence {
    private var started = false
    private var maxSeq: UInt16 = 0
    /// Bit i set: sequence number maxSeq - i was seen (duplicate detection over 64 packets).
    private var window: UInt64 = 0
    private var lastTransit: Int64 = 0
    /// Jitter in timestamp units, scaled by 16 (RFC 3550 A.8's fixed-point form).
    private var jitterQ4: Int64 = 0
    private(set) var gaps: UInt64 = 0
    private(set) var duplicates: UInt64 = 0
    var jitter: UInt64 { UInt64(jitterQ4 >> 4) }

    /// Updates with one RTP packet; `arrival` is in the stream's timestamp units.
    @inline(__always)
    func update(seq: UInt16, timestamp: UInt32, arrival: Int64) {
        if !started {
            started = true
            maxSeq = seq
            window = 1
            lastTransit = arrival &- Int64(timestamp)
            return
        }
        let delta = Int16(bitPattern: seq &- maxSeq)
        if delta > 0 {
            if delta > 1 { gaps &+= UInt64(delta - 1) }
            window = delta >= 64 ? 1 : (window << UInt64(delta)) | 1
            maxSeq = seq
        } else {
            // Widened first: -Int16.min overflows (a packet 32768 ahead of the highest one
            // crashed the relay thread; found by the `relay` fuzz target).
            let back = -Int(delta)
            if back < 64 {
                let bit: UInt64 = 1 << UInt64(back)
                if window & bit != 0 { duplicates &+= 1; return }
                window |= bit
                // A late packet fills a gap counted before.
                if gaps > 0 { gaps -= 1 }
            }
        }
        let transit = arrival &- Int64(timestamp)
        var d = transit &- lastTransit
        lastTransit = transit
        if d < 0 { d = -d }
        jitterQ4 &+= d &- ((jitterQ4 &+ 8) >> 4)
    }
}
