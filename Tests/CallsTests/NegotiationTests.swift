import Foundation
import Testing
import TestSupport
@testable import Calls
@testable import Media
@testable import SIP

/// SDP offer/answer per leg: SRTP keys and profiles, codecs added for transcoding, the
/// answer each side gets, and what the relay is configured with.
@Suite(.serialized) struct NegotiationTests {
    @Test(arguments: [("RTP/SAVP", true), ("RTP/SAVPF", true), ("UDP/TLS/RTP/SAVPF", true), ("rtp/savp", true),
                      ("RTP/AVP", false), ("RTP/AVPF", false), ("UDP/TLS/RTP/AVP", false), ("SAVP", true), ("", false)])
    func srtpProfiles(proto: String, srtp: Bool) {
        #expect(StreamNegotiation.isSRTP(proto) == srtp)
    }

    static let key = Data((0..<30).map { UInt8($0) }).base64EncodedString()

    static func sdp(port: Int, proto: String = "RTP/AVP", formats: String, extra: [String] = []) -> SessionDescription {
        let text = (["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
                     "m=audio \(port) \(proto) \(formats)"] + extra).joined(separator: "\r\n") + "\r\n"
        return try! SessionDescription(parsing: Array(text.utf8))
    }

    func manager(_ lo: Int, transcoding: Bool = true) throws -> CallManager {
        var c = MediaRelay.Configuration()
        c.portMin = lo
        c.portMax = lo + 49
        c.threads = 1
        let relay = try MediaRelay(configuration: c)
        relay.start()
        return CallManager(relay: relay, transcoding: transcoding, now: { 100 })
    }

    func stream(_ calls: CallManager, _ id: String) -> AnchoredStream {
        calls.state.withLock { $0.live[id]!.streams[0] }
    }

    @Test func srtpCallerBridgedToPlainCallee() throws {
        let calls = try manager(TestPorts.base(50))
        defer { calls.relay.shutdown() }
        let offer = Self.sdp(port: 40000, proto: "RTP/SAVP", formats: "0 101",
                             extra: ["a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16",
                                     "a=crypto:1 AES_CM_256_HMAC_SHA1_80 inline:\(Self.key)",
                                     "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:\(Self.key)"])
        try calls.anchor(call: "s1", from: .caller, sdp: offer, role: .offer(transport: "RTP/AVP"), keys: .allowed)
        #expect(offer.media[0].proto == "RTP/AVP")
        #expect(offer.crypto(media: 0).isEmpty, "no keys toward a plain callee")
        let answer = Self.sdp(port: 40100, formats: "0 101", extra: ["a=rtpmap:101 telephone-event/8000"])
        try calls.anchor(call: "s1", from: .callee, sdp: answer, role: .answer, keys: .allowed)
        #expect(answer.media[0].proto == "RTP/SAVP")
        let lines = answer.crypto(media: 0)
        #expect(lines.count == 1)
        // Tag 1's suite is not one Baton runs: it answers tag 2 with a key of its own.
        #expect(lines.first?.tag == 2 && lines.first?.suite == "AES_CM_128_HMAC_SHA1_32")
        #expect(lines.first?.key.count == 30 && lines.first?.key != [UInt8](Data(base64Encoded: Self.key)!))
        let s = stream(calls, "s1")
        let a = try #require(calls.relay.media(s, side: .a))
        #expect(a.srtp?.suite == .aesCM128HmacSHA1_32)
        #expect(a.srtp?.receive == [UInt8](Data(base64Encoded: Self.key)!))
        #expect(a.srtp?.send == lines.first?.key)
        #expect(a.format == MediaFormat(codec: .pcmu, payloadType: 0, telephoneEvent: 101))
        #expect(calls.relay.media(s, side: .b)?.srtp == nil)
    }

