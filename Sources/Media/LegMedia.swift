import Foundation
import COpus

/// What one leg's party sends and expects: its codec and payload types (from the SDP
/// offer/answer) and, for an SRTP leg, the keys of both directions.
///
/// Signaling decides it at negotiation and hands it to the relay with
/// ``MediaRelay/configure(_:side:_:)``; the relay then picks per packet, without
/// allocating, what to do between the two sides of a stream (the forwarding entry's action):
/// pass through (same codec), rewrite the payload type (same codec, another number),
/// transcode (G.711 <-> Opus), and SRTP unprotect on the way in / protect on the way out.
///
/// ```swift
/// var phone = LegMedia(format: .init(codec: .pcmu, payloadType: 0))
/// var speaker = LegMedia(format: .init(codec: .opus, payloadType: 111, telephoneEvent: 101, telephoneEventClockRate: 48000))
/// speaker.srtp = SRTPKeys(suite: .aesCM128HmacSHA1_80, receive: keyFromItsSDP, send: SRTPSession.generateKey(.aesCM128HmacSHA1_80))
/// try relay.configure(stream, side: .a, phone)
/// try relay.configure(stream, side: .b, speaker)   // PCMU <-> Opus, SRTP toward the speaker
/// ```
public struct LegMedia: Sendable, Equatable, Codable {
    /// nil: the codec is not known (anything goes through untouched).
    public var format: MediaFormat?
    /// nil: plain RTP (RTP/AVP).
    public var srtp: SRTPKeys?

    public init(format: MediaFormat? = nil, srtp: SRTPKeys? = nil) {
        self.format = format
        self.srtp = srtp
    }
}

/// The codec a leg negotiated.
public struct MediaFormat: Sendable, Equatable, Codable {
    /// The codecs Baton can transcode between; anything else only passes through.
    public enum Codec: String, Sendable, Codable, CaseIterable {
        case pcmu = "PCMU", pcma = "PCMA", opus = "opus"

        /// RTP clock rate (RFC 3551; Opus is always 48000, RFC 7587).
        public var clockRate: Int { self == .opus ? 48000 : 8000 }
        /// The static payload type, if the codec has one.
        public var staticPayloadType: UInt8? {
            switch self {
            case .pcmu: 0
            case .pcma: 8
            case .opus: nil
            }
        }
    }

    public var codec: Codec
    public var payloadType: UInt8
    /// RFC 4733 telephone-event payload type on this leg, if negotiated.
    public var telephoneEvent: UInt8?
    /// Clock rate of the leg's telephone-event (8000 with G.711, usually 48000 with Opus).
    public var telephoneEventClockRate: Int

    public init(codec: Codec, payloadType: UInt8, telephoneEvent: UInt8? = nil, telephoneEventClockRate: Int? = nil) {
        self.codec = codec
        self.payloadType = payloadType
        self.telephoneEvent = telephoneEvent
        self.telephoneEventClockRate = telephoneEventClockRate ?? codec.clockRate
    }

    public var clockRate: Int { codec.clockRate }
}

/// SDES keys of one SRTP leg (RFC 4568): the party's key (what it sends is protected with
/// it) and Baton's own key toward it (generated per leg, never changed by a switchover).
public struct SRTPKeys: Sendable, Equatable, Codable {
    public var suite: SRTPSuite
    /// Master key + salt the party announced: Baton unprotects what it receives with it.
    public var receive: [UInt8]
    /// Master key + salt Baton announced: Baton protects what it sends with it.
    public var send: [UInt8]

    public init(suite: SRTPSuite, receive: [UInt8], send: [UInt8]) {
        self.suite = suite
        self.receive = receive
        self.send = send
    }

    // Keys as base64 (`Data`), not as JSON arrays of numbers.
    private enum CodingKeys: String, CodingKey { case suite, receive, send }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        suite = try c.decode(SRTPSuite.self, forKey: .suite)
        receive = Array(try c.decode(Data.self, forKey: .receive))
        send = Array(try c.decode(Data.self, forKey: .send))
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(suite, forKey: .suite)
        try c.encode(Data(receive), forKey: .receive)
        try c.encode(Data(send), forKey: .send)
    }
}

/// The relay-side state of one leg (shared by its RTP and RTCP sockets): SRTP sessions and,
/// when the leg talks Opus to a G.711 party, its Opus encoder and decoder. Owned by the relay
/// thread once configured.
final class LegState: @unchecked Sendable {
    let media: LegMedia
    let format: MediaFormat?
    let srtpIn: SRTPSession?
    let srtpOut: SRTPSession?
    let opus: OpusTranscoder?

