import Media
import SIP

/// SDP offer/answer per leg (RFC 3264) for one anchored stream: which codec and which SRTP
/// keys each side uses, decided from what each side offers, so the relay can pass through,
/// renumber, transcode and SRTP-protect per leg.
///
/// The offer toward the answerer carries the offerer's formats and, when the offerer has
/// G.711 but no Opus (or Opus but no G.711), the codec Baton can transcode to; it carries
/// Baton's own `a=crypto` keys (one per suite, generated once per leg) when the answerer's
/// profile is SRTP. The answer toward the offerer names the offerer's codec (the answerer's
/// when both have it, else the offerer's first transcodable one) and Baton's key for the
/// suite the offerer listed first among those Baton runs.
struct StreamNegotiation: Sendable {
    struct PendingOffer: Sendable {
        var from: CallSide
        var formats: [PayloadFormat]
        var crypto: [SDESCrypto]
        var proto: String
        /// The offerer does SRTP: an RTP/SAVP(F) profile, or a=crypto lines Baton accepts on
        /// RTP/AVP ("best effort" SRTP, what baresip's `mediaenc=srtp` offers).
        var srtp: Bool
        /// Baton's a=crypto lines in the offer to the answerer.
        var offeredCrypto: [SDESCrypto]
    }

    var pending: PendingOffer?
    /// Baton's master keys toward each side, per suite: generated once, so a re-offer
    /// (hold, resume) does not rekey.
    var batonKeys: [CallSide: [SRTPSuite: [UInt8]]] = [:]
    /// What each side negotiated last.
    var media: [CallSide: LegMedia] = [:]
    /// Each side's RTP profile (m= proto) as last negotiated.
    var proto: [CallSide: String] = [:]

    static func codec(_ f: PayloadFormat) -> MediaFormat.Codec? {
        switch f.encoding.lowercased() {
        case "pcmu" where f.clockRate == 8000: .pcmu
        case "pcma" where f.clockRate == 8000: .pcma
        case "opus" where f.clockRate == 48000: .opus
        default: nil
        }
    }

    /// RTP/SAVP, RTP/SAVPF, UDP/TLS/RTP/SAVPF (any case). Per component, without Foundation's
    /// `range(of:)` (1 % of an ng offer's CPU).
    static func isSRTP(_ proto: String) -> Bool {
        proto.split(separator: "/").contains { $0.uppercased().hasPrefix("SAVP") }
    }

    /// The suite and key Baton accepts from an SRTP party's a=crypto lines: the first one
    /// it runs, in the party's order.
    static func acceptable(_ lines: [SDESCrypto]) -> (SDESCrypto, SRTPSuite)? {
        for c in lines {
            if let s = SRTPSuite(rawValue: c.suite), SRTPSuite.available.contains(s), c.key.count == s.keyLength,
               c.sessionParameters.isEmpty { return (c, s) }
        }
        return nil
    }

    mutating func key(toward side: CallSide, _ suite: SRTPSuite) -> [UInt8] {
        if let k = batonKeys[side]?[suite] { return k }
        let k = SRTPSession.generateKey(suite)
        batonKeys[side, default: [:]][suite] = k
        return k
    }

