import Testing
@testable import SIP

@Suite struct SwitchoverSIPTests {
    @Test func parsesURIsAndReferTargets() {
        #expect(SIPURI(parsing: "sip:speaker@127.0.0.1:5090")?.user == "speaker")
        #expect(SIPURI(parsing: "sip:speaker@127.0.0.1:5090")?.port == 5090)
        #expect(SIPURI(parsing: "not a uri") == nil)
        #expect(B2BUA.referTarget("<sip:speaker@127.0.0.1:26260>") == "sip:speaker@127.0.0.1:26260")
        #expect(B2BUA.referTarget("Speaker <sip:s@example.com?Replaces=abc%40h>;x=1") == "sip:s@example.com")
        #expect(B2BUA.referTarget("sip:s@example.com;method=INVITE") == "sip:s@example.com")
        #expect(B2BUA.referTarget("<>") == nil)
    }

    @Test func removesTheTagOfAHeader() {
        #expect(B2BUA.withoutTag("sipp <sip:sipp@127.0.0.1:5061>;tag=abc") == "sipp <sip:sipp@127.0.0.1:5061>")
        #expect(B2BUA.withoutTag("<sip:a@h>;tag=abc;x=y") == "<sip:a@h>;x=y")
        #expect(B2BUA.withoutTag("<sip:a@h>") == "<sip:a@h>")
    }
}

@Suite struct ReferHeaderTests {
    @Test func readsReferToAndReferredBy() throws {
        let text = "REFER sip:baton@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n" +
            "From: <sip:p@127.0.0.1>;tag=1\r\nTo: <sip:f@127.0.0.1>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 REFER\r\n" +
            "Refer-To: <sip:speaker@127.0.0.1:26260>\r\nReferred-By: <sip:phone@127.0.0.1>\r\nContent-Length: 0\r\n\r\n"
        let m = try SIPMessage.parse(Array(text.utf8))
        #expect(m.header("Refer-To") == "<sip:speaker@127.0.0.1:26260>")
        #expect(m.header("Referred-By") == "<sip:phone@127.0.0.1>")
    }
}
