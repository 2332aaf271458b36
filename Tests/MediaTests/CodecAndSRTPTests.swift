import _CryptoExtras
import Crypto
import Foundation
import Testing
import TestSupport
@testable import Media

func hex(_ s: String) -> [UInt8] {
    let c = Array(s.filter { !$0.isWhitespace })
    return stride(from: 0, to: c.count, by: 2).map { UInt8(String(c[$0...$0 + 1]), radix: 16)! }
}

/// AES in counter mode as RFC 3711 §4.1.1 defines it, computed with swift-crypto: the
/// independent reference the libsrtp2 wrapper is checked against.
func aesCM(key: [UInt8], iv: [UInt8], count: Int) throws -> [UInt8] {
    Array(try AES._CTR.encrypt([UInt8](repeating: 0, count: count), using: SymmetricKey(data: key),
                                nonce: AES._CTR.Nonce(nonceBytes: iv)))
}

@Suite struct SRTPVectorTests {
    /// RFC 3711 appendix B.2: the AES-CM keystream for session key 2B7E..., salt F0F1...
    @Test func aesCounterModeKeystreamOfAppendixB2() throws {
        let ks = try aesCM(key: hex("2B7E151628AED2A6ABF7158809CF4F3C"), iv: hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"), count: 48)
        #expect(ks == hex("E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB 41E95B3BB0A2E8DD477901E4FCA894C0"))
    }

    /// RFC 3711 appendix B.3 through libsrtp2: with the appendix's master key and salt,
    /// libsrtp2 must encrypt with the derived cipher key C61E... and salt 30CB... (checked
    /// against the B.2 construction above for SSRC 0, SEQ 0, ROC 0).
    @Test func keyDerivationOfAppendixB3() throws {
        let master = hex("E1F97A0D3E018BE0D64FA32C06DE4139") + hex("0EC675AD498AFEEBB6960B3AABE6")
        let tx = try SRTPSession(nullAuthKey: master, direction: .outbound)
        var packet: [UInt8] = [0x80, 0x00, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 32)
        try tx.protect(&packet)
        let expected = try aesCM(key: hex("C61E7A93744F39EE10734AFE3FF7A087"), iv: hex("30CBBC08863D8C85D49DB34A9AE1") + [0, 0], count: 32)
        #expect(packet.count == 44)
        #expect(Array(packet[12...]) == expected)
    }

    @Test(arguments: SRTPSuite.available)
    func roundTripTamperAndReplay(suite: SRTPSuite) throws {
        let key = SRTPSession.generateKey(suite)
        #expect(key.count == suite.keyLength && key != SRTPSession.generateKey(suite))
        let tx = try SRTPSession(suite: suite, key: key, direction: .outbound)
        let rx = try SRTPSession(suite: suite, key: key, direction: .inbound)
        let plain: [UInt8] = [0x80, 0x00, 0x12, 0x34, 0, 0, 0x01, 0x40, 0xCA, 0xFE, 0xBA, 0xBE] + (0..<160).map { UInt8($0 & 0xFF) }
        var p = plain
        try tx.protect(&p)
        #expect(p.count == plain.count + suite.rtpTagLength)
        #expect(Array(p[12..<172]) != Array(plain[12...]))
        var replay = p
        try rx.unprotect(&p)
        #expect(p == plain)
        #expect(throws: MediaError.self) { try rx.unprotect(&replay) }     // the same packet again
        var bad = plain
        bad[3] = 0x35                                                       // the next sequence number
        try tx.protect(&bad)
        bad[20] ^= 1
        #expect(throws: MediaError.self) { try rx.unprotect(&bad) }
        // SRTCP: a receiver report.
        let rr: [UInt8] = [0x80, 201, 0x00, 0x01, 0xCA, 0xFE, 0xBA, 0xBE]
        var c = rr
        try tx.protectRTCP(&c)
        #expect(c.count > rr.count + 4)
        try rx.unprotectRTCP(&c)
        #expect(c == rr)
    }

    @Test func cmSuitesAreAlwaysThere() {
        #expect(SRTPSuite.available.contains(.aesCM128HmacSHA1_80) && SRTPSuite.available.contains(.aesCM128HmacSHA1_32))
    }
}

@Suite struct G711Tests {
    /// ITU-T G.711 tables (G.191 reference): decision/reconstruction points.
    @Test func ituReferenceValues() {
        #expect(G711.ulaw(0x00) == -32124 && G711.ulaw(0x80) == 32124 && G711.ulaw(0xFF) == 0 && G711.ulaw(0x7F) == 0)
        #expect(G711.ulaw(0xFE) == 8 && G711.ulaw(0xEF) == 132)            // first steps of segments 0 and 1
        #expect(G711.alaw(0x55) == -8 && G711.alaw(0xD5) == 8 && G711.alaw(0x2A) == -32256 && G711.alaw(0xAA) == 32256)
        #expect(G711.ulawEncode(0) == 0xFF && G711.ulawEncode(32767) == 0x80 && G711.ulawEncode(-32768) == 0x00)
        #expect(G711.alawEncode(0) == 0xD5 && G711.alawEncode(-1) == 0x55 && G711.alawEncode(32767) == 0xAA)
    }

