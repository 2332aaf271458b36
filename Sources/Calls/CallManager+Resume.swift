import Crypto
import Foundation
import Media
import SIP
import Store
import Synchronization

/// What a restarted gateway needs to take an answered SIP call back: everything but the
/// dialogs (those are kept in clear in the anchor row, for a surviving gateway's BYEs).
/// Sealed (``StateSealer``) before it is stored: it holds both parties' SDES keys, Baton's
/// own keys and the SDPs they came in.
public struct CallResumeState: Codable, Sendable, Equatable {
    /// Where a side's party said it receives media, and which sources may latch it.
    public struct Remote: Codable, Sendable, Equatable {
        public var ip: String
        public var port: Int
        public var rtcpPort: Int?
        public var source: MediaRelay.SourcePolicy
    }
    public struct Stream: Codable, Sendable, Equatable {
        /// Ports, latched sources and egress rewrites, as the relay had them.
        public var relay: StreamSnapshot
        /// Keyed "a" / "b" (``MediaRelay/Side``).
        public var remotes: [String: Remote]
        /// Offer/answer outcome: each side's codec and SRTP keys, Baton's keys toward each
        /// side, each side's RTP profile (a re-offer after the restart keeps them).
        public var media: [String: LegMedia]
        public var batonKeys: [String: [String: Data]]
        public var proto: [String: String]
    }
    public var version = 1
    public var from: String
    public var to: String
    public var session: B2BUA.SessionState
    public var streams: [Stream]
}

/// Seals what is kept at rest for a restart (``CallResumeState``) with AES-256-GCM under
/// this gateway's own key (`store.state_key_file`): the SRTP keys in the store are worth
/// nothing to whoever reads the database or its backups without that file.
public struct StateSealer: Sendable {
    private let key: SymmetricKey

    public init(key: [UInt8]) throws(CallsError) {
        guard key.count == 32 else { throw .badStateKey("a state key is 32 bytes, this one has \(key.count)") }
        self.key = SymmetricKey(data: key)
    }

    /// A fresh random key (what `baton serve` writes to `store.state_key_file`, mode 0600).
    public static func generateKey() -> [UInt8] { SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) } }

    /// Nonce, ciphertext and tag, base64.
    public func seal(_ plain: Data) throws -> String {
        guard let combined = try AES.GCM.seal(plain, using: key).combined else { throw CallsError.badStateKey("AES-GCM gave no combined box") }
        return combined.base64EncodedString()
    }

    /// Throws when the text was not sealed with this key, or was changed.
    public func open(_ sealed: String) throws -> Data {
        guard let data = Data(base64Encoded: sealed) else { throw CallsError.badStateKey("sealed state is not base64") }
        return try AES.GCM.open(AES.GCM.SealedBox(combined: data), using: key)
    }
}

/// Answered SIP calls survive a restart of the gateway (kill -9 included): the dialogs are
/// saved when the call is answered, the sealed state by the next ``checkpoint()`` after any
/// change (answer, re-offer, switchover, a latch away from the SDP's address), and the call
/// is taken back by ``resume(call:record:caller:callee:state:)`` when `baton serve` starts
/// again (docs/restart.md).
extension CallManager {
    /// What the controller last saved of a call: the dialogs' JSON and the B2BUA's session.
    struct SavedAnchor: Sendable {
        var caller: String
        var callee: String
        var session: B2BUA.SessionState
        /// The latched sources when it was saved (a change is saved again by the checkpoint).
        var latches: [String?] = []
        /// Save once more at the next checkpoint: a splice rebases the far party's egress on
        /// the new leg's first packet, which can follow the dialogs' report.
        var recheck = false
        /// Changed since the last save (answered, re-offered, switched): saved at the next
        /// checkpoint, so a burst of changes costs one sealed write and a call shorter than
        /// `store.checkpoint_ms` none.
        var dirty = false
    }

