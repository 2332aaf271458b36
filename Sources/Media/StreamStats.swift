import Synchronization

/// Counters of one relay socket (one direction of one side), written by its relay thread
/// once per batch with relaxed atomics and read by signaling for JSON and metrics.
public final class StreamStats: Sendable {
    /// Packets and bytes received from this side's remote party.
    let rxPackets = Atomic<UInt64>(0)
    let rxBytes = Atomic<UInt64>(0)
    /// Packets and bytes sent to this side's remote party.
    let txPackets = Atomic<UInt64>(0)
    let txBytes = Atomic<UInt64>(0)
    /// Packets dropped because they came from another source than the latched one.
    let droppedSource = Atomic<UInt64>(0)
    /// Packets dropped because the other side had no destination yet.
    let droppedNoDestination = Atomic<UInt64>(0)
    /// Packets the kernel refused to send.
    let droppedSendError = Atomic<UInt64>(0)
    /// SRTP/SRTCP packets that failed authentication or replay protection (or could not be protected).
    let droppedSRTP = Atomic<UInt64>(0)
    /// RTP packets the other leg could not take: a payload type this leg did not negotiate
    /// (comfort noise, ...) or a frame the transcoder refused.
    let droppedCodec = Atomic<UInt64>(0)
    /// RTP sequence analysis of what this side's party sent (RFC 3550 A.1, A.8).
    let sequenceGaps = Atomic<UInt64>(0)
    let duplicates = Atomic<UInt64>(0)
    let jitter = Atomic<UInt64>(0)

    init() {}

    @inline(__always) static func bump(_ a: borrowing Atomic<UInt64>, _ n: UInt64) {
        if n != 0 { a.add(n, ordering: .relaxed) }
    }

    var snapshot: Snapshot {
        Snapshot(
            rxPackets: rxPackets.load(ordering: .relaxed), rxBytes: rxBytes.load(ordering: .relaxed),
            txPackets: txPackets.load(ordering: .relaxed), txBytes: txBytes.load(ordering: .relaxed),
            droppedSource: droppedSource.load(ordering: .relaxed),
            droppedNoDestination: droppedNoDestination.load(ordering: .relaxed),
            droppedSendError: droppedSendError.load(ordering: .relaxed),
            sequenceGaps: sequenceGaps.load(ordering: .relaxed), duplicates: duplicates.load(ordering: .relaxed),
            jitter: jitter.load(ordering: .relaxed), droppedSRTP: droppedSRTP.load(ordering: .relaxed),
            droppedCodec: droppedCodec.load(ordering: .relaxed))
    }

    /// A copy of the counters at one moment.
    public struct Snapshot: Sendable, Equatable, Codable {
        public var rxPackets: UInt64 = 0
        public var rxBytes: UInt64 = 0
        public var txPackets: UInt64 = 0
        public var txBytes: UInt64 = 0
        public var droppedSource: UInt64 = 0
        public var droppedNoDestination: UInt64 = 0
        public var droppedSendError: UInt64 = 0
        /// RTP sequence numbers skipped (packets lost or reordered before reaching Baton).
        public var sequenceGaps: UInt64 = 0
        /// RTP packets whose sequence number was already seen.
        public var duplicates: UInt64 = 0
        /// RFC 3550 interarrival jitter, in RTP timestamp units.
        public var jitter: UInt64 = 0
        /// SRTP/SRTCP packets dropped: authentication or replay check failed.
        public var droppedSRTP: UInt64 = 0
        /// RTP packets dropped because the other leg could not take them (codec).
        public var droppedCodec: UInt64 = 0

        public init() {}
        init(rxPackets: UInt64, rxBytes: UInt64, txPackets: UInt64, txBytes: UInt64, droppedSource: UInt64,
             droppedNoDestination: UInt64, droppedSendError: UInt64, sequenceGaps: UInt64 = 0, duplicates: UInt64 = 0, jitter: UInt64 = 0,
             droppedSRTP: UInt64 = 0, droppedCodec: UInt64 = 0) {
            self.rxPackets = rxPackets; self.rxBytes = rxBytes; self.txPackets = txPackets; self.txBytes = txBytes
            self.droppedSource = droppedSource; self.droppedNoDestination = droppedNoDestination
            self.droppedSendError = droppedSendError; self.sequenceGaps = sequenceGaps; self.duplicates = duplicates; self.jitter = jitter
            self.droppedSRTP = droppedSRTP; self.droppedCodec = droppedCodec
        }

        public static func + (a: Snapshot, b: Snapshot) -> Snapshot {
            Snapshot(rxPackets: a.rxPackets + b.rxPackets, rxBytes: a.rxBytes + b.rxBytes,
                     txPackets: a.txPackets + b.txPackets, txBytes: a.txBytes + b.txBytes,
                     droppedSource: a.droppedSource + b.droppedSource,
                     droppedNoDestination: a.droppedNoDestination + b.droppedNoDestination,
                     droppedSendError: a.droppedSendError + b.droppedSendError,
                     sequenceGaps: a.sequenceGaps + b.sequenceGaps, duplicates: a.duplicates + b.duplicates,
                     jitter: max(a.jitter, b.jitter), droppedSRTP: a.droppedSRTP + b.droppedSRTP,
                     droppedCodec: a.droppedCodec + b.droppedCodec)
        }
    }
}
