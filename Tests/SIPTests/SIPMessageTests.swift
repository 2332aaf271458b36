import Testing
@testable import SIP

@Suite struct SIPMessageTests {
    /// Methods are a type: every method Baton knows has its own metrics label (REFER,
    /// SUBSCRIBE and NOTIFY used to be "other"), junk shares one, and Allow lists what the
    /// B2BUA answers.
    @Test func methodsAreTypedAndLabelled() throws {
        #expect(SIPMethod.label("REFER") == "REFER" && SIPMethod.label("notify") == "NOTIFY" && SIPMethod.label("SUBSCRIBE") == "SUBSCRIBE")
        #expect(SIPMethod.label("FROBNICATE") == "other" && SIPMethod.label(nil) == "other")
        #expect(SIPMethod(wire: "invite") == .invite)
        #expect(B2BUA.allowedMethods == "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, REFER, SUBSCRIBE, INFO, UPDATE")
        let m = try SIPMessage.parse(Fixtures.bytes(Fixtures.invite()))
        #expect(m.sipMethod == .invite && m.cseqSIPMethod == .invite)
        #expect(m.makeResponse(200, "OK").sipMethod == nil)
    }

    /// A value libosip2 refuses, or one that would inject a header line, is not silently
    /// dropped: the message remembers the failure and refuses to serialize.
    @Test func aFailedBuildStepIsRefusedWhenTheMessageIsSent() throws {
        let m = try SIPMessage.parse(Fixtures.bytes(Fixtures.invite()))
        m.setHeader("Subject", "fine")
        #expect(m.buildError == nil)
        #expect(try m.serialize().count > 0)
        m.setHeader("Subject", "hi\r\nVia: SIP/2.0/UDP 203.0.113.9;branch=z9hG4bKevil")
        #expect(m.buildError != nil)
        #expect(throws: SIPError.self) { try m.serialize() }
        // A response built from it starts clean; a bad Content-Type fails it.
        let r = m.makeResponse(200, "OK", toTag: "t1")
        #expect(r.buildError == nil)
        r.setBody(Array("x".utf8), contentType: "not a type\n")
        #expect(throws: SIPError.self) { try r.serialize() }
        // Removing a Via that is not there is a failure too.
        let bare = m.makeResponse(200, "OK")
        bare.removeAllVias()
        bare.removeTopVia()
        #expect(bare.buildError != nil)
        // SDP: an attribute with a line break would add an SDP line of the sender's choosing.
        let sdp = try SessionDescription(parsing: Fixtures.bytes(Fixtures.sdp))
        sdp.addAttribute(media: 0, "ptime", "20")
        #expect(try sdp.serialize().count > 0)
        sdp.addAttribute(media: 0, "label", "x\r\na=inactive")
        #expect(throws: SIPError.self) { try sdp.serialize() }
        let other = try SessionDescription(parsing: Fixtures.bytes(Fixtures.sdp))
        other.setTransportProtocol(media: 3, "RTP/SAVP")
        #expect(throws: SIPError.self) { try other.serialize() }
    }

    @Test func parsesAndReserializesARealInvite() throws {
        let m = try SIPMessage.parse(Fixtures.bytes(Fixtures.invite()))
        #expect(m.isRequest)
        #expect(m.method == "INVITE")
        #expect(m.requestURI?.user == "bob")
        #expect(m.callID == "a84b4c76e66710@127.0.0.1")
        #expect(m.fromTag == "1928301774")
        #expect(m.toTag == nil)
        #expect(m.cseqNumber == 314159)
        #expect(m.cseqMethod == "INVITE")
        #expect(m.topViaBranch == "z9hG4bK776asdhds")
        #expect(m.topViaPort == 5070)
        #expect(m.contactURI(0)?.port == 5070)
        #expect(m.header("Max-Forwards") == "70")
        #expect(String(decoding: m.body, as: UTF8.self) == Fixtures.sdp)
        // libosip2 serializes it, and what it writes parses back to the same message.
        let wire = try m.serialize()
        let again = try SIPMessage.parse(wire)
        #expect(again.callID == m.callID)
        #expect(again.body == m.body)
        #expect(again.topViaBranch == m.topViaBranch)
        #expect(String(decoding: wire, as: UTF8.self).hasPrefix("INVITE sip:bob@127.0.0.1 SIP/2.0\r\n"))
    }

    @Test func buildsAResponseWithTheDialogHeaders() throws {
        let m = try SIPMessage.parse(Fixtures.bytes(Fixtures.invite()))
        let r = m.makeResponse(180, "Ringing", toTag: "xyz")
        #expect(!r.isRequest)
        #expect(r.statusCode == 180)
        #expect(r.toTag == "xyz")
        #expect(r.fromTag == "1928301774")
        #expect(r.callID == m.callID)
        #expect(r.topViaBranch == "z9hG4bK776asdhds")
        let back = try SIPMessage.parse(try r.serialize())
        #expect(back.reasonPhrase == "Ringing")
        #expect(back.body.isEmpty)
    }

    @Test(arguments: [
        ("Call-ID", SIPError.missingHeader("Call-ID")),
        ("From", SIPError.missingHeader("From")),
        ("CSeq", SIPError.missingHeader("CSeq")),
        ("Via", SIPError.missingHeader("Via")),
    ])
    func missingMandatoryHeaderIsRejected(header: String, error: SIPError) throws {
        let text = Fixtures.invite().split(separator: "\r\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("\(header):") }.joined(separator: "\r\n")
        #expect(throws: error) { try SIPMessage.parse(Fixtures.bytes(text)) }
        #expect(error.status.0 == 400)
    }

    @Test func contentLengthLongerThanTheBodyIsRejected() throws {
        let text = Fixtures.invite().replacingOccurrences(of: "Content-Length: \(Fixtures.sdp.utf8.count)", with: "Content-Length: 9999")
        #expect(throws: SIPError.badContentLength(declared: 9999, received: Fixtures.sdp.utf8.count)) {
            try SIPMessage.parse(Fixtures.bytes(text))
        }
        // The headers still parse, so a server can answer 400.
        let m = try #require(SIPMessage.headersOfTruncated(Fixtures.bytes(text)))
        #expect(m.callID == "a84b4c76e66710@127.0.0.1")
        #expect(m.makeResponse(400, "Bad Content-Length").statusCode == 400)
    }

    @Test func garbageAndOversizedAreRejected() {
        #expect(throws: SIPError.self) { try SIPMessage.parse([0x00, 0xFF, 0x13, 0x37]) }
        #expect(throws: SIPError.self) { try SIPMessage.parse(Fixtures.bytes("hello world\r\n\r\n")) }
        #expect(throws: SIPError.self) { try SIPMessage.parse(Fixtures.bytes("INVITE\r\n\r\n")) }
        #expect(throws: SIPError.tooLarge(70000)) { try SIPMessage.parse([UInt8](repeating: 65, count: 70000)) }
    }

    @Test func streamFramingReadsContentLength() {
        let head = Array("INVITE sip:a@b SIP/2.0\r\nl: 12\r\nVia: x".utf8)
        #expect(SIPFraming.contentLength(headers: head[...]) == 12)
        #expect(SIPFraming.contentLength(headers: Array("OPTIONS sip:a@b SIP/2.0\r\nVia: x".utf8)[...]) == 0)
        #expect(SIPFraming.contentLength(headers: Array("X\r\nContent-Length: abc".utf8)[...]) == nil)
    }
}

import Foundation