    /// Both legs' dialogs of an answered call: kept in the store under this gateway's id, so a
    /// surviving gateway (or this one after a restart) can send their BYEs at once, and with
    /// what this gateway needs to resume the call (sealed) from the next ``checkpoint()`` on.
    public func dialogsConfirmed(call id: String, caller: DialogSnapshot, callee: DialogSnapshot, session: B2BUA.SessionState) {
        let policy = currentPolicy
        guard policy.gatewayID != nil else { return }
        let enc = JSONEncoder()
        guard let a = try? enc.encode(caller), let b = try? enc.encode(callee) else { return }
        let first = state.withLock { s -> Bool? in
            guard let l = s.live[id] else { return nil }
            s.live[id]!.saved = SavedAnchor(caller: String(decoding: a, as: UTF8.self), callee: String(decoding: b, as: UTF8.self),
                                            session: session, latches: l.saved?.latches ?? [], recheck: l.saved?.recheck ?? false,
                                            dirty: policy.stateSealer != nil)
            return l.saved == nil
        }
        // The dialogs go to the store at once (a lost gateway's calls get their BYEs); the
        // sealed state follows with the next checkpoint.
        if first == true || (first != nil && policy.stateSealer == nil) { persist(id, sealed: false) }
    }

    /// Writes the call's anchor row: its dialogs, and (with a ``CallPolicy/stateSealer``) its
    /// sealed ``CallResumeState``: ports and latched sources as the streams show them, and
    /// after a switchover the egress rewrites, read on the relay threads (a command: only
    /// they touch that state). `recheck` saves once more at the next ``checkpoint()``.
    func persist(_ id: String, recheck: Bool = false, sealed: Bool = true) {
        let policy = currentPolicy
        guard let gateway = policy.gatewayID else { return }
        struct Base { var saved: SavedAnchor; var streams: [AnchoredStream]; var state: CallResumeState?; var switched: Bool }
        let base = state.withLock { s -> Base? in
            guard var l = s.live[id], var saved = l.saved else { return nil }
            guard sealed, policy.stateSealer != nil else { return Base(saved: saved, streams: [], state: nil, switched: false) }
            saved.latches = CallManager.latchesWorthSaving(l)
            saved.recheck = recheck
            saved.dirty = false
            l.saved = saved
            s.live[id] = l
            let streams = l.streams.indices.map { i -> CallResumeState.Stream in
                let n = l.negotiation[i]
                let st = l.streams[i]
                func side(_ x: MediaRelay.Side) -> StreamSnapshot.Side {
                    .init(rtpPort: st.port(x), latchedRTP: st.latchedAddress(x), latchedRTCP: st.latchedRTCPAddress(x))
                }
                return CallResumeState.Stream(
                    relay: StreamSnapshot(a: side(.a), b: side(.b)),
                    remotes: Dictionary(uniqueKeysWithValues: (l.remotes[i] ?? [:]).map { ($0.key.rawValue, $0.value) }),
                    media: Dictionary(uniqueKeysWithValues: (n?.media ?? [:]).map { (CallManager.relaySide($0.key).rawValue, $0.value) }),
                    batonKeys: Dictionary(uniqueKeysWithValues: (n?.batonKeys ?? [:]).map { side, keys in
                        (CallManager.relaySide(side).rawValue, Dictionary(uniqueKeysWithValues: keys.map { ($0.key.rawValue, Data($0.value)) }))
                    }),
                    proto: Dictionary(uniqueKeysWithValues: (n?.proto ?? [:]).map { (CallManager.relaySide($0.key).rawValue, $0.value) }))
            }
            return Base(saved: saved, streams: l.streams,
                        state: CallResumeState(from: l.call.from, to: l.call.to, session: saved.session, streams: streams),
                        switched: l.switched)
        }
        guard let base else { return }
        let write: @Sendable (String) -> Void = { [weak self] sealed in
            guard let self else { return }
            let record = CallAnchorRecord(callID: id, gateway: gateway, caller: base.saved.caller, callee: base.saved.callee,
                                          updated: self.currentTime, state: sealed)
            // Under the lock, and only while the call is live: a save that completes after
            // the call ended must not bring its anchor back after the release.
            self.state.withLock { s in
                if s.live[id] != nil { self.storeOperations.yield(.anchor(record)) }
            }
        }
        guard let full = base.state, let sealer = policy.stateSealer else { write(""); return }
        // Before any switchover nothing is rewritten: no need to ask the relay threads.
        guard base.switched, !base.streams.isEmpty else { write(seal(full, sealer, call: id)); return }
        let snapshots = Mutex<[Int: StreamSnapshot]>([:])
        let count = base.streams.count
        for (i, stream) in base.streams.enumerated() {
            relay.snapshot(stream) { [weak self] snap in
                let all = snapshots.withLock { s -> [Int: StreamSnapshot]? in
                    s[i] = snap
                    return s.count == count ? s : nil
                }
                guard let all, let self else { return }
                var complete = full
                for (k, v) in all { complete.streams[k].relay = v }
                write(self.seal(complete, sealer, call: id))
            }
        }
    }

