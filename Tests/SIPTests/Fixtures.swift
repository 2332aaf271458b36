@testable import SIP

/// SIP test messages as a softphone would send them.
enum Fixtures {
    static let sdp = """
        v=0\r
        o=alice 2890844526 2890844526 IN IP4 127.0.0.1\r
        s=-\r
        c=IN IP4 127.0.0.1\r
        t=0 0\r
        m=audio 49170 RTP/AVP 0 8 101\r
        a=rtpmap:0 PCMU/8000\r
        a=rtpmap:101 telephone-event/8000\r
        a=sendrecv\r

        """

    static func invite(branch: String = "z9hG4bK776asdhds", callID: String = "a84b4c76e66710@127.0.0.1",
                       user: String = "bob", toTag: String? = nil, cseq: Int = 314159, body: String = sdp) -> String {
        let to = "Bob <sip:\(user)@127.0.0.1>" + (toTag.map { ";tag=\($0)" } ?? "")
        return "INVITE sip:\(user)@127.0.0.1 SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=\(branch);rport\r\n"
            + "Max-Forwards: 70\r\n"
            + "To: \(to)\r\n"
            + "From: Alice <sip:alice@127.0.0.1>;tag=1928301774\r\n"
            + "Call-ID: \(callID)\r\n"
            + "CSeq: \(cseq) INVITE\r\n"
            + "Contact: <sip:alice@127.0.0.1:5070>\r\n"
            + "Content-Type: application/sdp\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
    }

    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
}
