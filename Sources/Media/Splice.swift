/// The arithmetic of a make-before-break switchover, kept apart from sockets so it can be
/// tested on an injected clock.
///
/// ``RTPRewriter`` sits on the socket that sends to the far party F. Every RTP packet F
/// receives goes through it; while one source feeds F it passes headers through untouched.
/// When the source changes (the splice moved F's stream from the old device P to the new
/// device S) it rebases: F keeps its SSRC, the sequence number continues by one, and the
/// timestamp continues from the last one sent plus the elapsed sampling time, rounded to
/// whole packets of the stream's packetization (so F's jitter buffer sees neither an
/// overlap nor a fraction of a frame), with the marker bit set on the first packet.
public struct RTPRewriter: Sendable, Equatable {
    /// What F sees of one packet.
    public struct Header: Sendable, Equatable {
        public var ssrc: UInt32
        public var seq: UInt16
        public var timestamp: UInt32
        public var marker: Bool
        public init(ssrc: UInt32, seq: UInt16, timestamp: UInt32, marker: Bool) {
            self.ssrc = ssrc; self.seq = seq; self.timestamp = timestamp; self.marker = marker
        }
    }

    /// Sampling rate of the stream F receives (Hz).
    public var clockRate: Int64
    /// Identifies the leg currently feeding F (a socket slot); -1 before the first packet.
    public private(set) var source: Int = -1
    /// The SSRC F sees for the whole call.
    public private(set) var ssrc: UInt32 = 0
    public private(set) var seqDelta: UInt16 = 0
    public private(set) var tsDelta: UInt32 = 0
    /// True once a splice happened: headers are rewritten from then on.
    public private(set) var rewriting = false
    /// Last header sent to F, and when (monotonic ns).
    public private(set) var last = Header(ssrc: 0, seq: 0, timestamp: 0, marker: false)
    public private(set) var lastNanos: Int64 = 0
    /// Timestamp increment between consecutive packets, learned from the stream (default 20 ms).
    public private(set) var step: UInt32
    private var markNext = false
    private var hasLast = false

    public init(clockRate: Int64 = 8000) {
        self.clockRate = clockRate
        step = UInt32(clockRate / 50)
    }

    public var started: Bool { source >= 0 }

    /// What a restarted relay needs to go on rewriting F's stream exactly as before (the
    /// deltas chosen at the last splice): F keeps its SSRC and sequence across the restart.
    /// Constant between splices, so saved once per splice (``MediaRelay/snapshot(_:_:)``).
    public struct Continuation: Codable, Sendable, Equatable {
        public var ssrc: UInt32
        public var seqDelta: UInt16
        public var tsDelta: UInt32
        public var step: UInt32
        public var clockRate: Int64
    }

    /// The rewrite in force (nil while headers pass through untouched).
    public var continuation: Continuation? {
        rewriting ? Continuation(ssrc: ssrc, seqDelta: seqDelta, tsDelta: tsDelta, step: step, clockRate: clockRate) : nil
    }

    /// A rewriter that goes on with a saved rewrite for packets from `source` (the socket
    /// now feeding F); a later splice rebases from what was sent since.
    public init(continuing c: Continuation, source s: Int) {
        clockRate = c.clockRate
        step = max(1, c.step)
        ssrc = c.ssrc
        seqDelta = c.seqDelta
        tsDelta = c.tsDelta
        rewriting = true
        source = s
    }

    /// The header F receives for an incoming packet from `source`, received at `nanos`.
    @inline(__always)
    public mutating func rewrite(source s: Int, _ h: Header, nanos: Int64) -> Header {
        if s != source {
            rebase(source: s, h, nanos: nanos)
        }
        var out = h
        if rewriting {
            out.ssrc = ssrc
            out.seq = h.seq &+ seqDelta
            out.timestamp = h.timestamp &+ tsDelta
            if markNext { out.marker = true; markNext = false }
        }
        // Learn the packetization from consecutive packets (forward, within one second).
        let d = out.timestamp &- last.timestamp
        if hasLast, out.seq == last.seq &+ 1, d > 0, Int64(d) <= clockRate {
            step = d
        }
        // Only a newer packet moves the reference point (a late one must not pull it back).
        if !hasLast || Int16(bitPattern: out.seq &- last.seq) > 0 {
            last = out
            lastNanos = nanos
            hasLast = true
        }
        return out
    }

    /// The first packet from a new source: choose the deltas that make it follow on.
    @inline(__always)
    mutating func rebase(source s: Int, _ h: Header, nanos: Int64) {
        defer { source = s }
        guard started else {
            // The first leg defines F's stream: pass through.
            ssrc = h.ssrc
            return
        }
        let elapsed = max(0, nanos - lastNanos)
        let samples = elapsed * clockRate / 1_000_000_000
        let st = Int64(max(step, 1))
        let packets = max(1, (samples + st / 2) / st)
        let nextTS = last.timestamp &+ UInt32(truncatingIfNeeded: packets * st)
        seqDelta = (last.seq &+ 1) &- h.seq
        tsDelta = nextTS &- h.timestamp
        rewriting = true
        markNext = true
    }
}