    @Test func srtpBothLegsWithKeysOfTheirOwnAndStableOnReoffer() throws {
        let calls = try manager(TestPorts.base(50))
        defer { calls.relay.shutdown() }
        let offer = Self.sdp(port: 40000, proto: "RTP/SAVP", formats: "0",
                             extra: ["a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(Self.key)"])
        try calls.anchor(call: "s2", from: .caller, sdp: offer, role: .offer(transport: nil), keys: .allowed)
        #expect(offer.media[0].proto == "RTP/SAVP")
        let offered = offer.crypto(media: 0)
        #expect(offered.map(\.suite) == SRTPSuite.offerOrder.map(\.rawValue))
        let aes80 = try #require(offered.first { $0.suite == "AES_CM_128_HMAC_SHA1_80" })
        #expect(Set(offered.map(\.key)).count == offered.count, "a key per suite")
        #expect(!offered.contains { $0.key == [UInt8](Data(base64Encoded: Self.key)!) })
        let calleeKey = SRTPSession.generateKey(.aesCM128HmacSHA1_80)
        let answer = Self.sdp(port: 40100, proto: "RTP/SAVP", formats: "0",
                              extra: ["a=crypto:\(aes80.tag) AES_CM_128_HMAC_SHA1_80 inline:\(Data(calleeKey).base64EncodedString())"])
        try calls.anchor(call: "s2", from: .callee, sdp: answer, role: .answer, keys: .allowed)
        let s = stream(calls, "s2")
        #expect(calls.relay.media(s, side: .b)?.srtp == SRTPKeys(suite: .aesCM128HmacSHA1_80, receive: calleeKey, send: aes80.key))
        let toCaller = answer.crypto(media: 0)
        #expect(toCaller.count == 1 && toCaller[0].key != aes80.key, "each leg has its own key")

        // Hold: the caller re-offers; Baton's keys toward the callee stay the same.
        let hold = Self.sdp(port: 40000, proto: "RTP/SAVP", formats: "0",
                            extra: ["a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(Self.key)", "a=sendonly"])
        try calls.anchor(call: "s2", from: .caller, sdp: hold, role: .offer(transport: nil), keys: .allowed)
        #expect(hold.crypto(media: 0).map(\.key) == offered.map(\.key))
    }

    /// SDES keys only over TLS: an RTP/SAVP offer whose answer would carry keys in clear is
    /// refused (488); best-effort SRTP (a=crypto on RTP/AVP) is answered in plain RTP; the
    /// callee of a leg that may not get keys is offered the plain profile without a=crypto.
    @Test func sdesKeysNeverCrossAnUnencryptedLeg() throws {
        let calls = try manager(TestPorts.base(50))
        defer { calls.relay.shutdown() }
        let crypto = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(Self.key)"
        let mandatory = Self.sdp(port: 40000, proto: "RTP/SAVP", formats: "0", extra: [crypto])
        #expect {
            try calls.anchor(call: "k1", from: .caller, sdp: mandatory, role: .offer(transport: nil),
                             keys: SDESExposure(toSender: false, toRecipient: true))
        } throws: { e in
            guard let e = e as? SIPError, case .notAcceptable(let why) = e else { return false }
            return e.status.0 == 488 && why.contains("TLS")
        }

        let bestEffort = Self.sdp(port: 40000, formats: "0", extra: [crypto])
        try calls.anchor(call: "k2", from: .caller, sdp: bestEffort, role: .offer(transport: nil),
                         keys: SDESExposure(toSender: false, toRecipient: true))
        #expect(bestEffort.crypto(media: 0).isEmpty && bestEffort.media[0].proto == "RTP/AVP")
        let plainAnswer = Self.sdp(port: 40100, formats: "0")
        try calls.anchor(call: "k2", from: .callee, sdp: plainAnswer, role: .answer, keys: .allowed)
        #expect(plainAnswer.crypto(media: 0).isEmpty, "no key back to a caller over an unencrypted leg")
        #expect(calls.relay.media(stream(calls, "k2"), side: .a)?.srtp == nil)

