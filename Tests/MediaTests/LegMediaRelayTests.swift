import Foundation
import Testing
import TestSupport
@testable import Media

/// The forwarding entry's actions on real loopback sockets: SRTP on one leg and plain RTP on
/// the other, PCMU <-> Opus transcoding, telephone-event translation.
@Suite(.serialized) struct LegMediaRelayTests {
    func makeRelay(_ lo: Int) throws -> MediaRelay { try startedRelay(ports: lo...lo + 99, threads: 1) }

    static func rtp(pt: UInt8, seq: UInt16, ts: UInt32, ssrc: UInt32 = 0x1234_5678, marker: Bool = false, payload: [UInt8]) -> [UInt8] {
        [0x80, (marker ? 0x80 : 0) | pt, UInt8(seq >> 8), UInt8(seq & 0xFF),
         UInt8(ts >> 24), UInt8((ts >> 16) & 0xFF), UInt8((ts >> 8) & 0xFF), UInt8(ts & 0xFF),
         UInt8(ssrc >> 24), UInt8((ssrc >> 16) & 0xFF), UInt8((ssrc >> 8) & 0xFF), UInt8(ssrc & 0xFF)] + payload
    }

    static func header(_ p: [UInt8]) -> (pt: UInt8, seq: UInt16, ts: UInt32) {
        (p[1] & 0x7F, UInt16(p[2]) << 8 | UInt16(p[3]),
         UInt32(p[4]) << 24 | UInt32(p[5]) << 16 | UInt32(p[6]) << 8 | UInt32(p[7]))
    }

    static func tone(_ n: Int, rate: Double, offset: Int = 0) -> [Int16] {
        (0..<n).map { Int16(10000 * sin(2 * Double.pi * 1000 * Double($0 + offset) / rate)) }
    }

