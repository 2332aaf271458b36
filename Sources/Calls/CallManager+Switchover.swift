import Media
import SIP
import Synchronization

/// The media of a switchover in preparation: one new relay leg per anchored stream of the
/// call, on the side being replaced.
public struct PreparedSwitch: Sendable {
    public let call: String
    public let side: CallSide
    /// The new leg's number in the call (``Leg/number``): `.incoming(replacing: side)` until
    /// the commit makes it the side's party leg.
    public let leg: Int
    let legs: [(index: Int, leg: SwitchLeg)]
    /// The new leg's offer/answer per stream (nil for a pulled call: the device offered).
    let negotiation: SwitchNegotiation
    /// How many streams take part (each reports its own splice).
    public var streamCount: Int { legs.count }
}

extension CallManager {
    static func relaySide(_ side: CallSide) -> MediaRelay.Side { side == .caller ? .a : .b }

    /// Allocates the new leg's ports and rewrites `offer` (the far side's SDP) in place to
    /// point at them, so it can be offered to the new device: with `negotiate`, as an offer
    /// of its own (the far side's codecs plus those Baton transcodes to, Baton's SRTP keys
    /// for the new leg when the replaced leg used SRTP). Without it (the device sent the
    /// offer, INVITE with Replaces) only addresses change. `keysToDevice` false: the device's
    /// signaling is not encrypted and keys may not go in clear, so it is offered plain RTP.
    public func prepareSwitch(call id: String, replacing side: CallSide, offer: SessionDescription,
                              negotiate: Bool = true, keysToDevice: Bool = true) throws(CallsError) -> PreparedSwitch {
        let found = state.withLock { s in s.live[id].map { ($0.streams, $0.negotiation) } }
        guard let (streams, current) = found else { throw .unknownCall(id) }
        var legs: [(Int, SwitchLeg)] = []
        var negotiation: [Int: StreamNegotiation] = [:]
        do {
            for (i, m) in offer.media.enumerated() {
                guard i < streams.count else { break }
                if m.port == 0 { continue }
                let leg = try relay.prepareSwitch(streams[i], replacing: CallManager.relaySide(side))
                legs.append((i, leg))
                if negotiate, m.kind == "audio" {
                    var n = StreamNegotiation()
                    // The new device gets the replaced leg's profile (plain or SRTP), fresh keys.
                    let transport = current[i]?.proto[side]
                    let srtp = current[i]?.media[side].map { $0.srtp != nil }
                    try n.offer(from: side.other, sdp: offer, media: i, transport: transport, srtp: srtp, addCodecs: transcoding,
                                keys: SDESExposure(toSender: true, toRecipient: keysToDevice))
                    negotiation[i] = n
                }
                try offer.anchor(media: i, address: relay.configuration.sdpAddress, port: leg.port)
            }
        } catch {
            for (_, leg) in legs { relay.abort(leg) { _ in } }
            throw .mediaUnavailable("\(error)")
        }
        guard !legs.isEmpty else { throw .mediaUnavailable("no active media stream to move") }
        let number = state.withLock { s -> Int? in
            guard var l = s.live[id] else { return nil }
            let n = l.nextLegNumber
            l.call.legs.append(Leg(number: n, role: .incoming(replacing: side)))
            s.live[id] = l
            return n
        }
        guard let number else {
            // The call ended while the ports were being allocated.
            for (_, leg) in legs { relay.abort(leg) { _ in } }
            throw .unknownCall(id)
        }
        return PreparedSwitch(call: id, side: side, leg: number, legs: legs, negotiation: SwitchNegotiation(negotiation))
    }

    /// The new device answered: its SDP says where it receives RTP.
    /// The new device's codec and keys are set on the new leg; the far party's leg keeps its
    /// own (it gets Opus state if it is Opus and the device is not).
    /// `signaling` is the address the device's signaling came from (what may latch its media
    /// besides its SDP's address, per `media.source`).
    public func answerSwitch(_ p: PreparedSwitch, answer: SessionDescription, signaling: String? = nil) throws(CallsError) {
        let media = answer.media
        let (streams, control) = state.withLock { s in
            (s.live[p.call]?.streams ?? [], s.live[p.call]?.call.legs.first { $0.number == p.leg }?.control)
        }
        let latch = sourcePolicy(mediaSource, control: control, signaling: signaling)
        for (i, leg) in p.legs {
            guard i < media.count, media[i].port != 0 else { throw .mediaUnavailable("the target rejected stream \(i)") }
            let m = media[i]
            do {
                let decision = try p.negotiation.withLock { n throws(SIPError) -> StreamNegotiation.Decision? in
                    try n[i]?.answer(from: p.side, sdp: answer, media: i)
                }
                if let d = decision, i < streams.count {
                    let farSide = CallManager.relaySide(p.side.other)
                    let far = relay.media(streams[i], side: farSide)
                    let transcodes = far?.format != nil && d.answererMedia.format != nil
                        && far?.format?.codec != d.answererMedia.format?.codec
                    try relay.configure(leg, d.answererMedia, transcodes: transcodes)
                    if transcodes, let far { try relay.configure(streams[i], side: farSide, far, transcodes: true) }
                }
                if m.address == "0.0.0.0" || m.address == "::" { continue }
                try relay.setRemote(leg, ip: m.address, port: m.port, rtcpPort: m.rtcpPort, source: latch)
            } catch {
                throw .mediaUnavailable("\(error)")
            }
        }
    }