        // A TLS caller, a callee over UDP: the callee is offered RTP/AVPF, no keys; the caller
        // keeps SRTP with Baton's key (it came over TLS).
        let tlsCaller = Self.sdp(port: 40000, proto: "RTP/SAVPF", formats: "0", extra: [crypto])
        try calls.anchor(call: "k3", from: .caller, sdp: tlsCaller, role: .offer(transport: nil),
                         keys: SDESExposure(toSender: true, toRecipient: false))
        #expect(tlsCaller.media[0].proto == "RTP/AVPF" && tlsCaller.crypto(media: 0).isEmpty)
        let answer = Self.sdp(port: 40100, proto: "RTP/AVPF", formats: "0")
        try calls.anchor(call: "k3", from: .callee, sdp: answer, role: .answer, keys: SDESExposure(toSender: false, toRecipient: true))
        #expect(answer.media[0].proto == "RTP/SAVPF" && answer.crypto(media: 0).count == 1)
        #expect(calls.relay.media(stream(calls, "k3"), side: .a)?.srtp != nil)
        #expect(calls.relay.media(stream(calls, "k3"), side: .b)?.srtp == nil)
    }

    @Test func unsupportedCryptoIsNotAcceptable() throws {
        let calls = try manager(TestPorts.base(50))
        defer { calls.relay.shutdown() }
        let offer = Self.sdp(port: 40000, proto: "RTP/SAVP", formats: "0",
                             extra: ["a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:\(Self.key)"])
        #expect {
            try calls.anchor(call: "s3", from: .caller, sdp: offer, role: .offer(transport: nil), keys: .allowed)
        } throws: { e in
            guard let e = e as? SIPError, case .badSDP = e else { return false }
            return e.status.0 == 488
        }
    }

    @Test func pcmuCallerGetsOpusCalleeThroughTranscoding() throws {
        let calls = try manager(TestPorts.base(50))
        defer { calls.relay.shutdown() }
        let offer = Self.sdp(port: 40000, formats: "0 8 101", extra: ["a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16"])
        try calls.anchor(call: "t1", from: .caller, sdp: offer, role: .offer(transport: nil), keys: .allowed)
        let formats = offer.formats(media: 0)
        #expect(formats.map(\.payloadType) == [0, 8, 101, 111, 110])
        #expect(formats[3] == PayloadFormat(payloadType: 111, encoding: "opus", clockRate: 48000, channels: 2, fmtp: "useinbandfec=1"))
        #expect(formats[4].encoding == "telephone-event" && formats[4].clockRate == 48000)
        // The speaker only does Opus.
        let answer = Self.sdp(port: 40100, formats: "111 110",
                              extra: ["a=rtpmap:111 opus/48000/2", "a=rtpmap:110 telephone-event/48000"])
        try calls.anchor(call: "t1", from: .callee, sdp: answer, role: .answer, keys: .allowed)
        #expect(answer.formats(media: 0).map(\.payloadType) == [0, 101], "the caller keeps PCMU and its events")
        let s = stream(calls, "t1")
        #expect(calls.relay.media(s, side: .a)?.format == MediaFormat(codec: .pcmu, payloadType: 0, telephoneEvent: 101))
        #expect(calls.relay.media(s, side: .b)?.format == MediaFormat(codec: .opus, payloadType: 111, telephoneEvent: 110,
                                                                    telephoneEventClockRate: 48000))
    }

    @Test func sharedCodecIsPassedThroughAndExtrasAreDroppedFromTheAnswer() throws {
        let calls = try manager(TestPorts.base(50))
        defer { calls.relay.shutdown() }
        let offer = Self.sdp(port: 40000, formats: "0")
        try calls.anchor(call: "t2", from: .caller, sdp: offer, role: .offer(transport: nil), keys: .allowed)
        let answer = Self.sdp(port: 40100, formats: "0 111", extra: ["a=rtpmap:111 opus/48000/2"])
        try calls.anchor(call: "t2", from: .callee, sdp: answer, role: .answer, keys: .allowed)
        #expect(answer.formats(media: 0).map(\.payloadType) == [0])
        let s = stream(calls, "t2")
        #expect(calls.relay.media(s, side: .b)?.format?.codec == .pcmu)
    }

    @Test func withoutTranscodingTheOfferIsUnchangedAndAnUnknownAnswerCodecIsRefused() throws {
        let calls = try manager(TestPorts.base(50), transcoding: false)
        defer { calls.relay.shutdown() }
        let offer = Self.sdp(port: 40000, formats: "0")
        try calls.anchor(call: "t3", from: .caller, sdp: offer, role: .offer(transport: nil), keys: .allowed)
        #expect(offer.formats(media: 0).map(\.payloadType) == [0])
        let answer = Self.sdp(port: 40100, formats: "9")
        #expect(throws: SIPError.self) { try calls.anchor(call: "t3", from: .callee, sdp: answer, role: .answer, keys: .allowed) }
    }
}
