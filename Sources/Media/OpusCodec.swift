import COpus

/// Opus encoder and decoder (libopus) for one mono or stereo stream.
///
/// ```swift
/// let codec = try OpusCodec(sampleRate: 48000, channels: 1)
/// let packet = try codec.encode(pcm20ms)        // 960 samples at 48 kHz
/// let pcm = try codec.decode(packet)           // 960 samples back
/// ```
public final class OpusCodec {
    public let sampleRate: Int32
    public let channels: Int32
    private let encoder: OpaquePointer
    private let decoder: OpaquePointer

    /// libopus's tuning: `voip` favours speech intelligibility (pre-filtering), `audio` the
    /// waveform (music, tones, transcoding chains).
    public enum Application: Sendable { case voip, audio }

    public init(sampleRate: Int32 = 48000, channels: Int32 = 1, bitrate: Int32 = 32000,
                application: Application = .voip) throws(MediaError) {
        var err: Int32 = 0
        let app = application == .voip ? OPUS_APPLICATION_VOIP : OPUS_APPLICATION_AUDIO
        guard let enc = opus_encoder_create(sampleRate, channels, app, &err), err == OPUS_OK else {
            throw .library(name: "libopus", call: "opus_encoder_create", code: err)
        }
        guard let dec = opus_decoder_create(sampleRate, channels, &err), err == OPUS_OK else {
            opus_encoder_destroy(enc)
            throw .library(name: "libopus", call: "opus_decoder_create", code: err)
        }
        encoder = enc
        decoder = dec
        self.sampleRate = sampleRate
        self.channels = channels
        let r = baton_opus_set_bitrate(enc, bitrate)
        guard r == OPUS_OK else { throw .library(name: "libopus", call: "OPUS_SET_BITRATE", code: r) }
    }

    deinit {
        opus_encoder_destroy(encoder)
        opus_decoder_destroy(decoder)
    }

    /// Encodes one frame (2.5 to 60 ms of interleaved 16-bit samples).
    public func encode(_ pcm: [Int16]) throws(MediaError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 1500)
        let frame = Int32(pcm.count) / channels
        let n = pcm.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                opus_encode(encoder, p.baseAddress!, frame, o.baseAddress!, Int32(o.count))
            }
        }
        guard n > 0 else { throw .library(name: "libopus", call: "opus_encode", code: n) }
        out.removeLast(out.count - Int(n))
        return out
    }

    /// Decodes one packet into interleaved 16-bit samples.
    public func decode(_ packet: [UInt8]) throws(MediaError) -> [Int16] {
        let maxFrame = Int(sampleRate) * 120 / 1000
        var pcm = [Int16](repeating: 0, count: maxFrame * Int(channels))
        let n = packet.withUnsafeBufferPointer { p in
            pcm.withUnsafeMutableBufferPointer { o in
                opus_decode(decoder, p.baseAddress, Int32(p.count), o.baseAddress!, Int32(maxFrame), 0)
            }
        }
        guard n > 0 else { throw .library(name: "libopus", call: "opus_decode", code: n) }
        pcm.removeLast(pcm.count - Int(n) * Int(channels))
        return pcm
    }
}
