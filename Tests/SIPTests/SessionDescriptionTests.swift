import Testing
@testable import SIP

@Suite struct SessionDescriptionTests {
    @Test func parsesMediaAndRewritesItToTheAnchor() throws {
        let sdp = try SessionDescription(parsing: Fixtures.bytes(Fixtures.sdp))
        #expect(sdp.media == [.init(kind: "audio", port: 49170, proto: "RTP/AVP", address: "127.0.0.1", rtcpPort: nil)])
        try sdp.anchor(media: 0, address: "127.0.0.2", port: 20000)
        let text = String(decoding: try sdp.serialize(), as: UTF8.self)
        #expect(text.contains("c=IN IP4 127.0.0.2\r\n"))
        #expect(text.contains("m=audio 20000 RTP/AVP 0 8 101\r\n"))
        #expect(text.contains("o=alice 2890844526 2890844526 IN IP4 127.0.0.2\r\n"))
        #expect(text.contains("a=rtpmap:101 telephone-event/8000"))
        #expect(text.contains("a=sendrecv"))
        #expect(!text.contains("49170"))
    }

    @Test func rewritesMediaLevelConnectionAndRTCPAttribute() throws {
        let body = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 127.0.0.9\r\na=rtcp:4005\r\n"
        let sdp = try SessionDescription(parsing: Fixtures.bytes(body))
        #expect(sdp.media.first?.address == "127.0.0.9")
        #expect(sdp.media.first?.rtcpPort == 4005)
        try sdp.anchor(media: 0, address: "127.0.0.1", port: 20010)
        let text = String(decoding: try sdp.serialize(), as: UTF8.self)
        #expect(text.contains("a=rtcp:20011"))
        #expect(text.contains("c=IN IP4 127.0.0.1"))
    }

    @Test(arguments: [
        "",                                                                   // empty
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n", // no media
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 999.1.1.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", // bad address
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 evil.example\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
        "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 99999 RTP/AVP 0\r\n", // bad port
        "not sdp at all",
    ])
    func badSDPIsRejected(body: String) {
        #expect(throws: SIPError.self) { _ = try SessionDescription(parsing: Fixtures.bytes(body)) }
    }
}
