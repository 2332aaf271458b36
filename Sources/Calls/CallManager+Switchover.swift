import Media
import SIP
import Synchronization

/// The media of a switchover in preparation: one new relay leg per anchored stream of the
/// call, on the side being replaced.
public struct PreparedSwitch: Sendable {
    public let call: String
    public let side: CallSide
    let legs: [(index: Int, leg: SwitchLeg)]
    /// How many streams take part (each reports its own splice).
    public var streamCount: Int { legs.count }
}

extension CallManager {
    static func relaySide(_ side: CallSide) -> MediaRelay.Side { side == .caller ? .a : .b }

    /// Allocates the new leg's ports and rewrites `offer` (the far side's SDP) in place to
    /// point at them, so it can be offered to the new device.
    public func prepareSwitch(call id: String, replacing side: CallSide, offer: SessionDescription) throws(CallsError) -> PreparedSwitch {
        let streams = state.withLock { $0.live[id]?.streams }
        guard let streams else { throw .unknownCall(id) }
        var legs: [(Int, SwitchLeg)] = []
        do {
            for (i, m) in offer.media.enumerated() {
                guard i < streams.count else { break }
                if m.port == 0 { continue }
                let leg = try relay.prepareSwitch(streams[i], replacing: CallManager.relaySide(side))
                legs.append((i, leg))
                try offer.anchor(media: i, address: relay.configuration.sdpAddress, port: leg.port)
            }
        } catch {
            for (_, leg) in legs { relay.abort(leg) { _ in } }
            throw .mediaUnavailable("\(error)")
        }
        guard !legs.isEmpty else { throw .mediaUnavailable("no active media stream to move") }
        return PreparedSwitch(call: id, side: side, legs: legs)
    }

    /// The new device answered: its SDP says where it receives RTP.
    public func answerSwitch(_ p: PreparedSwitch, answer: SessionDescription) throws(CallsError) {
        let media = answer.media
        for (i, leg) in p.legs {
            guard i < media.count, media[i].port != 0 else { throw .mediaUnavailable("the target rejected stream \(i)") }
            let m = media[i]
            if m.address == "0.0.0.0" || m.address == "::" { continue }
            do { try relay.setRemote(leg, ip: m.address, port: m.port, rtcpPort: m.rtcpPort) } catch {
                throw .mediaUnavailable("\(error)")
            }
        }
    }

    /// Lets the relay choose the splice point; `onSplice` is called once per stream, from a
    /// relay thread.
    public func armSwitch(_ p: PreparedSwitch, mode: SpliceDecider.Mode, windowMillis: Int, oldLegGone: Bool = false,
                          onSplice: @escaping @Sendable (Int, SpliceReport) -> Void) {
        for (i, leg) in p.legs {
            relay.arm(leg, mode: mode, windowMillis: windowMillis, oldLegGone: oldLegGone) { onSplice(i, $0) }
        }
    }

    /// After every stream spliced: the new legs take the old side's place; the old ports go back.
    public func commitSwitch(_ p: PreparedSwitch, legCallID: String, peer: String, answer: SessionDescription?) {
        for (_, leg) in p.legs { relay.commit(leg) }
        state.withLock { s in
            s.live[p.call]?.callIDs[p.side] = legCallID
            s.live[p.call]?.peers[p.side] = peer
            if let media = answer?.media { s.live[p.call]?.advertised[p.side] = media.map { "\($0.address):\($0.port)" } }
        }
    }

    /// Gives the new legs up. `completion(true)` if a stream had spliced already.
    public func abortSwitch(_ p: PreparedSwitch, completion: @escaping @Sendable (Bool) -> Void) {
        let remaining = Counter(p.legs.count, completion)
        for (_, leg) in p.legs { relay.abort(leg) { remaining.done($0) } }
    }
}

/// Joins the per-stream abort results into one.
private final class Counter: Sendable {
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
