import Foundation
import Synchronization

/// What the relay reports once it has spliced: when, why, how long it waited for silence,
/// and where the far party's stream stood (its SSRC and the last sequence number and
/// timestamp it received from the old leg).
public struct SpliceReport: Sendable, Equatable, Codable {
    public var reason: SpliceDecider.Reason
    /// Wall-clock time of the splice (seconds since 1970).
    public var time: Double
    /// From the moment the new leg was ready (answered, its first packet in, primed) to the splice.
    public var silenceWaitMillis: Double
    /// How long the far party's audio had been relayed to the new leg (priming) at the splice.
    public var primedMillis: Double
    public var ssrc: UInt32
    public var lastSeq: UInt16
    public var lastTimestamp: UInt32
}

/// A switchover's new leg on the relay: a fresh port pair whose packets are received and
/// latched but held back until the splice, when the far party's stream flips to it. From
/// its arming on it already receives a copy of the far party's audio (priming), so the new
/// device's play-out is full when the far party starts hearing it.
///
/// ```swift
/// let leg = try relay.prepareSwitch(stream, replacing: .b)   // offer leg.port to the new device
/// try relay.setRemote(leg, ip: "127.0.0.1", port: 42000)    // from its answer
/// relay.arm(leg, mode: .silence, windowMillis: 300, primingMillis: 200) { report in ... }  // after its ACK
/// relay.commit(leg)   // after the report: the leg replaces side .b, the old ports go back
/// ```
public final class SwitchLeg: Sendable {
    public let stream: AnchoredStream
    /// The side being replaced (the old device's side).
    public let side: MediaRelay.Side
    let endpoint: AnchoredStream.Endpoint
    let job: SpliceJob
    public var port: Int { endpoint.rtpPort }
    public var rtcpPort: Int { endpoint.rtcpPort }

    init(stream: AnchoredStream, side: MediaRelay.Side, endpoint: AnchoredStream.Endpoint, job: SpliceJob) {
        self.stream = stream
        self.side = side
        self.endpoint = endpoint
        self.job = job
    }

    /// RTP counters of the new leg (rx = from the new device, tx = to it).
    public var rtpCounters: StreamStats.Snapshot { endpoint.rtp.stats.snapshot }
}

/// The relay thread's view of one switchover. Fields are touched by the owning relay
/// thread only (commands carry it there); `onSplice` is called once, from that thread.
final class SpliceJob: @unchecked Sendable {
    let farRTP: RelaySocket
    let farRTCP: RelaySocket
    let oldRTP: RelaySocket
    let oldRTCP: RelaySocket
    let newRTP: RelaySocket
    let newRTCP: RelaySocket
    var decider = SpliceDecider(mode: .silence, windowMillis: 300)
    var armed = false
    var done = false
    var onSplice: (@Sendable (SpliceReport) -> Void)?

    init(far: AnchoredStream.Endpoint, old: AnchoredStream.Endpoint, new: AnchoredStream.Endpoint) {
        farRTP = far.rtp; farRTCP = far.rtcp
        oldRTP = old.rtp; oldRTCP = old.rtcp
        newRTP = new.rtp; newRTCP = new.rtcp
    }

    /// The flip, in one step on the relay thread: F's sockets send what arrives from the
    /// new leg, F's packets go to the new leg, the old leg is held.
    func perform(reason: SpliceDecider.Reason, now: Int64) {
        guard !done else { return }
        done = true
        farRTP.peer = newRTP
        farRTCP.peer = newRTCP
        newRTP.forwarding = true
        newRTCP.forwarding = true
        oldRTP.forwarding = false
        oldRTCP.forwarding = false
        // The fork's direction (far party -> new leg) becomes the main one, with its timestamp
        // map; the old device keeps hearing the far party until it is released (``endFork()``).
        swap(&farRTP.tsMap, &farRTP.forkTSMap)
        farRTP.fork = decider.oldLegGone ? nil : oldRTP
        detach()
        let last = farRTP.egress.last
        let report = SpliceReport(reason: reason, time: Date().timeIntervalSince1970,
                                  silenceWaitMillis: Double(decider.waited(until: now)) / 1e6,
                                  primedMillis: Double(decider.primed(until: now)) / 1e6,
                                  ssrc: farRTP.egress.ssrc, lastSeq: last.seq, lastTimestamp: last.timestamp)
        onSplice?(report)
        onSplice = nil
    }

    /// Armed: the far party's audio is copied to the new leg from now on (priming).
    func startFork(now: Int64) {
        farRTP.fork = newRTP
        farRTP.forkTSMap = TimestampMap()
        farRTP.splice = self
        decider.armed(at: now)
    }

    /// The copy of the far party's audio to the new leg (before the splice) or to the old
    /// leg (after it) ends: the switchover was given up, or the old leg is being released.
    func endFork() {
        if farRTP.fork === newRTP || farRTP.fork === oldRTP { farRTP.fork = nil }
    }

    func detach() {
        if oldRTP.splice === self { oldRTP.splice = nil }
        if newRTP.splice === self { newRTP.splice = nil }
        if farRTP.splice === self { farRTP.splice = nil }
    }
}