    private func seal(_ state: CallResumeState, _ sealer: StateSealer, call id: String) -> String {
        do { return try sealer.seal(try JSONEncoder().encode(state)) } catch {
            logger.error("could not seal a call's resume state: it will not survive a restart", metadata: ["call": "\(id)", "error": "\(error)"])
            return ""
        }
    }

    /// Saves again the answered calls whose latched sources changed since they were last
    /// saved (a party behind NAT sending from elsewhere than its SDP said, a NAT rebinding)
    /// or that asked for a recheck (after a switchover). Cheap: one lock per socket read;
    /// `baton serve` runs it every `store.checkpoint_ms`.
    public func checkpoint() {
        // A save of a change after a switchover is checked once more (the splice's egress
        // rewrite comes with the new leg's first packet).
        let due = state.withLock { s in
            s.live.compactMap { id, l -> (id: String, recheck: Bool)? in
                guard let saved = l.saved else { return nil }
                if saved.dirty || saved.recheck { return (id, saved.dirty && l.switched) }
                return CallManager.latchesWorthSaving(l) == saved.latches ? nil : (id, false)
            }
        }
        for (id, recheck) in due { persist(id, recheck: recheck) }
    }

    /// The RTP sources latched per stream and side, except those that are where the SDP said
    /// (the common case: restoring the remote is the same as restoring that latch, so a call's
    /// first packets cost no second save).
    static func latchesWorthSaving(_ l: Live) -> [String?] {
        l.streams.indices.flatMap { i in
            [MediaRelay.Side.a, .b].map { side -> String? in
                guard let latched = l.streams[i].latchedAddress(side) else { return nil }
                guard let r = l.remotes[i]?[side] else { return latched }
                let advertised = r.ip.contains(":") ? "[\(r.ip)]:\(r.port)" : "\(r.ip):\(r.port)"
                return latched == advertised ? nil : latched
            }
        }
    }