    /// The new leg is confirmed: the far party's audio is relayed to it from now on (priming)
    /// and the relay chooses the splice point once it is primed for `primingMillis`;
    /// `onSplice` is called once per stream, from a relay thread.
    public func armSwitch(_ p: PreparedSwitch, mode: SpliceDecider.Mode, windowMillis: Int, primingMillis: Int = 0,
                          oldLegGone: Bool = false, onSplice: @escaping @Sendable (Int, SpliceReport) -> Void) {
        for (i, leg) in p.legs {
            relay.arm(leg, mode: mode, windowMillis: windowMillis, primingMillis: primingMillis,
                      oldLegGone: oldLegGone) { onSplice(i, $0) }
        }
    }

    /// After every stream spliced: the new legs take the old side's place; the old ports go back.
    public func commitSwitch(_ p: PreparedSwitch, legCallID: String, peer: SIPPeer, answer: SessionDescription?) {
        for (_, leg) in p.legs { relay.commit(leg) }
        let negotiated = p.negotiation.withLock { $0 }
        state.withLock { s in
            // The new device's codec, keys and profile are the side's from now on.
            for (i, n) in negotiated {
                if let m = n.media[p.side] { s.live[p.call]?.negotiation[i]?.media[p.side] = m }
                if let pr = n.proto[p.side] { s.live[p.call]?.negotiation[i]?.proto[p.side] = pr }
                s.live[p.call]?.negotiation[i]?.batonKeys[p.side] = n.batonKeys[p.side]
            }
            // The new leg takes the side's place; the old leg is gone (its BYE follows).
            guard var l = s.live[p.call], let k = l.call.legs.firstIndex(where: { $0.number == p.leg }) else { return }
            var leg = l.call.legs[k]
            leg.role = .party(p.side)
            leg.callID = legCallID
            leg.control = .sip(peer)
            if let media = answer?.media { leg.advertised = media.map { "\($0.address):\($0.port)" } }
            l.call.legs.removeAll { $0.role == .party(p.side) || $0.number == p.leg }
            l.call.legs.append(leg)
            // What a restart sets again: the new device's address, and the egress rewrite the
            // splice chose (read from the relay thread when the call is next saved).
            if let media = answer?.media {
                let source = sourcePolicy(mediaSource, control: .sip(peer))
                for (i, _) in p.legs where i < media.count && media[i].address != "0.0.0.0" && media[i].address != "::" {
                    l.remotes[i, default: [:]][CallManager.relaySide(p.side)] =
                        CallResumeState.Remote(ip: media[i].address, port: media[i].port, rtcpPort: media[i].rtcpPort, source: source)
                }
            }
            l.switched = true
            s.live[p.call] = l
        }
    }

    /// Gives the new legs up. `completion(true)` if a stream had spliced already.
    public func abortSwitch(_ p: PreparedSwitch, completion: @escaping @Sendable (Bool) -> Void) {
        state.withLock { $0.live[p.call]?.call.legs.removeAll { $0.number == p.leg } }
        let remaining = JoinedResults(p.legs.count, completion)
        for (_, leg) in p.legs { relay.abort(leg) { remaining.done($0) } }
    }
}

/// The new leg's offer/answer state, shared by the copies of a ``PreparedSwitch``.
final class SwitchNegotiation: Sendable {
    private let state: Mutex<[Int: StreamNegotiation]>
    init(_ n: [Int: StreamNegotiation]) { state = Mutex(n) }
    func withLock<R, E: Error>(_ body: (inout [Int: StreamNegotiation]) throws(E) -> R) throws(E) -> R {
        try state.withLock { v throws(E) -> R in try body(&v) }
    }
}

/// Joins per-stream results (abort: "had it spliced?"; release: done) into one.
final class JoinedResults: Sendable {
    private let state: Mutex<(left: Int, any: Bool)>
    private let completion: @Sendable (Bool) -> Void
    init(_ n: Int, _ c: @escaping @Sendable (Bool) -> Void) { state = Mutex((n, false)); completion = c }
    func done(_ spliced: Bool) {
        let finished: Bool? = state.withLock { s in
            s.any = s.any || spliced
            s.left -= 1
            return s.left == 0 ? s.any : nil
        }
        if let f = finished { completion(f) }
    }
}
