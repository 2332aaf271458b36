import Testing
@testable import Media

@Suite struct SRTPSessionTests {
    @Test func protectThenUnprotectRoundTrips() throws {
        let key = (0..<30).map { UInt8($0) }
        let tx = try SRTPSession(key: key, direction: .outbound)
        let rx = try SRTPSession(key: key, direction: .inbound)
        // RTP header: V=2, PT=0, seq=1, ts=160, SSRC=0xdeadbeef, then 160 bytes payload.
        let plain: [UInt8] = [0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xA0, 0xDE, 0xAD, 0xBE, 0xEF]
            + [UInt8](repeating: 0x55, count: 160)
        var packet = plain
        try tx.protect(&packet)
        #expect(packet.count == plain.count + 10)        // HMAC-SHA1-80 tag
        #expect(Array(packet.prefix(12)) == Array(plain.prefix(12)))  // header stays clear
        #expect(Array(packet[12..<172]) != Array(plain[12...]))        // payload encrypted
        try rx.unprotect(&packet)
        #expect(packet == plain)
    }

    @Test func tamperedPacketIsRejected() throws {
        let key = [UInt8](repeating: 9, count: 30)
        let tx = try SRTPSession(key: key, direction: .outbound)
        let rx = try SRTPSession(key: key, direction: .inbound)
        var packet: [UInt8] = [0x80, 0x00, 0x00, 0x02, 0, 0, 0, 0, 1, 2, 3, 4] + [UInt8](repeating: 1, count: 20)
        try tx.protect(&packet)
        packet[15] ^= 0xFF
        #expect(throws: MediaError.self) { try rx.unprotect(&packet) }
    }

    @Test func wrongKeyLengthThrows() {
        #expect(throws: MediaError.self) { _ = try SRTPSession(key: [1, 2, 3], direction: .inbound) }
    }
}

@Suite struct OpusCodecTests {
    @Test func encodesAndDecodesOneFrame() throws {
        let codec = try OpusCodec(sampleRate: 48000, channels: 1)
        // 20 ms of a 440 Hz tone.
        let pcm = (0..<960).map { Int16(8000 * sin(2 * Double.pi * 440 * Double($0) / 48000)) }
        let packet = try codec.encode(pcm)
        #expect(packet.count > 0 && packet.count < 400)
        let decoded = try codec.decode(packet)
        #expect(decoded.count == 960)
        #expect(decoded.contains { abs(Int($0)) > 1000 })   // not silence
    }
}

@Suite struct RTPEndpointTests {
    @Test func sendsAndReceivesOnePacketOnLoopback() throws {
        let a = try RTPEndpoint(localPort: 0)
        let b = try RTPEndpoint(localPort: 0)
        try a.setRemote(ip: "127.0.0.1", port: b.localPort)
        let payload = [UInt8](repeating: 0x7F, count: 160)
        try a.send(payload: payload, timestamp: 160)
        let got = b.receive(timestamp: 160, timeout: .seconds(2))
        #expect(got == payload)
    }
}

#if canImport(Glibc)
import Glibc
#endif