    /// Every code decodes to a value that encodes back to the same code (µ-law's -0, 0x7F,
    /// encodes as +0, 0xFF).
    @Test func everyCodeRoundTrips() {
        for c in 0...255 {
            let code = UInt8(c)
            #expect(G711.ulawEncode(G711.ulaw(code)) == (code == 0x7F ? 0xFF : code), "µ-law \(c)")
            #expect(G711.alawEncode(G711.alaw(code)) == code, "A-law \(c)")
        }
    }

    /// Quantization error stays within half a step: the SNR of a -10 dBFS 1 kHz tone through
    /// PCMU is about 38 dB (G.711's design figure).
    @Test func toneThroughPCMU() {
        let tone = (0..<8000).map { Int16(10362 * sin(2 * Double.pi * 1000 * Double($0) / 8000)) }
        let back = tone.map { G711.ulaw(G711.ulawEncode($0)) }
        #expect(snr(tone, back) > 35)
    }
}

func snr(_ ref: [Int16], _ out: [Int16]) -> Double {
    var s = 0.0, n = 0.0
    for (a, b) in zip(ref, out) { s += Double(a) * Double(a); n += (Double(a) - Double(b)) * (Double(a) - Double(b)) }
    return 10 * log10(s / max(n, 1))
}

@Suite struct OpusToneTests {
    /// A 1 kHz tone through Opus (48 kHz, 20 ms frames, 64 kbit/s) comes back with a tone
    /// SNR above 20 dB (after 100 ms of warm-up).
    @Test func oneKilohertzRoundTrip() throws {
        // At 32–48 kbit/s libopus codes this tone with SILK/hybrid, which keeps the sound but
        // not the waveform (tone SNR ~16 dB, measured); at 64 kbit/s it uses CELT (~44 dB).
        let codec = try OpusCodec(sampleRate: 48000, channels: 1, bitrate: 64000)
        let tone = (0..<48000).map { Int16(10000 * sin(2 * Double.pi * 1000 * Double($0) / 48000)) }
        var out: [Int16] = []
        for f in stride(from: 0, to: tone.count, by: 960) {
            out += try codec.decode(try codec.encode(Array(tone[f..<f + 960])))
        }
        #expect(out.count == tone.count)
        let measured = toneSNR(Array(out[4800...]), frequency: 1000, sampleRate: 48000)
        #expect(measured > 20, "tone SNR \(measured) dB")
        // The meter itself: a clean tone scores high, a tone in white noise at -10 dB scores ~10 dB.
        #expect(toneSNR(Array(tone[4800...]), frequency: 1000, sampleRate: 48000) > 60)
        var rng = SystemRandomNumberGenerator()
        let noisy = tone.map { Int16(clamping: Int($0) + Int.random(in: -3873...3873, using: &rng)) }
        #expect(abs(toneSNR(noisy, frequency: 1000, sampleRate: 48000) - 10) < 1.5)
    }
}
