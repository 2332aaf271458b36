import CBatonSys

/// What a packet gets on its way from one leg to another, chosen when the legs (or a
/// switchover's peer and fork) change, not per packet: the relay thread recomputes a
/// socket's actions only after a command or a splice changed its configuration
/// (``RelaySocket/chooseActions(generation:)``).
enum ForwardAction: Equatable {
    /// Same format on both legs (or a leg whose codec is unknown): forwarded as it came.
    case passThrough
    /// The formats differ: payload types renumbered, or the frame transcoded
    /// (``PacketAdapter/adapt(_:length:from:to:inLeg:outLeg:map:pcm:decoded:)``).
    case adapt(from: MediaFormat, to: MediaFormat)

    init(from inLeg: LegState?, to outLeg: LegState?) {
        if let a = inLeg?.format, let b = outLeg?.format, a != b { self = .adapt(from: a, to: b) } else { self = .passThrough }
    }

    /// Opus in, another codec out: while the leg's packets are held (a switchover's new leg
    /// before the splice) they still go through its decoder, so the decoder is primed.
    var decodesOpus: Bool {
        if case let .adapt(a, b) = self { a.codec == .opus && b.codec != .opus } else { false }
    }
}

/// Payload type renumbering and transcoding (G.711 <-> Opus, RFC 4733 events) of one RTP
/// packet in place, on the relay thread; `pcm` is the thread's scratch buffer.
enum PacketAdapter {
    /// Samples of 8 kHz PCM the scratch buffer holds (120 ms).
    static let pcmCapacity = 960

    /// Makes an RTP packet from one leg fit the other: telephone-event and same-codec packets
    /// get the other leg's payload type (events also its clock), a G.711 or Opus frame is
    /// decoded to 8 kHz PCM and encoded in the other leg's codec, in place. Returns the new
    /// length, or -1 to drop (a payload type the leg did not negotiate, e.g. comfort noise,
    /// or a frame the codec refused).
    @inline(__always)
    static func adapt(_ p: UnsafeMutablePointer<UInt8>, length: Int, from inFmt: MediaFormat, to outFmt: MediaFormat,
                      inLeg: LegState, outLeg: LegState, map: inout TimestampMap, pcm: UnsafeMutablePointer<Int16>,
                      decoded: inout Int) -> Int {
        let pt = p[1] & 0x7F
        let marker = p[1] & 0x80
        let ts = UInt32(p[4]) << 24 | UInt32(p[5]) << 16 | UInt32(p[6]) << 8 | UInt32(p[7])
        guard let (offset, end) = RTPHeader.payload(p, length: length) else { return -1 }
        let out = map.map(ts, from: inFmt.clockRate, to: outFmt.clockRate)
        if pt == inFmt.telephoneEvent {
            // RFC 4733: event, E/R/volume, 16-bit duration in the event clock.
            guard let te = outFmt.telephoneEvent, end - offset >= 4 else { return -1 }
            p[1] = marker | te
            if inFmt.telephoneEventClockRate != outFmt.telephoneEventClockRate {
                let d = Int(p[offset + 2]) << 8 | Int(p[offset + 3])
                let scaled = min(0xFFFF, d * outFmt.telephoneEventClockRate / inFmt.telephoneEventClockRate)
                p[offset + 2] = UInt8(truncatingIfNeeded: scaled >> 8); p[offset + 3] = UInt8(truncatingIfNeeded: scaled)
            }
            RTPHeader.writeTimestamp(p, out)
            return length
        }
        guard pt == inFmt.payloadType else { return -1 }
        if inFmt.codec == outFmt.codec {
            p[1] = marker | outFmt.payloadType
            return length
        }
        // Decode to 8 kHz PCM (unless this frame already is in `pcm`: `decoded` samples).
        var samples = decoded
        let payload = p + offset
        let count = end - offset
        if samples == 0 {
        switch inFmt.codec {
        case .pcmu:
            samples = min(count, PacketAdapter.pcmCapacity)
            var k = 0
            while k < samples { pcm[k] = G711.ulaw(payload[k]); k += 1 }
        case .pcma:
            samples = min(count, PacketAdapter.pcmCapacity)
            var k = 0
            while k < samples { pcm[k] = G711.alaw(payload[k]); k += 1 }
        case .opus:
            guard let opus = inLeg.opus else { return -1 }
            samples = opus.decode(payload, count: count, into: pcm, capacity: PacketAdapter.pcmCapacity)
        }
        }
        guard samples > 0 else { return -1 }
        decoded = samples
        // Encode over the old payload.
        var written = 0
        switch outFmt.codec {
        case .pcmu:
            var k = 0
            while k < samples { payload[k] = G711.ulawEncode(pcm[k]); k += 1 }
            written = samples
        case .pcma:
            var k = 0
            while k < samples { payload[k] = G711.alawEncode(pcm[k]); k += 1 }
            written = samples
        case .opus:
            guard let opus = outLeg.opus else { return -1 }
            written = opus.encode(pcm, samples: samples, into: payload,
                                  capacity: Int(BATON_BUFSZ) - offset - SRTPSession.maxTrailer)
        }
        guard written > 0 else { return -1 }
        p[0] &= ~0x20  // no padding any more
        p[1] = marker | outFmt.payloadType
        RTPHeader.writeTimestamp(p, out)
        return offset + written
    }

    /// Runs an Opus packet of the leg's payload type through the leg's decoder and drops the
    /// PCM: keeps the decoder's state current while the leg's packets are held.
    @inline(__always)
    static func decodeOnly(_ p: UnsafeMutablePointer<UInt8>, length: Int, leg: LegState, pcm: UnsafeMutablePointer<Int16>) {
        guard let fmt = leg.format, p[1] & 0x7F == fmt.payloadType, let opus = leg.opus,
              let (offset, end) = RTPHeader.payload(p, length: length) else { return }
        _ = opus.decode(p + offset, count: end - offset, into: pcm, capacity: PacketAdapter.pcmCapacity)
    }
}
