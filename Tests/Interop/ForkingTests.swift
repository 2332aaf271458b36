import Foundation
import Testing
import TestSupport

/// Forking (issue 22): one AOR registered from two baresip phones; a call to it rings both
/// (each its own INVITE from Baton), the phone that answers gets the call, the other gets a
/// CANCEL (its SIP trace, `baresip -s`, shows it on the wire) and the call carries media
/// between the caller and the phone that answered.
@Suite(.serialized) struct ForkingTests {
    @Test func aCallToTwoRegisteredPhonesRingsBothAndCancelsTheOther() async throws {
        guard let baresip = Interop.requirePeer("baresip", package: "baresip-core") else { return }
        let dir = try Interop.tempDir("forking")
        let tone = dir.appendingPathComponent("tone.wav")
        try BaresipCallTests.writeTone(tone, seconds: 30)
        let baton = try BatonProcess(sipPort: 27280, httpPort: 29280, rtpMin: 31000, dir: dir)
        defer { _ = baton.stop() }
        try BaresipCallTests.configure(dir.appendingPathComponent("desk"), sip: 27290, rtp: 31200...31299, tone: tone,
                                       account: "<sip:callee@127.0.0.1:27280>;regint=60;answermode=auto;audio_codecs=PCMU")
        try BaresipCallTests.configure(dir.appendingPathComponent("mobile"), sip: 27292, rtp: 31300...31399, tone: tone,
                                       account: "<sip:callee@127.0.0.1:27280>;regint=60;answermode=manual;audio_codecs=PCMU")
        try BaresipCallTests.configure(dir.appendingPathComponent("caller"), sip: 27294, rtp: 31400...31499, tone: tone,
                                       account: "<sip:caller@127.0.0.1:27280>;regint=0;audio_codecs=PCMU")
        let desk = try Child(baresip, ["-s", "-f", dir.appendingPathComponent("desk").path, "-t", "16"],
                             output: dir.appendingPathComponent("desk.log"))
        defer { desk.signal(SIGKILL) }
        let mobile = try Child(baresip, ["-s", "-f", dir.appendingPathComponent("mobile").path, "-t", "16"],
                               output: dir.appendingPathComponent("mobile.log"))
        defer { mobile.signal(SIGKILL) }
        let registered = waitUntil(.seconds(10)) {
            (try? baton.metric("baton_sip_requests_total{direction=\"in\",method=\"REGISTER\"}")).flatMap { $0 }.map { $0 >= 2 } ?? false
        }
        try #require(registered, "both phones register:\n\(desk.text)\n\(mobile.text)")

        let caller = try Child(baresip, ["-f", dir.appendingPathComponent("caller").path, "-t", "6",
                                         "-e", "/dial sip:callee@127.0.0.1:27280"],
                               output: dir.appendingPathComponent("caller.log"))
        defer { caller.signal(SIGKILL) }
        #expect(caller.wait(timeout: .seconds(20)) == 0)
        #expect(caller.text.contains("Call established"), "caller log:\n\(caller.text)")

        // Both phones got an INVITE from Baton; the one left ringing got a CANCEL for it.
        let deskInvites = desk.text.components(separatedBy: "INVITE sip:callee").count - 1
        let mobileInvites = mobile.text.components(separatedBy: "INVITE sip:callee").count - 1
        #expect(deskInvites >= 1 && mobileInvites >= 1, "both contacts rang: desk \(deskInvites), mobile \(mobileInvites)")
        #expect(mobile.text.contains("CANCEL sip:"), "the phone that did not answer got a CANCEL:\n\(mobile.text.suffix(4000))")
        #expect(!desk.text.contains("CANCEL sip:"), "the phone that answered got none")
        #expect(desk.text.contains("Call established"), "the desk phone has the call:\n\(desk.text.suffix(3000))")
        // The media went between the caller and the desk phone.
        let list = try #require(try baton.json("/calls") as? [String: Any])
        let call = try #require((list["ended"] as? [[String: Any]])?.first, "the call ended: \(list)")
        #expect(call["answered"] != nil)
        let legs = try #require(call["legs"] as? [[String: Any]])
        let callee = try #require(legs.first { $0["side"] as? String == "callee" })
        let rtp = try #require(((callee["media"] as? [[String: Any]])?.first?["rtp"]) as? [String: Int])
        #expect((rtp["rxPackets"] ?? 0) > 100 && (rtp["txPackets"] ?? 0) > 100, "media with the phone that answered: \(rtp)")
        #expect((callee["signaling"] as? String)?.hasSuffix(":27290") == true, "the callee leg is the desk phone: \(callee)")
        if ProcessInfo.processInfo.environment["BATON_KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: dir) }
    }
}
