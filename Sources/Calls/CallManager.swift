import Foundation
import Logging
import Media
import Metrics
import SIP
import Store
import Synchronization

/// Which packets may latch a leg's media source (`media.source`; ng flags per command).
/// After the latch, only the latched address and port are relayed whatever the rule.
public enum MediaSourceRule: String, Sendable, CaseIterable {
    /// Packets from the address the leg's SDP advertised or from its signaling source (the
    /// default: a phone behind NAT, or one that advertises an interface it does not send
    /// from, still latches; a stranger does not).
    case sdpOrSignaling = "sdp-or-signaling"
    /// Only packets from the address the leg's SDP advertised (rtpengine's `strict-source`).
    case sdp
    /// Only packets from the leg's SIP signaling source address (NATed phones whose SDP
    /// names a private address; rtpengine's `SIP-source-address`).
    case signaling
    /// The first packet from anywhere (rtpengine's learning without `strict-source`).
    case any
}

/// The Calls API: live calls, their legs and anchored media, and their records.
///
/// The SIP B2BUA drives it through ``B2BUADelegate``; HTTP reads it (`calls`, `call(id:)`).
/// A later ng front end drives the same anchoring through ``anchor(call:from:sdp:)``.
///
/// ```swift
/// let calls = CallManager(relay: relay)
/// sip.b2bua.delegate = calls
/// calls.calls()            // live calls
/// ```
/// Thread-safe: state sits behind a `Mutex`; writes to the store go through an
/// `AsyncStream` that ``StoreWriter`` drains.
public final class CallManager: B2BUADelegate, RegistrationPersisting, Sendable {
    /// A live call as the controller keeps it: the ``Call`` (parties and legs), its record for
    /// the store, its anchored streams and their offer/answer state.
    struct Live {
        var call: Call
        var info: CallInfo
        var record: CallRecord
        var streams: [AnchoredStream] = []
        /// Offer/answer state per stream (m= line index): codecs and SRTP keys per leg.
        var negotiation: [Int: StreamNegotiation] = [:]
        /// Re-offers on the answered call (re-INVITEs, UPDATEs with SDP), and how many of
        /// them put it on hold: SIP facts of the dialog records.
        var reoffers = 0
        var holds = 0
        var held = false
        /// Where each side's party receives, per stream (what a restart sets again).
        var remotes: [Int: [MediaRelay.Side: CallResumeState.Remote]] = [:]
        /// What was last saved for a restart (answered SIP calls with a gateway id).
        var saved: SavedAnchor?
        /// A switchover committed: the far party's egress may be rewritten (saving the call
        /// then asks the relay thread for it).
        var switched = false

        init(id: String, from: String, to: String, started: Double, callerCallID: String = "") {
            call = Call(id: id, state: .calling, from: from, to: to, legs: [])
            info = CallInfo(id: id, state: .calling, from: from, to: to, started: started, legs: [])
            record = CallRecord(id: id, caller: from, callee: to, callerCallID: callerCallID, started: started)
        }

        /// The leg serving `party`, made if it has none yet (the first offer or answer of a
        /// party can come before the event that names its signaling).
        mutating func leg(_ party: CallSide, _ change: (inout Leg) -> Void) {
            if let k = call.legs.firstIndex(where: { $0.role == .party(party) }) {
                change(&call.legs[k])
            } else {
                var leg = Leg(number: nextLegNumber, role: .party(party))
                change(&leg)
                call.legs.append(leg)
            }
        }

        var nextLegNumber: Int { (call.legs.map(\.number).max() ?? -1) + 1 }
    }

    public let relay: MediaRelay
    let state = Mutex<(live: [String: Live], ended: [CallInfo])>(([:], []))
    private let keepEnded: Int
    let logger: Logger
    private let now: @Sendable () -> Double
    /// What the ``StoreWriter`` persists (call records, events, registrations).
    public let storeOperations = StoreQueue()
    let activeGauge = Gauge(label: "baton_calls_active")
    private let callsTotal = Counter(label: "baton_calls_total")

    /// Offer the answerer the codecs Baton can transcode to (Opus to a G.711 offerer, G.711
    /// to an Opus one) besides the offerer's own (`media.transcode`).
    public let transcoding: Bool
    /// User call identifiers and the shared operations of related calls.
    public let shared = SharedCalls()