    /// Rewrites media `i` of an offer from `side` for the other side, in place.
    /// `transport` sets the answerer's profile; `srtp` whether it gets keys (default: what
    /// `transport` says, else what the offerer does).
    /// `keys` says where SDES keys may cross the signaling: an SRTP profile offered over a leg
    /// that may not get keys back is refused (488); best-effort SRTP (a=crypto on RTP/AVP) is
    /// answered in plain RTP; the answerer of a leg that may not get keys gets the plain profile.
    mutating func offer(from side: CallSide, sdp: SessionDescription, media i: Int, transport: String?, srtp: Bool? = nil,
                        addCodecs: Bool, keys: SDESExposure = .allowed) throws(SIPError) {
        let m = sdp.media[i]
        let formats = sdp.formats(media: i)
        let crypto = sdp.crypto(media: i)
        var accepted = StreamNegotiation.acceptable(crypto) != nil
        if StreamNegotiation.isSRTP(m.proto) && !accepted {
            throw .badSDP("no SDES a=crypto line with a suite Baton supports (\(SRTPSuite.available.map(\.rawValue).joined(separator: ", ")))")
        }
        if accepted && !keys.toSender {
            guard !StreamNegotiation.isSRTP(m.proto) else {
                throw .notAcceptable("SDES keys only over TLS: this \(m.proto) offer came over an unencrypted transport (sip.sdes_in_clear)")
            }
            accepted = false   // best effort: answered without keys, plain RTP
        }
        var outProto = transport ?? m.proto
        // The answerer gets SRTP when its profile says so, or (same profile) when the offerer
        // does SRTP, best effort included; never keys over a leg that may not get them.
        var outSRTP = srtp ?? transport.map(StreamNegotiation.isSRTP) ?? accepted
        if outSRTP && !keys.toRecipient {
            outSRTP = false
            outProto = StreamNegotiation.plain(outProto)
        }
        var out = formats
        if addCodecs { out += StreamNegotiation.transcodable(formats) }
        var lines: [SDESCrypto] = []
        if outSRTP {
            for (k, s) in SRTPSuite.offerOrder.enumerated() {
                lines.append(SDESCrypto(tag: k + 1, suite: s.rawValue, key: key(toward: side.other, s)))
            }
        }
        if outProto != m.proto { sdp.setTransportProtocol(media: i, outProto) }
        if out != formats { sdp.setFormats(media: i, out) }
        sdp.setCrypto(media: i, lines)
        pending = PendingOffer(from: side, formats: formats, crypto: crypto, proto: m.proto, srtp: accepted, offeredCrypto: lines)
    }

    /// The plain profile of an SRTP one (RTP/SAVP -> RTP/AVP, RTP/SAVPF -> RTP/AVPF).
    static func plain(_ proto: String) -> String {
        proto.split(separator: "/").map { $0.uppercased().hasPrefix("SAVP") ? "AVP" + $0.dropFirst(4) : String($0) }.joined(separator: "/")
    }

    /// Codecs Baton can add to an offer because it can transcode them from the offer's.
    static func transcodable(_ formats: [PayloadFormat]) -> [PayloadFormat] {
        let have = Set(formats.compactMap(codec))
        var used = Set(formats.map(\.payloadType))
        func free(_ preferred: Int) -> Int? {
            if !used.contains(preferred) { used.insert(preferred); return preferred }
            guard let pt = (96...127).first(where: { !used.contains($0) }) else { return nil }
            used.insert(pt)
            return pt
        }
        let events = formats.filter(\.isTelephoneEvent)
        var extra: [PayloadFormat] = []
        if have.contains(.pcmu) || have.contains(.pcma), !have.contains(.opus) {
            if let pt = free(111) { extra.append(PayloadFormat(payloadType: pt, encoding: "opus", clockRate: 48000, channels: 2, fmtp: "useinbandfec=1")) }
            if let ev = events.first(where: { $0.clockRate == 8000 }), !events.contains(where: { $0.clockRate == 48000 }),
               let pt = free(110) {
                extra.append(PayloadFormat(payloadType: pt, encoding: "telephone-event", clockRate: 48000, fmtp: ev.fmtp ?? "0-16"))
            }
        } else if have.contains(.opus), !have.contains(.pcmu), !have.contains(.pcma) {
            for (pt, name) in [(0, "PCMU"), (8, "PCMA")] where !used.contains(pt) {
                used.insert(pt)
                extra.append(PayloadFormat(payloadType: pt, encoding: name, clockRate: 8000))
            }
            if let ev = events.first(where: { $0.clockRate == 48000 }), !events.contains(where: { $0.clockRate == 8000 }),
               let pt = free(101) {
                extra.append(PayloadFormat(payloadType: pt, encoding: "telephone-event", clockRate: 8000, fmtp: ev.fmtp ?? "0-16"))
            }
        }
        return extra
    }

    /// What the relay must be told after an answer: both legs' media, and whether they transcode.
    struct Decision: Sendable, Equatable {
        var offerer: CallSide
        var offererMedia: LegMedia
        var answererMedia: LegMedia
        var transcodes: Bool
    }