    /// Leg a speaks SRTP (its key and Baton's), leg b plain RTP: b receives the plain packet
    /// byte for byte, a receives SRTP it can unprotect with Baton's key; a tampered or
    /// replayed packet from a is dropped and counted, and does not reach b.
    @Test(arguments: SRTPSuite.available)
    func srtpLegToPlainLeg(suite: SRTPSuite) throws {
        let relay = try makeRelay(TestPorts.base(100))
        defer { relay.shutdown() }
        let stream = try relay.allocate()
        let a = try UDPSocket(), b = try UDPSocket()
        let aKey = SRTPSession.generateKey(suite), batonKey = SRTPSession.generateKey(suite)
        try relay.configure(stream, side: .a, LegMedia(format: .init(codec: .pcmu, payloadType: 0),
                                                     srtp: SRTPKeys(suite: suite, receive: aKey, send: batonKey)))
        try relay.configure(stream, side: .b, LegMedia(format: .init(codec: .pcmu, payloadType: 0)))
        // One socket per party for RTP and RTCP.
        try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: a.port, rtcpPort: a.port)
        try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: b.port, rtcpPort: b.port)
        #expect(relay.barrierBlocking(), "the relay threads ran the commands")
        let aTx = try SRTPSession(suite: suite, key: aKey, direction: .outbound)
        let aRx = try SRTPSession(suite: suite, key: batonKey, direction: .inbound)
        for i in 0..<20 {
            let plain = Self.rtp(pt: 0, seq: UInt16(100 + i), ts: UInt32(160 * i), payload: [UInt8](repeating: UInt8(i), count: 160))
            var packet = plain
            try aTx.protect(&packet)
            #expect(packet.count == plain.count + suite.rtpTagLength)
            a.send(packet, to: stream.port(.a))
            #expect(b.receiveBytes() == plain, "b gets the plain packet")

            let back = Self.rtp(pt: 0, seq: UInt16(500 + i), ts: UInt32(160 * i), ssrc: 0xBEEF, payload: [UInt8](repeating: 0xFF, count: 160))
            b.send(back, to: stream.port(.b))
            var got = try #require(a.receiveBytes())
            #expect(got != back, "a gets it encrypted")
            try aRx.unprotect(&got)
            #expect(got == back)
        }
        // Tampered: one payload byte flipped.
        var bad = Self.rtp(pt: 0, seq: 200, ts: 32000, payload: [UInt8](repeating: 7, count: 160))
        try aTx.protect(&bad)
        var replay = bad
        bad[20] ^= 0x01
        a.send(bad, to: stream.port(.a))
        #expect(b.receiveBytes() == nil)
        // The genuine one passes once; sent again it is a replay.
        a.send(replay, to: stream.port(.a))
        #expect(b.receiveBytes() != nil)
        a.send(replay, to: stream.port(.a))
        #expect(b.receiveBytes() == nil)
        #expect(waitUntil { stream.rtpCounters(.a).droppedSRTP == 2 })
        #expect(stream.rtpCounters(.a).rxPackets == 21)

        // SRTCP both ways on the RTCP ports.
        let sr: [UInt8] = [0x80, 200, 0, 6] + [UInt8](repeating: 3, count: 24)
        var srtcp = sr
        try aTx.protectRTCP(&srtcp)
        a.send(srtcp, to: stream.port(.a) + 1)
        #expect(b.receiveBytes() == sr)
        b.send(sr, to: stream.port(.b) + 1)
        var back = try #require(a.receiveBytes())
        try aRx.unprotectRTCP(&back)
        #expect(back == sr)
        replay.removeAll()
    }

    /// RFC 4733 events a party sends are counted once per event (its packets, end packets
    /// included, share one timestamp) with the last event's code, and still relayed; audio
    /// packets and another payload type are not events.
    @Test func telephoneEventsAreCountedOncePerEvent() throws {
        let relay = try makeRelay(TestPorts.base(100))
        defer { relay.shutdown() }
        let stream = try relay.allocate()
        let a = try UDPSocket(), b = try UDPSocket()
        let media = LegMedia(format: .init(codec: .pcmu, payloadType: 0, telephoneEvent: 101))
        try relay.configure(stream, side: .a, media)
        try relay.configure(stream, side: .b, media)
        try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: a.port)
        try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: b.port)
        #expect(relay.barrierBlocking())
        #expect(stream.telephoneEvents(.a).count == 0)
        var seq: UInt16 = 1
        func send(_ pt: UInt8, ts: UInt32, _ payload: [UInt8]) {
            a.send(Self.rtp(pt: pt, seq: seq, ts: ts, payload: payload), to: stream.port(.a))
            seq &+= 1
            #expect(b.receiveBytes() != nil, "relayed")
        }
        send(0, ts: 160, [UInt8](repeating: 0xFF, count: 160))
        // Digit 0: three packets and three end packets, one timestamp.
        for d: UInt16 in [160, 320, 480] { send(101, ts: 320, [0, 10, UInt8(d >> 8), UInt8(d & 0xFF)]) }
        for _ in 0..<3 { send(101, ts: 320, [0, 0x80 | 10, 0x01, 0xE0]) }
        #expect(waitUntil { stream.telephoneEvents(.a).count == 1 })
        #expect(stream.telephoneEvents(.a).last == 0)
        // Then '#' (11), a new event.
        send(101, ts: 1280, [11, 10, 0, 160])
        send(101, ts: 1280, [11, 0x80 | 10, 0, 160])
        #expect(waitUntil { stream.telephoneEvents(.a).count == 2 })
        #expect(stream.telephoneEvents(.a).last == 11)
        // An event payload on another payload type, and a short event payload: not events.
        send(96, ts: 2000, [5, 10, 0, 160])
        send(101, ts: 2160, [5, 10])
        usleep(50_000)
        #expect(stream.telephoneEvents(.a).count == 2)
        #expect(stream.telephoneEvents(.b).count == 0, "per side")
    }

    /// PCMU on leg a, Opus on leg b: a 1 kHz tone crosses in both directions with its
    /// payload type, timestamps (x6 / /6) and sequence numbers right and the tone intact.
    @Test func transcodesPCMUAndOpusBothWays() throws {
        let relay = try makeRelay(TestPorts.base(100))
        defer { relay.shutdown() }
        let stream = try relay.allocate()
        let a = try UDPSocket(), b = try UDPSocket()
        try relay.configure(stream, side: .a, LegMedia(format: .init(codec: .pcmu, payloadType: 0, telephoneEvent: 101)),
                            transcodes: true)
        try relay.configure(stream, side: .b, LegMedia(format: .init(codec: .opus, payloadType: 111, telephoneEvent: 110,
                                                                    telephoneEventClockRate: 48000)),
                            transcodes: true)
        try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: a.port)
        try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: b.port)
        #expect(relay.barrierBlocking(), "the relay threads ran the commands")

        // a -> b: PCMU in, Opus out.
        let frames = 50
        let pcm8 = Self.tone(160 * frames, rate: 8000)
        let speaker = try OpusCodec(sampleRate: 48000, channels: 1, bitrate: 64000)
        var heard: [Int16] = []
        var lastTS: UInt32?
        for f in 0..<frames {
            let payload = pcm8[f * 160..<(f + 1) * 160].map(G711.ulawEncode)
            a.send(Self.rtp(pt: 0, seq: UInt16(f), ts: 1000 + UInt32(160 * f), payload: payload), to: stream.port(.a))
            let got = try #require(b.receiveBytes())
            let h = Self.header(got)
            #expect(h.pt == 111)
            #expect(h.seq == UInt16(f))
            if let lastTS { #expect(h.ts &- lastTS == 960) }
            lastTS = h.ts
            heard += try speaker.decode(Array(got[12...]))
        }
        let snrToOpus = toneSNR(Array(heard.dropFirst(4800)), frequency: 1000, sampleRate: 48000)
        print("PCMU -> Opus tone SNR \(snrToOpus) dB")
        #expect(snrToOpus > 20, "PCMU -> Opus tone SNR \(snrToOpus) dB")

        // b -> a: Opus in, PCMU out.
        let pcm48 = Self.tone(960 * frames, rate: 48000)
        var phone: [Int16] = []
        lastTS = nil
        for f in 0..<frames {
            let packet = try speaker.encode(Array(pcm48[f * 960..<(f + 1) * 960]))
            b.send(Self.rtp(pt: 111, seq: UInt16(7000 + f), ts: 0xFFFF_0000 &+ UInt32(960 * f), ssrc: 9, payload: packet),
                   to: stream.port(.b))
            let got = try #require(a.receiveBytes())
            let h = Self.header(got)
            #expect(h.pt == 0)
            #expect(got.count == 12 + 160)
            if let lastTS { #expect(h.ts &- lastTS == 160, "timestamps continue across the 2^32 wrap of the input") }
            lastTS = h.ts
            phone += got[12...].map(G711.ulaw)
        }
        let snrToPCMU = toneSNR(Array(phone.dropFirst(800)), frequency: 1000, sampleRate: 8000)
        print("Opus -> PCMU tone SNR \(snrToPCMU) dB")
        #expect(snrToPCMU > 20, "Opus -> PCMU tone SNR \(snrToPCMU) dB")

        // telephone-event: PT 101 @8000 becomes PT 110 @48000, duration x6.
        let event: [UInt8] = [5, 0x0A, 0x03, 0x20]   // digit 5, volume 10, duration 800
        a.send(Self.rtp(pt: 101, seq: 60, ts: 1000 + 160 * 50, marker: true, payload: event), to: stream.port(.a))
        let ev = try #require(b.receiveBytes())
        #expect(Self.header(ev).pt == 110)
        #expect(ev[1] & 0x80 != 0, "marker kept")
        #expect(Array(ev[12...]) == [5, 0x0A, 0x12, 0xC0], "duration 800 -> 4800")
        // Comfort noise (not negotiated) is dropped and counted.
        a.send(Self.rtp(pt: 13, seq: 61, ts: 1000 + 160 * 51, payload: [40]), to: stream.port(.a))
        #expect(b.receiveBytes() == nil)
        #expect(waitUntil { stream.rtpCounters(.a).droppedCodec == 1 })
    }

    /// Same codec, different payload type numbers: only the number changes.
    @Test func renumbersPayloadTypeWithoutTranscoding() throws {
        let relay = try makeRelay(TestPorts.base(100))
        defer { relay.shutdown() }
        let stream = try relay.allocate()
        let a = try UDPSocket(), b = try UDPSocket()
        try relay.configure(stream, side: .a, LegMedia(format: .init(codec: .opus, payloadType: 96)))
        try relay.configure(stream, side: .b, LegMedia(format: .init(codec: .opus, payloadType: 111)))
        try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: a.port)
        try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: b.port)
        #expect(relay.barrierBlocking(), "the relay threads ran the commands")
        let payload: [UInt8] = [0xFC, 1, 2, 3]
        a.send(Self.rtp(pt: 96, seq: 1, ts: 960, payload: payload), to: stream.port(.a))
        #expect(b.receiveBytes() == Self.rtp(pt: 111, seq: 1, ts: 960, payload: payload))
    }
}