    /// Most live calls (SIP and ng together); 0: no limit (`limits.max_sessions`). New calls
    /// beyond it are refused: SIP with 503 + Retry-After, ng with "Parallel session limit
    /// reached" (rtpengine's `max-sessions`). Soft by one: the SIP and ng loops check
    /// concurrently.
    public let maxSessions: Int
    private let rejectedCounter = Counter(label: "baton_calls_rejected_total", dimensions: [("reason", "session_limit")])
    let storeRejectedCounter = Counter(label: "baton_calls_rejected_total", dimensions: [("reason", "store_unavailable")])
    /// Forwarding, STIR and call-move handling (CallManager+Policy.swift).
    let policy = Mutex(CallPolicy())

    /// Which packets may latch a leg's media source (`media.source`): see ``MediaSourceRule``.
    public let mediaSource: MediaSourceRule
    let refusedSourceLogs = Mutex(LogRateLimiter())

    public init(relay: MediaRelay, keepEnded: Int = 200, transcoding: Bool = true, maxSessions: Int = 0,
                mediaSource: MediaSourceRule = .sdpOrSignaling,
                logger: Logger = Logger(label: "baton.calls"),
                now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.relay = relay
        self.mediaSource = mediaSource
        self.maxSessions = max(0, maxSessions)
        self.transcoding = transcoding
        self.keepEnded = keepEnded
        self.logger = logger
        self.now = now
    }

    /// RFC 4733 events the caller of a live call sent on its first stream: the count and the
    /// last digit ("0"-"9", "*", "#", "A"-"D"); nil for an unknown call or one without media.
    /// The count starts again when a switchover replaced the caller's leg.
    public func callerTelephoneEvents(call id: String) -> (count: Int, last: String)? {
        guard let stream = state.withLock({ $0.live[id]?.streams.first }) else { return nil }
        let (count, code) = stream.telephoneEvents(.a)
        return (count, CallManager.digit(code))
    }

    /// Copies the audio of a live call's first stream into `caller` (what the caller sends)
    /// and `callee` (what the other party sends) for a listener, or stops it (nil). False for
    /// an unknown call or one without media.
    @discardableResult
    public func tap(call id: String, caller: AudioTap?, callee: AudioTap?) -> Bool {
        guard let stream = state.withLock({ $0.live[id]?.streams.first }) else { return false }
        relay.tap(stream, side: .a, caller)
        relay.tap(stream, side: .b, callee)
        return true
    }

    static func digit(_ code: UInt8) -> String {
        switch code {
        case 0...9: String(code)
        case 10: "*"
        case 11: "#"
        case 12...15: String(UnicodeScalar(UInt8(65) + code - 12))
        default: "?"
        }
    }

    /// Ids of live answered calls (the conversation monitor's round).
    public func answeredCallIDs() -> [String] {
        state.withLock { s in s.live.values.filter { $0.call.state == .answered }.map(\.call.id) }
    }

    /// The controller's clock (Unix seconds): what call times are measured in.
    public var currentTime: Double { now() }

    /// Queues a write for the store writer (events of layers above, e.g. switchovers).
    public func record(_ write: StoreWrite) { storeOperations.yield(write) }

    /// Ends the store stream (after the SIP side has stopped).
    public func finishStoreStream() { storeOperations.finish() }

    // MARK: Queries

    public var activeCount: Int { state.withLock { $0.live.count } }

    /// Whether a new call fits under ``maxSessions``; counts and logs (rate-limited by the
    /// caller's protocol layer) a refusal.
    public func admitsNewCall() -> Bool {
        guard maxSessions > 0 else { return true }
        let active = activeCount
        guard active >= maxSessions else { return true }
        rejectedCounter.increment()
        limiter.withLock { [logger, maxSessions] in
            $0.log(logger, .warning, "session limit reached: new call refused", metadata: ["limit": "\(maxSessions)", "active": "\(active)"])
        }
        return false
    }
    /// SIP and ng both call ``admitsNewCall()``: the limiter is shared under a lock.
    private let limiter = Mutex(LogRateLimiter())
    let storeLimiter = Mutex(LogRateLimiter())
    /// Call moves (REFER, Replaces) refused by ``MoveRules``.
    let movesRefused = Counter(label: "baton_call_moves_refused_total")
    let moveLimiter = Mutex(LogRateLimiter())