    /// Rewrites media `i` of an answer from `side` to the pending offer, in place, for the
    /// offerer. nil when there was no offer pending from the other side (nothing to decide).
    mutating func answer(from side: CallSide, sdp: SessionDescription, media i: Int) throws(SIPError) -> Decision? {
        guard let offer = pending, offer.from == side.other else { return nil }
        pending = nil
        let m = sdp.media[i]
        guard m.port != 0 else { return nil }
        let formats = sdp.formats(media: i)
        let yCodec = formats.first(where: \.isAudioCodec)
        let yEvent = formats.first(where: \.isTelephoneEvent)
        // The offerer's codec: the answerer's, when the offerer has it; else the offerer's
        // first codec Baton transcodes from the answerer's.
        var xCodec: PayloadFormat?
        var toOfferer: [PayloadFormat]
        if let y = yCodec, let same = offer.formats.first(where: { $0.payloadType == y.payloadType && $0.encoding.lowercased() == y.encoding.lowercased() }) {
            xCodec = same
            toOfferer = formats.filter { f in offer.formats.contains { $0.payloadType == f.payloadType } }
        } else if let y = yCodec, StreamNegotiation.codec(y) != nil,
                  let x = offer.formats.first(where: { StreamNegotiation.codec($0) != nil }) {
            xCodec = x
            toOfferer = [x]
            if yEvent != nil, let ev = offer.formats.first(where: { $0.isTelephoneEvent && $0.clockRate == x.clockRate })
                ?? offer.formats.first(where: \.isTelephoneEvent) {
                toOfferer.append(ev)
            }
        } else {
            throw .badSDP("the answer's codec \(yCodec?.encoding ?? "(none)") is neither offered nor one Baton transcodes")
        }
        let xEvent = toOfferer.first(where: \.isTelephoneEvent)

        // SRTP toward the answerer: its line must answer one of Baton's (same tag and suite).
        var yKeys: SRTPKeys?
        if let c = sdp.crypto(media: i).first {
            guard let ours = offer.offeredCrypto.first(where: { $0.tag == c.tag && $0.suite == c.suite }),
                  let suite = SRTPSuite(rawValue: c.suite), c.key.count == suite.keyLength else {
                throw .badSDP("the answer's a=crypto does not answer one Baton offered")
            }
            yKeys = SRTPKeys(suite: suite, receive: c.key, send: ours.key)
        } else if StreamNegotiation.isSRTP(m.proto) {
            throw .badSDP("an \(m.proto) answer without an a=crypto line")
        }
        var xKeys: SRTPKeys?
        var xCrypto: [SDESCrypto] = []
        if offer.srtp, let (c, suite) = StreamNegotiation.acceptable(offer.crypto) {
            let send = key(toward: side.other, suite)
            xKeys = SRTPKeys(suite: suite, receive: c.key, send: send)
            xCrypto = [SDESCrypto(tag: c.tag, suite: c.suite, key: send)]
        }
        if m.proto != offer.proto { sdp.setTransportProtocol(media: i, offer.proto) }
        if toOfferer != formats { sdp.setFormats(media: i, toOfferer) }
        sdp.setCrypto(media: i, xCrypto)

        let xMedia = LegMedia(format: StreamNegotiation.format(xCodec, event: xEvent), srtp: xKeys)
        let yMedia = LegMedia(format: StreamNegotiation.format(yCodec, event: yEvent), srtp: yKeys)
        media[side.other] = xMedia
        media[side] = yMedia
        proto[side.other] = offer.proto
        proto[side] = m.proto
        let transcodes = xMedia.format != nil && yMedia.format != nil && xMedia.format?.codec != yMedia.format?.codec
        return Decision(offerer: side.other, offererMedia: xMedia, answererMedia: yMedia, transcodes: transcodes)
    }

    static func format(_ f: PayloadFormat?, event: PayloadFormat?) -> MediaFormat? {
        guard let f, let c = codec(f) else { return nil }
        return MediaFormat(codec: c, payloadType: UInt8(truncatingIfNeeded: f.payloadType),
                           telephoneEvent: event.map { UInt8(truncatingIfNeeded: $0.payloadType) },
                           telephoneEventClockRate: event?.clockRate)
    }
}