/// Picks the splice point: the first packet boundary at which the old leg's outgoing audio
/// is silent, waiting at most `window` once the new leg is ready, or at once in `now` mode.
///
/// The new leg is *ready* when it is confirmed, its first packet has arrived, and it is
/// *primed*: the far party's audio has been relayed to it for at least `priming` (a copy,
/// from the moment it was confirmed), so the new device's jitter and play-out buffers are
/// full at the splice and what the far party hears from it starts with the far party's own
/// audio, not with the silence of an empty buffer (docs/switchover.md, "Priming").
///
/// ```swift
/// var d = SpliceDecider(mode: .now, windowMillis: 300, primingMillis: 200)
/// d.armed(at: t0)                 // new leg confirmed: the far party's audio is forked to it
/// d.forked(at: t0 + 5_000_000)    // the first copy went out
/// d.newLegReady(at: t0 + 30_000_000)
/// d.decide(oldPacketSilent: nil, atOldPacket: true, now: t0 + 100_000_000)  // nil: still priming
/// d.decide(oldPacketSilent: nil, atOldPacket: true, now: t0 + 205_000_000)  // .immediate
/// ```
public struct SpliceDecider: Sendable, Equatable {
    public enum Mode: String, Sendable, Codable { case silence, now }
    public enum Reason: String, Sendable, Codable, Equatable { case silence, immediate, window }

    public let mode: Mode
    public let windowNanos: Int64
    /// How long the far party's audio must have flowed to the new leg before the splice.
    public let primingNanos: Int64
    /// When the new leg was confirmed and the fork toward it started; nil before.
    public private(set) var armedNanos: Int64?
    /// When the first copy of the far party's audio went to the new leg; nil before.
    public private(set) var firstForkNanos: Int64?
    /// When the new leg's own first packet arrived; nil before.
    public private(set) var firstNewNanos: Int64?

    /// True when the old leg is gone (its device hung up): the new leg's first packet splices
    /// (there is nothing left to prime against: the far party hears nothing from the old leg).
    public let oldLegGone: Bool

    public init(mode: Mode, windowMillis: Int, primingMillis: Int = 0, oldLegGone: Bool = false) {
        self.mode = mode
        windowNanos = Int64(max(0, windowMillis)) * 1_000_000
        primingNanos = Int64(max(0, primingMillis)) * 1_000_000
        self.oldLegGone = oldLegGone
    }

    /// The new leg is confirmed (answered and ACKed): the far party's audio is forked to it
    /// from now on.
    public mutating func armed(at nanos: Int64) {
        if armedNanos == nil { armedNanos = nanos }
    }

    /// A copy of the far party's audio went to the new leg.
    public mutating func forked(at nanos: Int64) {
        if firstForkNanos == nil { firstForkNanos = nanos }
    }

    /// The new leg's first packet arrived (after the leg was confirmed).
    public mutating func newLegReady(at nanos: Int64) {
        if firstNewNanos == nil { firstNewNanos = nanos }
    }

    /// When priming is complete: `priming` after the first copy reached the new leg (after
    /// the arming when the far party sends nothing, e.g. muted with DTX). nil before arming.
    public var primedNanos: Int64? {
        guard let start = firstForkNanos ?? armedNanos else { return nil }
        return start + primingNanos
    }

    /// When the new leg became ready: its first packet is in and it is primed (the old leg
    /// being gone, or no priming asked, needs only the first packet). nil while unknown.
    public var readyNanos: Int64? {
        guard let first = firstNewNanos else { return nil }
        if oldLegGone || primingNanos == 0 { return first }
        guard let primed = primedNanos else { return nil }
        return max(first, primed)
    }

    /// Ready at `nanos` (the splice may happen from then on).
    @inline(__always)
    public func isReady(at nanos: Int64) -> Bool {
        guard let r = readyNanos else { return false }
        return nanos >= r
    }

    /// Asked at each packet boundary of the old leg (`atOldPacket`, with whether that
    /// packet was silent, nil when its codec cannot be judged) and at each packet of the new
    /// leg. A splice only ever happens at a packet: right after an old-leg packet was
    /// forwarded, or at a new-leg packet that is then forwarded at once, so the far party's
    /// next packet follows the old leg's last one within the old leg's packet interval.
    /// Nothing splices before the new leg is ready (first packet in, primed). Then `now`
    /// splices at the first such packet; `silence` at the first silent old-leg packet, or at
    /// the first packet of either leg once the window (counted from readiness) has passed.
    public func decide(oldPacketSilent silent: Bool?, atOldPacket: Bool, now: Int64) -> Reason? {
        guard let ready = readyNanos, now >= ready else { return nil }
        if mode == .now || oldLegGone { return .immediate }
        if atOldPacket && silent == true { return .silence }
        return now - ready >= windowNanos ? .window : nil
    }

    /// How long the splice waited for silence (from readiness).
    public func waited(until nanos: Int64) -> Int64 { readyNanos.map { max(0, nanos - $0) } ?? 0 }

    /// How long the far party's audio had flowed to the new leg at `nanos`.
    public func primed(until nanos: Int64) -> Int64 {
        guard let start = firstForkNanos ?? armedNanos else { return 0 }
        return max(0, nanos - start)
    }
}

/// A voice-activity measure on G.711 payloads: the mean absolute amplitude of the decoded
/// 16-bit samples compared with a threshold (default 300 ≈ −40 dBFS; speech sits well above,
/// line noise and comfort noise below).
public enum VoiceActivity {
    public static let defaultThreshold = 300

    /// nil when the payload type is not G.711 (PCMU 0, PCMA 8): the caller then relies on
    /// the window.
    @inline(__always)
    public static func isSilent(payloadType: UInt8, payload: UnsafeRawBufferPointer, threshold: Int = defaultThreshold) -> Bool? {
        guard payloadType == 0 || payloadType == 8, payload.count > 0 else { return nil }
        var sum = 0
        var i = 0
        let n = payload.count
        if payloadType == 0 {
            while i < n { sum &+= abs(Int(G711.ulaw(payload[i]))); i += 1 }
        } else {
            while i < n { sum &+= abs(Int(G711.alaw(payload[i]))); i += 1 }
        }
        return sum / n < threshold
    }
}