    /// Live calls, oldest first.
    public func calls() -> [CallInfo] {
        state.withLock { s in s.live.values.map { self.render($0) } }.sorted { $0.started < $1.started }
    }

    /// Recently ended calls, newest first (kept in memory; older ones are in the store).
    public func endedCalls() -> [CallInfo] { state.withLock { $0.ended.reversed() } }

    public func call(id: String) -> CallInfo? {
        state.withLock { s in s.live[id].map { self.render($0) } ?? s.ended.last { $0.id == id } }
    }

    private func render(_ l: Live) -> CallInfo {
        var info = l.info
        info.legs = [CallSide.caller, .callee].map { side in
            let relaySide: MediaRelay.Side = side == .caller ? .a : .b
            let media = l.streams.enumerated().map { i, s in
                MediaInfo(localPort: s.port(relaySide), advertised: l.call.leg(side)?.advertised[safe: i],
                          latched: s.latchedAddress(relaySide), rtp: s.rtpCounters(relaySide),
                          rtcp: s.rtcpCounters(relaySide))
            }
            let leg = l.call.leg(side)
            return LegInfo(side: side, callID: leg?.callID, signaling: leg?.control?.description, dialog: leg?.dialog, media: media)
        }
        return info
    }

    func hasCall(_ id: String) -> Bool { state.withLock { $0.live[id] != nil } }

    /// A live call's state, without rendering its legs and counters as ``call(id:)`` does.
    func liveState(_ id: String) -> CallInfo.State? { state.withLock { $0.live[id]?.info.state } }

    /// The live call as the controller keeps it (parties and every leg).
    public func liveCall(id: String) -> Call? { state.withLock { $0.live[id]?.call } }

    func ngSide(id: String, tag: String, default d: CallSide) -> CallSide {
        let role = state.withLock { s in s.live[id]?.call.legs.first { $0.tag == tag }?.role }
        if case .party(let side)? = role { return side }
        return d
    }

    func setTag(id: String, tag: String, side: CallSide) {
        state.withLock { $0.live[id]?.leg(side) { $0.tag = tag; $0.control = .ng } }
    }

    func tags(id: String) -> [CallSide: String] {
        guard let call = liveCall(id: id) else { return [:] }
        var out: [CallSide: String] = [:]
        for side in [CallSide.caller, .callee] { out[side] = call.leg(side)?.tag }
        return out
    }

    // MARK: B2BUADelegate

    public func anchor(call id: String, from side: CallSide, sdp: SessionDescription, role: SDPRole, keys: SDESExposure) throws {
        try anchor(call: id, from: side, sdp: sdp, role: role, addCodecs: transcoding, keys: keys)
    }

    /// What may latch a leg's media: the rule (`media.source`, or an ng command's flags), and
    /// for `.signaling` the leg's signaling address (a SIP leg's peer, ng's `received-from`).
    /// A signaling address that is no IP address (or none known yet) falls back to the SDP's.
    func sourcePolicy(_ rule: MediaSourceRule, control: LegControl?, signaling: String? = nil) -> MediaRelay.SourcePolicy {
        var host = signaling
        if host == nil, case .sip(let peer) = control { host = peer.host }
        if let h = host, !SessionDescription.isIPAddress(h) { host = nil }
        switch rule {
        case .sdp: return .advertised
        case .any: return .any
        case .signaling: return host.map { .address($0) } ?? .advertised
        case .sdpOrSignaling: return host.map { .advertisedOr($0) } ?? .advertised
        }
    }