    /// Takes back an answered SIP call from before a restart: binds its ports again, sets
    /// where each party receives and what may latch, configures each leg's codec and SRTP
    /// keys, restores latched sources and egress rewrites, and files the call as answered
    /// (the B2BUA's dialogs are resumed by the caller, ``B2BUA/resume(call:caller:callee:session:cseqMargin:)``).
    /// Throws, leaving nothing behind, when a port cannot be bound again or the state is bad.
    public func resume(call id: String, record: CallRecord?, caller: DialogSnapshot, callee: DialogSnapshot,
                       state saved: CallResumeState) throws {
        guard !hasCall(id) else { throw CallsError.resume(id, "a call of that id is live") }
        var streams: [AnchoredStream] = []
        do {
            for s in saved.streams { streams.append(try relay.allocate(resuming: (s.relay.a.rtpPort, s.relay.b.rtpPort))) }
            var negotiation: [Int: StreamNegotiation] = [:]
            var remotes: [Int: [MediaRelay.Side: CallResumeState.Remote]] = [:]
            for (i, s) in saved.streams.enumerated() {
                let stream = streams[i]
                for side in [MediaRelay.Side.a, .b] {
                    if let r = s.remotes[side.rawValue] {
                        try relay.setRemote(stream, side: side, ip: r.ip, port: r.port, rtcpPort: r.rtcpPort, source: r.source)
                        remotes[i, default: [:]][side] = r
                    }
                }
                let a = s.media["a"], b = s.media["b"]
                let transcodes = a?.format != nil && b?.format != nil && a?.format?.codec != b?.format?.codec
                for side in [MediaRelay.Side.a, .b] {
                    if let m = s.media[side.rawValue] { try relay.configure(stream, side: side, m, transcodes: transcodes) }
                    let snap = s.relay.side(side)
                    if let rtp = snap.latchedRTP { try relay.latch(stream, side: side, rtp: rtp, rtcp: snap.latchedRTCP) }
                    if let c = snap.egress { relay.continueEgress(stream, side: side, c) }
                }
                var n = StreamNegotiation()
                for (k, v) in s.media { n.media[CallManager.callSide(k)] = v }
                for (k, v) in s.proto { n.proto[CallManager.callSide(k)] = v }
                for (k, keys) in s.batonKeys {
                    n.batonKeys[CallManager.callSide(k)] = Dictionary(uniqueKeysWithValues: keys.compactMap { suite, key in
                        SRTPSuite(rawValue: suite).map { ($0, Array(key)) }
                    })
                }
                negotiation[i] = n
            }
            let enc = JSONEncoder()
            let t = currentTime
            var l = Live(id: id, from: saved.from, to: saved.to, started: record?.started ?? t, callerCallID: caller.callID)
            if let record { l.record = record }
            l.record.ended = nil
            l.call.state = .answered
            l.info.state = .answered
            l.info.answered = record?.answered ?? t
            for (side, d) in [(CallSide.caller, caller), (.callee, callee)] {
                l.leg(side) { leg in
                    leg.callID = d.callID
                    leg.control = .sip(SIPPeer(transport: d.transport, host: d.host, port: d.port))
                    leg.dialog = DialogID(callID: d.callID, localTag: d.localTag, remoteTag: d.remoteTag)
                    leg.advertised = saved.streams.map { s in
                        s.remotes[CallManager.relaySide(side).rawValue].map { "\($0.ip):\($0.port)" } ?? ""
                    }
                }
            }
            l.streams = streams
            l.negotiation = negotiation
            l.remotes = remotes
            l.saved = SavedAnchor(caller: String(decoding: try enc.encode(caller), as: UTF8.self),
                                  callee: String(decoding: try enc.encode(callee), as: UTF8.self), session: saved.session)
            let latches = CallManager.latchesWorthSaving(l)
            l.saved?.latches = latches
            l.switched = saved.streams.contains { $0.relay.a.egress != nil || $0.relay.b.egress != nil }
            let filed = state.withLock { s -> Bool in
                guard s.live[id] == nil else { return false }
                s.live[id] = l
                return true
            }
            guard filed else { throw CallsError.resume(id, "a call of that id is live") }
            activeGauge.record(activeCount)
        } catch {
            streams.forEach { relay.release($0) }
            if let e = error as? CallsError { throw e }
            throw CallsError.resume(id, "\(error)")
        }
    }

    /// A resumed call the B2BUA could not take (its dialogs clash with a live one): its media
    /// goes, nothing is recorded.
    public func dropResumed(call id: String) {
        let streams = state.withLock { s in s.live.removeValue(forKey: id)?.streams ?? [] }
        streams.forEach { relay.release($0) }
    }

    static func callSide(_ relaySide: String) -> CallSide { relaySide == "a" ? .caller : .callee }
}
