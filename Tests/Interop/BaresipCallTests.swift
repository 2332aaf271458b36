import Foundation
import Store
import Testing

/// baresip caller -> Baton -> baresip callee (registered at Baton, auto-answer), PCMU both ways.
@Suite(.serialized) struct BaresipCallTests {
    /// 8 kHz mono 16-bit WAV of a 440 Hz tone, the callers' audio source.
    static func writeTone(_ url: URL, seconds: Int) throws {
        let n = 8000 * seconds
        var d = Data()
        func le32(_ v: Int) { d.append(contentsOf: withUnsafeBytes(of: UInt32(v).littleEndian, Array.init)) }
        func le16(_ v: Int) { d.append(contentsOf: withUnsafeBytes(of: UInt16(v).littleEndian, Array.init)) }
        d.append(contentsOf: Array("RIFF".utf8)); le32(36 + n * 2); d.append(contentsOf: Array("WAVEfmt ".utf8))
        le32(16); le16(1); le16(1); le32(8000); le32(16000); le16(2); le16(16)
        d.append(contentsOf: Array("data".utf8)); le32(n * 2)
        for i in 0..<n { le16(Int(UInt16(bitPattern: Int16(8000 * sin(2 * Double.pi * 440 * Double(i) / 8000))))) }
        try d.write(to: url)
    }

    static func configure(_ dir: URL, sip: Int, rtp: ClosedRange<Int>, tone: URL, account: String) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try """
        poll_method epoll
        sip_listen 127.0.0.1:\(sip)
        audio_player aubridge,nowhere
        audio_source aufile,\(tone.path)
        audio_alert aubridge,nowhere
        audio_srate 8000
        audio_channels 1
        rtp_ports \(rtp.lowerBound)-\(rtp.upperBound)
        rtp_stats yes
        module_path /usr/lib/baresip/modules
        module g711.so
        module aufile.so
        module aubridge.so
        module_app account.so
        module_app menu.so

        """.write(to: dir.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        try (account + "\n").write(to: dir.appendingPathComponent("accounts"), atomically: true, encoding: .utf8)
    }

    /// baresip's end-of-call summary: (transmitted, received) RTP packets.
    static func packets(_ log: String) -> (tx: Int, rx: Int)? {
        guard let line = log.split(separator: "\n").last(where: { $0.hasPrefix("packets:") }) else { return nil }
        let nums = line.split(separator: " ").compactMap { Int($0) }
        return nums.count == 2 ? (nums[0], nums[1]) : nil
    }

    @Test func baresipCallsARegisteredBaresipThroughBaton() async throws {
        guard let baresip = Interop.requirePeer("baresip", package: "baresip-core") else { return }
        let dir = try Interop.tempDir("baresip")
        let tone = dir.appendingPathComponent("tone.wav")
        try Self.writeTone(tone, seconds: 30)
        let baton = try BatonProcess(sipPort: 26160, httpPort: 28160, rtpMin: 22200, dir: dir)
        try Self.configure(dir.appendingPathComponent("callee"), sip: 26170, rtp: 30100...36119, tone: tone,
                           account: "<sip:callee@127.0.0.1:26160>;regint=60;answermode=auto;audio_codecs=PCMU")
        try Self.configure(dir.appendingPathComponent("caller"), sip: 26180, rtp: 30120...36139, tone: tone,
                           account: "<sip:caller@127.0.0.1:26160>;regint=0;audio_codecs=PCMU")
        let callee = try Child(baresip, ["-f", dir.appendingPathComponent("callee").path, "-t", "14"],
                               output: dir.appendingPathComponent("callee.log"))
        // Wait for the registration to land at Baton.
        let end = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < end, try baton.metric("baton_sip_requests_total{direction=\"in\",method=\"REGISTER\"}") == nil { usleep(100_000) }
        #expect(try baton.metric("baton_sip_requests_total{direction=\"in\",method=\"REGISTER\"}") != nil, "callee never registered:\n\(callee.text)")

        let caller = try Child(baresip, ["-f", dir.appendingPathComponent("caller").path, "-t", "6",
                                         "-e", "/dial sip:callee@127.0.0.1:26160"],
                               output: dir.appendingPathComponent("caller.log"))
        #expect(caller.wait(timeout: .seconds(20)) == 0)
        // The callee prints its summary when the BYE arrives.
        let sumEnd = ContinuousClock.now + .seconds(5)
        while Self.packets(callee.text) == nil && ContinuousClock.now < sumEnd { usleep(100_000) }
        callee.signal(SIGTERM)
        callee.wait(timeout: .seconds(5))

        #expect(caller.text.contains("Call established"), "caller log:\n\(caller.text)")
        let callerCount = try #require(Self.packets(caller.text), "no RTP summary from the caller:\n\(caller.text)")
        let calleeCount = try #require(Self.packets(callee.text), "no RTP summary from the callee:\n\(callee.text)")
        #expect(callerCount.tx > 100 && calleeCount.tx > 100)

        let list = try #require(try baton.json("/calls") as? [String: Any])
        let call = try #require((list["ended"] as? [[String: Any]])?.first)
        #expect(call["hungUpBy"] as? String == "caller")
        let legs = try #require(call["legs"] as? [[String: Any]])
        func media(_ side: String) throws -> [String: Any] {
            try #require((legs.first { $0["side"] as? String == side }?["media"] as? [[String: Any]])?.first)
        }
        let a = try media("caller"), b = try media("callee")
        let aPort = try #require(a["localPort"] as? Int), bPort = try #require(b["localPort"] as? Int)
        // Each softphone received its media from Baton's port, not from the other phone.
        #expect(caller.text.contains("receiving from 127.0.0.1:\(aPort)"), "caller log:\n\(caller.text)")
        #expect(callee.text.contains("receiving from 127.0.0.1:\(bPort)"), "callee log:\n\(callee.text)")
        let ar = try #require(a["rtp"] as? [String: Int]), br = try #require(b["rtp"] as? [String: Int])
        // Inside Baton nothing was lost: what came in on one leg went out on the other.
        #expect(ar["rxPackets"] == br["txPackets"])
        #expect(br["rxPackets"] == ar["txPackets"])
        #expect(ar["droppedSource"] == 0 && br["droppedSource"] == 0)
        // The far ends agree: everything the caller sent reached the callee through Baton...
        #expect(ar["rxPackets"] == callerCount.tx)
        #expect(br["txPackets"] == calleeCount.rx)
        // ...and back. The caller hangs up: it stops listening when it sends BYE, and the
        // callee keeps sending until Baton's BYE reaches it, after Baton has released the
        // ports. So at most the packets in flight at hang-up (one or two at 50 pps) are
        // missing from the caller's count or arrive after the call's ports are gone.
        #expect((0...2).contains(calleeCount.tx - (br["rxPackets"] ?? 0)), "callee tx \(calleeCount.tx), Baton rx \(br["rxPackets"] ?? -1)")
        #expect((0...2).contains((ar["txPackets"] ?? 0) - callerCount.rx), "caller rx \(callerCount.rx), Baton tx \(ar["txPackets"] ?? -1)")

        #expect(baton.stop() == 0, "baton log:\n\(baton.child.text)")
        let store = try Store(path: baton.storePath)
        let rec = try #require(try await store.calls().first)
        #expect(rec.answered != nil && rec.hungUpBy == "caller")
        #expect(rec.callee.contains("callee@127.0.0.1"))
        let regs = try await store.registrations(validAt: Date().timeIntervalSince1970)
        #expect(regs.contains { $0.aor == "callee@127.0.0.1" })
        try? FileManager.default.removeItem(at: dir)
    }
}