    /// Anchors an SDP body from `side` and rewrites it for the other side: addresses and
    /// ports, and per audio stream the codecs and SRTP keys each leg negotiated (see
    /// ``StreamNegotiation``). An answer configures both legs' media in the relay.
    func anchor(call id: String, from side: CallSide, sdp: SessionDescription, role: SDPRole, addCodecs: Bool,
                keys: SDESExposure = .allowed, source: (rule: MediaSourceRule, signaling: String?)? = nil) throws {
        let media = sdp.media
        if case .offer = role { trackHold(call: id, sdp: sdp) }
        let relaySide: MediaRelay.Side = side == .caller ? .a : .b
        let other: MediaRelay.Side = side == .caller ? .b : .a
        // Allocate outside the lock: binding sockets is a syscall.
        let have = state.withLock { $0.live[id]?.streams.count ?? 0 }
        var fresh: [AnchoredStream] = []
        do {
            for _ in have..<max(have, media.count) { fresh.append(try relay.allocate()) }
        } catch {
            fresh.forEach { relay.release($0) }
            throw CallsError.mediaUnavailable("\(error)")
        }
        let (streams, decisions, control) = try state.withLock { s throws(SIPError) -> ([AnchoredStream], [(Int, StreamNegotiation.Decision)], LegControl?) in
            if s.live[id] == nil { s.live[id] = Live(id: id, from: "", to: "", started: now()) }
            s.live[id]!.streams.append(contentsOf: fresh)
            s.live[id]!.leg(side) { $0.advertised = media.map { "\($0.address):\($0.port)" } }
            var decisions: [(Int, StreamNegotiation.Decision)] = []
            for (i, m) in media.enumerated() where m.kind == "audio" && m.port != 0 {
                var n = s.live[id]!.negotiation[i] ?? StreamNegotiation()
                switch role {
                case .offer(let transport):
                    try n.offer(from: side, sdp: sdp, media: i, transport: transport, addCodecs: addCodecs, keys: keys)
                case .answer:
                    if let d = try n.answer(from: side, sdp: sdp, media: i) { decisions.append((i, d)) }
                }
                s.live[id]!.negotiation[i] = n
            }
            return (s.live[id]!.streams, decisions, s.live[id]!.call.leg(side)?.control)
        }
        let latch = sourcePolicy(source?.rule ?? mediaSource, control: control, signaling: source?.signaling)
        var remotes: [(Int, CallResumeState.Remote)] = []
        defer {
            if !remotes.isEmpty {
                state.withLock { s in for (i, r) in remotes { s.live[id]?.remotes[i, default: [:]][relaySide] = r } }
            }
        }
        for (i, m) in media.enumerated() {
            let stream = streams[i]
            if m.port == 0 {
                try sdp.anchor(media: i, address: relay.configuration.sdpAddress, port: 0)
                continue
            }
            // c=0.0.0.0 (RFC 2543 hold) keeps the last destination.
            if m.address != "0.0.0.0" && m.address != "::" {
                try relay.setRemote(stream, side: relaySide, ip: m.address, port: m.port, rtcpPort: m.rtcpPort, source: latch)
                remotes.append((i, CallResumeState.Remote(ip: m.address, port: m.port, rtcpPort: m.rtcpPort, source: latch)))
            }
            try sdp.anchor(media: i, address: relay.configuration.sdpAddress, port: stream.port(other))
        }
        for (i, d) in decisions {
            let offerer = CallManager.relaySide(d.offerer)
            try relay.configure(streams[i], side: offerer, d.offererMedia, transcodes: d.transcodes)
            try relay.configure(streams[i], side: offerer == .a ? .b : .a, d.answererMedia, transcodes: d.transcodes)
            if d.transcodes || d.offererMedia.srtp != nil || d.answererMedia.srtp != nil {
                logger.debug("media negotiated", metadata: [
                    "call": "\(id)", "stream": "\(i)",
                    "\(d.offerer.rawValue)": "\(CallManager.describe(d.offererMedia))",
                    "\(d.offerer.other.rawValue)": "\(CallManager.describe(d.answererMedia))"])
            }
        }
    }

    static func describe(_ m: LegMedia) -> String {
        (m.format.map { "\($0.codec.rawValue)/\($0.payloadType)" } ?? "passthrough") + (m.srtp.map { " SRTP \($0.suite.rawValue)" } ?? " RTP")
    }

    public func release(call id: String) {
        let streams = state.withLock { s -> [AnchoredStream] in
            guard var l = s.live[id] else { return [] }
            let taken = l.streams
            // Keep counters of the final moment for the ended-call view.
            l.info = render(l)
            s.live[id] = l
            return taken
        }
        // The counters rendered above were read while the relay threads still forwarded: a
        // packet counted in on one side may not yet be counted out on the other. Once every
        // stream's thread has let go, they are final: render them again into the call's view.
        guard !streams.isEmpty else { return }
        let all = JoinedResults(streams.count) { [weak self] _ in self?.finalCounters(call: id, streams: streams) }
        streams.forEach { relay.release($0, released: { all.done(false) }) }
    }

