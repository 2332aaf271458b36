import Testing
@testable import SIP

@Suite struct SIPMessageTests {
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