    /// `previous` is the leg's state so far: its SRTP sessions (replay window, rollover
    /// counter) and Opus state carry over when the keys and codec did not change.
    init(_ media: LegMedia, transcodes: Bool, opusBitrate: Int32, opusComplexity: Int32 = 5,
         previous: LegState? = nil) throws(MediaError) {
        self.media = media
        format = media.format
        let needsOpus = transcodes && media.format?.codec == .opus
        if let previous, previous.media.srtp == media.srtp {
            srtpIn = previous.srtpIn
            srtpOut = previous.srtpOut
        } else if let k = media.srtp {
            srtpIn = try SRTPSession(suite: k.suite, key: k.receive, direction: .inbound)
            srtpOut = try SRTPSession(suite: k.suite, key: k.send, direction: .outbound)
        } else {
            srtpIn = nil
            srtpOut = nil
        }
        if needsOpus, let o = previous?.opus {
            opus = o
        } else {
            opus = needsOpus ? try OpusTranscoder(bitrate: opusBitrate, complexity: opusComplexity) : nil
        }
    }

    /// True when configuring `media` again would change nothing.
    func same(_ media: LegMedia, transcodes: Bool) -> Bool {
        self.media == media && (opus != nil) == (transcodes && media.format?.codec == .opus)
    }
}

/// libopus state of one Opus leg that Baton transcodes to G.711: the decoder turns what the
/// leg sends into 8 kHz PCM, the encoder turns 8 kHz PCM into what the leg receives.
/// libopus resamples internally (it accepts and produces 8, 12, 16, 24 and 48 kHz), so no
/// resampler of our own sits in between; the RTP clock of Opus stays 48 kHz (RFC 7587).
final class OpusTranscoder {
    static let pcmRate: Int32 = 8000
    private let encoder: OpaquePointer
    private let decoder: OpaquePointer

    init(bitrate: Int32, complexity: Int32 = 5) throws(MediaError) {
        var err: Int32 = 0
        guard let enc = opus_encoder_create(OpusTranscoder.pcmRate, 1, OPUS_APPLICATION_VOIP, &err), err == OPUS_OK else {
            throw .library(name: "libopus", call: "opus_encoder_create", code: err)
        }
        guard let dec = opus_decoder_create(OpusTranscoder.pcmRate, 1, &err), err == OPUS_OK else {
            opus_encoder_destroy(enc)
            throw .library(name: "libopus", call: "opus_decoder_create", code: err)
        }
        encoder = enc
        decoder = dec
        let r = baton_opus_set_bitrate(enc, bitrate)
        guard r == OPUS_OK else { throw .library(name: "libopus", call: "OPUS_SET_BITRATE", code: r) }
        let c = baton_opus_set_complexity(enc, complexity)
        guard c == OPUS_OK else { throw .library(name: "libopus", call: "OPUS_SET_COMPLEXITY", code: c) }
    }

    deinit {
        opus_encoder_destroy(encoder)
        opus_decoder_destroy(decoder)
    }

    /// Samples (8 kHz) decoded into `pcm`, or a negative libopus error.
    @inline(__always)
    func decode(_ payload: UnsafePointer<UInt8>, count: Int, into pcm: UnsafeMutablePointer<Int16>, capacity: Int) -> Int {
        Int(opus_decode(decoder, payload, Int32(count), pcm, Int32(capacity), 0))
    }

    /// Bytes written to `out`, or a negative libopus error (e.g. a frame length Opus has no
    /// mode for: it takes 2.5, 5, 10, 20, 40 or 60 ms).
    @inline(__always)
    func encode(_ pcm: UnsafePointer<Int16>, samples: Int, into out: UnsafeMutablePointer<UInt8>, capacity: Int) -> Int {
        Int(opus_encode(encoder, pcm, Int32(samples), out, Int32(capacity)))
    }
}

/// Maps RTP timestamps of one direction between clock rates (8 kHz G.711 <-> 48 kHz Opus):
/// each packet's timestamp advances the output by the input's advance times out/in, so
/// wrap-around at 2^32 on either side is continuous.
struct TimestampMap: Sendable {
    private var lastIn: UInt32 = 0
    private var lastOut: UInt32 = 0
    private var started = false

    @inline(__always)
    mutating func map(_ ts: UInt32, from inRate: Int, to outRate: Int) -> UInt32 {
        if inRate == outRate { return ts }
        if !started {
            started = true
            lastIn = ts
            lastOut = UInt32(truncatingIfNeeded: Int64(ts) * Int64(outRate) / Int64(inRate))
            return lastOut
        }
        let delta = Int64(Int32(bitPattern: ts &- lastIn))
        let out = lastOut &+ UInt32(truncatingIfNeeded: delta * Int64(outRate) / Int64(inRate))
        lastIn = ts
        lastOut = out
        return out
    }
}