    /// Puts the released streams' final counters into the call's view (ended, or still live).
    private func finalCounters(call id: String, streams: [AnchoredStream]) {
        for (i, stream) in streams.enumerated() {
            for side in [MediaRelay.Side.a, .b] {
                let dropped = stream.counters(side).droppedSource
                guard dropped > 0 else { continue }
                let party: CallSide = side == .a ? .caller : .callee
                refusedSourceLogs.withLock { [logger] in
                    $0.log(logger, .warning, "RTP from an unexpected source dropped (media.source)", metadata: [
                        "call": "\(id)", "stream": "\(i)", "party": "\(party.rawValue)", "packets": "\(dropped)",
                        "first_source": "\(stream.refusedSource(side) ?? "?")", "latched": "\(stream.latchedAddress(side) ?? "none")"])
                }
            }
        }
        func update(_ info: inout CallInfo) {
            for k in info.legs.indices {
                let side: MediaRelay.Side = info.legs[k].side == .caller ? .a : .b
                for i in info.legs[k].media.indices where i < streams.count {
                    info.legs[k].media[i].rtp = streams[i].rtpCounters(side)
                    info.legs[k].media[i].rtcp = streams[i].rtcpCounters(side)
                }
            }
        }
        state.withLock { s in
            if let k = s.ended.lastIndex(where: { $0.id == id }) {
                update(&s.ended[k])
            } else if var l = s.live[id] {
                update(&l.info)
                s.live[id] = l
            }
        }
    }

    /// A new call: its record, its caller leg and who signals for it (a SIP peer, or the ng
    /// protocol for a call that a proxy in front signals and Baton only anchors).
    func start(call id: String, from: String, to: String, callerCallID: String, control: LegControl) {
        let t = now()
        callsTotal.increment()
        let record = CallRecord(id: id, caller: from, callee: to, callerCallID: callerCallID, started: t)
        state.withLock { s in
            var l = s.live[id] ?? Live(id: id, from: from, to: to, started: t)
            l.info.from = from
            l.info.to = to
            l.call.from = from
            l.call.to = to
            l.record = record
            l.leg(.caller) { $0.callID = callerCallID; $0.control = control }
            s.live[id] = l
            activeGauge.record(s.live.count)
        }
        storeOperations.yield(.call(record))
        shared.callStarted(call: id, users: [CallManager.user(from), CallManager.user(to)].compactMap { $0 },
                           peer: SIPURI.addressText(to))
    }

    /// The B2BUA's report on its dialogs, as the controller's call events.
    public func dialogEvent(_ event: DialogEvent) {
        switch event {
        case let .invited(id, from, to, callerCallID, peer):
            callEvent(.started(id: id, from: from, to: to, callerCallID: callerCallID, caller: .sip(peer)))
        case let .routed(id, calleeCallID, peer): callEvent(.routed(id: id, calleeCallID: calleeCallID, callee: .sip(peer)))
        case .ringing(let id): callEvent(.ringing(id: id))
        case .answered(let id): callEvent(.answered(id: id))
        case let .dialogs(id, caller, callee): callEvent(.dialogs(id: id, caller: caller, callee: callee))
        case let .ended(id, by, reason): callEvent(.ended(id: id, by: by, reason: reason))
        }
    }

    /// The one writer of a call's recorded life (SIP dialog events and ng commands alike).
    public func callEvent(_ event: CallEvent) {
        let t = now()
        switch event {
        case let .started(id, from, to, callerCallID, control):
            start(call: id, from: from, to: to, callerCallID: callerCallID, control: control)
        case .ringing(let id):
            shared.setStatus(member: id, .ringing)
        case let .routed(id, calleeCallID, control):
            let rec = state.withLock { s -> CallRecord? in
                s.live[id]?.leg(.callee) { $0.callID = calleeCallID; $0.control = control }
                s.live[id]?.record.calleeCallID = calleeCallID
                return s.live[id]?.record
            }
            if let rec { storeOperations.yield(.call(rec)) }
        case .answered(let id):
            let rec = state.withLock { s -> CallRecord? in
                s.live[id]?.info.state = .answered
                s.live[id]?.call.state = .answered
                s.live[id]?.info.answered = t
                s.live[id]?.record.answered = t
                return s.live[id]?.record
            }
            if let rec { storeOperations.yield(.call(rec)) }
            shared.setStatus(member: id, .active)
        case let .dialogs(id, caller, callee):
            state.withLock { s in
                s.live[id]?.leg(.caller) { $0.dialog = caller }
                s.live[id]?.leg(.callee) { $0.dialog = callee }
            }
        case let .ended(id, by, reason):
            let rec = state.withLock { s -> CallRecord? in
                guard var l = s.live.removeValue(forKey: id) else { return nil }
                activeGauge.record(s.live.count)
                if !l.streams.isEmpty { l.info = render(l) }
                l.info.state = .ended
                l.info.ended = t
                l.info.hungUpBy = by?.rawValue
                l.info.reason = reason
                l.record.ended = t
                l.record.hungUpBy = by?.rawValue
                l.record.reason = reason
                s.ended.append(l.info)
                if s.ended.count > keepEnded { s.ended.removeFirst(s.ended.count - keepEnded) }
                return l.record
            }
            shared.setStatus(member: id, .ended)
            if let rec {
                logger.info("call ended", metadata: ["call": "\(id)", "by": "\(by?.rawValue ?? "baton")", "reason": "\(reason)"])
                storeOperations.yield(.call(rec))
                if rec.answered != nil && currentPolicy.gatewayID != nil { storeOperations.yield(.releaseAnchor(callID: id)) }
            }
        }
    }

    /// "\"Alice\" <sip:alice@example.com>;tag=1" -> "alice".
    static func user(_ header: String) -> String? {
        SIPURI(parsing: SIPURI.addressText(header))?.user?.lowercased()
    }

    /// A re-offer on an answered call that holds (a=sendonly / a=inactive, or c=0.0.0.0)
    /// or resumes: the call's shared status follows.
    func trackHold(call id: String, sdp: SessionDescription) {
        guard state.withLock({ $0.live[id]?.info.state == .answered }) else { return }
        let media = sdp.media.enumerated().filter { $0.element.kind == "audio" && $0.element.port != 0 }
        guard !media.isEmpty else { return }
        let session = sdp.attributes(media: -1).map(\.field)
        let held = media.allSatisfy { i, m in
            let a = sdp.attributes(media: i).map(\.field) + session
            return a.contains("sendonly") || a.contains("inactive") || m.address == "0.0.0.0"
        }
        state.withLock { s in
            guard var l = s.live[id] else { return }
            l.reoffers += 1
            if held && !l.held { l.holds += 1 }
            l.held = held
            s.live[id] = l
        }
        shared.setStatus(member: id, held ? .held : .active)
    }

    /// SIP facts of a live call for its dialog records: the re-offers on it since the
    /// answer and how many put it on hold; nil for an unknown call.
    public func sipFacts(call id: String) -> (reoffers: Int, holds: Int)? {
        state.withLock { s in s.live[id].map { ($0.reoffers, $0.holds) } }
    }

    // MARK: RegistrationPersisting

    /// Told of every registration saved (`true`) or removed (`false`), by AOR: agents'
    /// `sip-phone` logins follow it. Set once at start-up.
    public let registrationObserver = Hook<(aor: String, registered: Bool)>()

    public func save(_ r: Registration) {
        registrationObserver((r.aor, r.expires > now()))
        storeOperations.yield(.saveRegistration(RegistrationRecord(
            aor: r.aor, contact: r.contact, transport: r.transport.rawValue, sourceHost: r.sourceHost,
            sourcePort: r.sourcePort, expires: r.expires, callID: r.callID, cseq: Int(r.cseq),
            path: r.path.isEmpty ? "" : String(decoding: (try? JSONEncoder().encode(r.path)) ?? Data(), as: UTF8.self))))
    }

    public func delete(aor: String, contact: String) {
        registrationObserver((aor, false))
        storeOperations.yield(.deleteRegistration(aor: aor, contact: contact))
    }
}

extension Registration {
    /// Converts a stored row back (unknown transports fall back to UDP).
    public init(_ r: RegistrationRecord) {
        self.init(aor: r.aor, contact: r.contact, transport: SIPTransportKind(rawValue: r.transport) ?? .udp,
                  sourceHost: r.sourceHost, sourcePort: r.sourcePort, expires: r.expires, callID: r.callID,
                  cseq: UInt32(clamping: r.cseq),
                  path: r.path.isEmpty ? [] : (try? JSONDecoder().decode([String].self, from: Data(r.path.utf8))) ?? [])
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
