import Foundation
import Media
import SIP
import Testing

/// SRTP and transcoding per leg with real clients: baresip (SDES SRTP, Opus) on one leg,
/// sipp (plain PCMU) on the other; a switchover from a PCMU phone to an Opus speaker under
/// SRTP toward the far party. Each test checks the audio the receiving party got (a 1 kHz
/// tone: SNR and gaps) from a packet capture.
@Suite(.serialized) struct MediaBridgeTests {
    /// A 1 kHz tone WAV (16-bit) at the codec's rate and channel count: baresip's aufile
    /// source plays it as it is.
    static func writeTone(_ url: URL, rate: Int, channels: Int, seconds: Int) throws {
        let n = rate * seconds
        var d = Data()
        func le32(_ v: Int) { d.append(contentsOf: withUnsafeBytes(of: UInt32(v).littleEndian, Array.init)) }
        func le16(_ v: Int) { d.append(contentsOf: withUnsafeBytes(of: UInt16(v).littleEndian, Array.init)) }
        d.append(contentsOf: Array("RIFF".utf8)); le32(36 + n * 2 * channels); d.append(contentsOf: Array("WAVEfmt ".utf8))
        le32(16); le16(1); le16(channels); le32(rate); le32(rate * 2 * channels); le16(2 * channels); le16(16)
        d.append(contentsOf: Array("data".utf8)); le32(n * 2 * channels)
        for i in 0..<n {
            let v = Int(UInt16(bitPattern: Int16(8000 * sin(2 * Double.pi * 1000 * Double(i) / Double(rate)))))
            for _ in 0..<channels { le16(v) }
        }
        try d.write(to: url)
    }

    /// A baresip profile: its SIP and RTP ports, the tone it sends, and the modules it needs.
    static func configure(_ dir: URL, sip: Int, rtp: ClosedRange<Int>, tone: URL, modules: [String], account: String,
                          extra: [String] = []) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let lines = ["poll_method epoll", "sip_listen 127.0.0.1:\(sip)", "audio_player aubridge,nowhere",
                     "audio_source aufile,\(tone.path)", "audio_alert aubridge,nowhere",
                     "rtp_ports \(rtp.lowerBound)-\(rtp.upperBound)", "rtp_stats yes",
                     "module_path /usr/lib/baresip/modules"]
            + (["aufile.so", "aubridge.so"] + modules).map { "module \($0)" }
            + ["module_app account.so", "module_app menu.so"] + extra
        try (lines.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        try (account + "\n").write(to: dir.appendingPathComponent("accounts"), atomically: true, encoding: .utf8)
    }

    /// Opus as a tone-preserving source: CELT (application audio) at 64 kbit/s. At baresip's
    /// default 28 kbit/s libopus codes a pure tone with SILK, which keeps the sound but not the
    /// waveform (tone SNR ~16 dB), and the check is about what Baton's transcoder does.
    static let opusConfig = ["opus_bitrate 64000", "opus_application audio", "opus_stereo no", "opus_sprop_stereo no"]

    struct RTP {
        let time: Double, pt: UInt8, ssrc: UInt32, seq: UInt16, marker: Bool, packet: [UInt8]
        init?(time: Double, _ p: [UInt8]) {
            guard p.count >= 12, p[0] & 0xC0 == 0x80, p[1] & 0x7F < 72 || p[1] & 0x7F > 79 else { return nil }
            self.time = time
            pt = p[1] & 0x7F
            ssrc = UInt32(p[8]) << 24 | UInt32(p[9]) << 16 | UInt32(p[10]) << 8 | UInt32(p[11])
            seq = UInt16(p[2]) << 8 | UInt16(p[3])
            marker = p[1] & 0x80 != 0
            packet = p
        }
        var payload: ArraySlice<UInt8> { packet[(12 + Int(packet[0] & 0x0F) * 4)...] }
    }

    static func largestGap(_ s: [RTP]) -> Double {
        zip(s.dropFirst(), s).map { $0.time - $1.time }.max() ?? 0
    }

    /// The 1 kHz tone SNR of PCMU packets, after the first `skip` (codec warm-up).
    static func pcmuSNR(_ s: [RTP], skip: Int = 10) -> Double {
        toneSNR(s.dropFirst(skip).flatMap { $0.payload.map(G711.ulaw) }, frequency: 1000, sampleRate: 8000)
    }

    static func ports(_ packets: [(time: Double, src: Int, dst: Int, payload: [UInt8])], from: ClosedRange<Int>? = nil,
                      to: ClosedRange<Int>) -> [RTP] {
        packets.filter { to.contains($0.dst) && (from?.contains($0.src) ?? true) }.compactMap { RTP(time: $0.time, $0.payload) }
    }

    /// Waits up to `timeout` for a REGISTER to reach Baton.
    static func waitForRegistration(_ baton: BatonProcess, _ child: Child) throws {
        let end = ContinuousClock.now + .seconds(10)
        let sample = "baton_sip_requests_total{direction=\"in\",method=\"REGISTER\"}"
        while ContinuousClock.now < end, try baton.metric(sample) == nil { usleep(100_000) }
        #expect(try baton.metric(sample) != nil, "no registration:\n\(child.text)")
    }

    /// SDES keys only over TLS: the same baresip SRTP caller over UDP, with a route that does
    /// not allow keys in clear, is refused with 488 (its key already crossed in clear; Baton
    /// will not answer with one of its own, nor forward the call); no INVITE reaches the callee.
    @Test func sdesOverUDPIsRefusedWithoutTheRoutesSwitch() async throws {
        guard let baresip = Interop.requirePeer("baresip", package: "baresip-core"),
              let sipp = Interop.requirePeer("sipp", package: "sip-tester") else { return }
        let dir = try Interop.tempDir("sdes-udp")
        for f in ["uas-phone.xml", "rtp-phone.pcap"] {
            try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        let tone = dir.appendingPathComponent("tone.wav")
        try Self.writeTone(tone, rate: 8000, channels: 1, seconds: 3)
        let baton = try BatonProcess(sipPort: 27030, httpPort: 28930, rtpMin: 27700, dir: dir,
                                     config: "[[routes]]\nmatch = \".\"\nhost = \"127.0.0.1\"\nport = 27040\n")
        let callee = try Child(sipp, ["-sf", "uas-phone.xml", "-i", "127.0.0.1", "-p", "27040", "-mi", "127.0.0.1",
                                      "-mp", "27060", "-m", "1", "-nostdin", "-timeout", "12s", "-trace_msg"],
                               cwd: dir, output: dir.appendingPathComponent("callee.log"))
        defer { callee.signal(SIGTERM); callee.wait(timeout: .seconds(5)) }
        try Self.configure(dir.appendingPathComponent("caller"), sip: 27050, rtp: 27070...27079, tone: tone,
                           modules: ["g711.so", "srtp.so"],
                           account: "<sip:caller@127.0.0.1:27030>;regint=0;audio_codecs=PCMU;mediaenc=srtp-mand")
        let caller = try Child(baresip, ["-f", dir.appendingPathComponent("caller").path, "-t", "5",
                                         "-e", "/dial sip:callee@127.0.0.1:27030"],
                               output: dir.appendingPathComponent("caller.log"))
        caller.wait(timeout: .seconds(15))
        #expect(caller.text.contains("488"), "caller:\n\(caller.text)")
        #expect(!caller.text.contains("Call established"), "caller:\n\(caller.text)")
        let list = try #require(try baton.json("/calls") as? [String: Any])
        let ended = (list["ended"] as? [[String: Any]]) ?? []
        #expect(ended.contains { ($0["reason"] as? String)?.contains("488") == true && ($0["reason"] as? String)?.contains("TLS") == true },
                "\(ended)")
        #expect(((list["live"] as? [[String: Any]]) ?? []).isEmpty)
        callee.signal(SIGTERM)
        callee.wait(timeout: .seconds(5))
        let trace = (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.filter { $0.hasSuffix("_messages.log") } ?? []
        let seen = trace.compactMap { try? String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8) }.joined()
        #expect(!seen.contains("INVITE sip:"), "the callee saw no INVITE:\n\(seen)")
        #expect(baton.stop() == 0)
        try? FileManager.default.removeItem(at: dir)
    }

    /// baresip (`mediaenc=srtp-mand`: RTP/SAVP, SDES) calls sipp (plain RTP/AVP, PCMU) through
    /// Baton, whose route says `media_transport = "RTP/AVP"`: Baton terminates SRTP on the
    /// caller's leg with a key of its own and relays plain RTP to sipp.
    @Test func srtpCallerToPlainCallee() async throws {
        guard let baresip = Interop.requirePeer("baresip", package: "baresip-core"),
              let sipp = Interop.requirePeer("sipp", package: "sip-tester"),
              let tcpdump = Interop.requirePeer("tcpdump", package: "tcpdump") else { return }
        let dir = try Interop.tempDir("srtp")
        for f in ["uas-phone.xml", "rtp-phone.pcap"] {
            try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        let tone = dir.appendingPathComponent("tone.wav")
        try Self.writeTone(tone, rate: 8000, channels: 1, seconds: 20)
        let baton = try BatonProcess(sipPort: 26660, httpPort: 28660, rtpMin: 25600, dir: dir, config: """
            [[routes]]
            match = "."
            host = "127.0.0.1"
            port = 26670
            media_transport = "RTP/AVP"
            # A lab: the caller's SDES keys cross UDP signaling (docs/security.md).
            sdes_in_clear = true
            """)
        let callerRTP = 32420...32439, calleeRTP = 32400
        let capture = dir.appendingPathComponent("rtp.pcap")
        let dump = try Child(tcpdump, ["-i", "lo", "-n", "-U", "-w", capture.path,
                                       "udp and (port \(calleeRTP) or portrange \(callerRTP.lowerBound)-\(callerRTP.upperBound))"],
                             output: dir.appendingPathComponent("tcpdump.log"))
        let ready = ContinuousClock.now + .seconds(5)
        while !dump.text.contains("listening on") && ContinuousClock.now < ready { usleep(50_000) }
        let callee = try Child(sipp, ["-sf", "uas-phone.xml", "-i", "127.0.0.1", "-p", "26670", "-mi", "127.0.0.1",
                                      "-mp", "\(calleeRTP)", "-m", "1", "-nostdin", "-timeout", "30s"],
                               cwd: dir, output: dir.appendingPathComponent("callee.log"))
        try Self.configure(dir.appendingPathComponent("caller"), sip: 26680, rtp: callerRTP, tone: tone,
                           modules: ["g711.so", "srtp.so"],
                           account: "<sip:caller@127.0.0.1:26660>;regint=0;audio_codecs=PCMU;mediaenc=srtp-mand")
        usleep(300_000)
        let caller = try Child(baresip, ["-f", dir.appendingPathComponent("caller").path, "-t", "6",
                                         "-e", "/dial sip:callee@127.0.0.1:26660"],
                               output: dir.appendingPathComponent("caller.log"))
        #expect(caller.wait(timeout: .seconds(20)) == 0, "caller:\n\(caller.text)")
        #expect(callee.wait(timeout: .seconds(10)) == 0, "callee:\n\(callee.text)")
        usleep(300_000)
        dump.signal(SIGINT)
        dump.wait(timeout: .seconds(5))
        #expect(caller.text.contains("Call established"), "caller:\n\(caller.text)")

        let packets = try PcapReader.timedPackets(capture)
        // Caller -> Baton: SRTP (10-byte tag); Baton -> callee: the plain PCMU tone.
        let fromCaller = Self.ports(packets, from: callerRTP, to: 25600...25799)
        let toCallee = Self.ports(packets, to: calleeRTP...calleeRTP)
        #expect(fromCaller.count > 150, "caller sent \(fromCaller.count) packets")
        #expect(fromCaller.allSatisfy { $0.packet.count == 12 + 160 + 10 }, "the caller's packets carry an SRTP tag")
        #expect(toCallee.count > 150, "callee got \(toCallee.count) packets")
        #expect(toCallee.allSatisfy { $0.pt == 0 && $0.packet.count == 12 + 160 }, "plain PCMU toward the callee")
        let snr = Self.pcmuSNR(toCallee)
        #expect(snr > 20, "1 kHz tone SNR at the callee: \(snr) dB")
        let gap = Self.largestGap(toCallee)
        print("SRTP caller -> plain callee: tone SNR \(Int(snr)) dB, largest gap \(Int(gap * 1000)) ms, \(toCallee.count) packets")
        #expect(gap < 0.060, "largest gap at the callee: \(Int(gap * 1000)) ms")
        // Callee -> caller: Baton protects with its own key; baresip only counts packets
        // that authenticate.
        let toCaller = Self.ports(packets, from: 25600...25799, to: callerRTP)
        let fromCallee = Dictionary(Self.ports(packets, from: calleeRTP...calleeRTP, to: 25600...25799).map { ($0.seq, $0.packet.count) },
                                    uniquingKeysWith: { a, _ in a })
        #expect(toCaller.count > 80)
        #expect(toCaller.allSatisfy { $0.packet.count == (fromCallee[$0.seq] ?? -100) + 10 }, "each packet grew by the SRTP tag")
        // Packets in flight when the caller hangs up are not counted by it.
        let counts = try #require(BaresipCallTests.packets(caller.text), "no RTP summary:\n\(caller.text)")
        #expect(counts.rx >= toCaller.count - 5, "caller decrypted \(counts.rx) of \(toCaller.count)")

        let list = try #require(try baton.json("/calls") as? [String: Any])
        let call = try #require((list["ended"] as? [[String: Any]])?.first)
        let legs = try #require(call["legs"] as? [[String: Any]])
        let rtp = try #require(((legs.first { $0["side"] as? String == "caller" }?["media"] as? [[String: Any]])?.first)?["rtp"] as? [String: Int])
        #expect(rtp["droppedSRTP"] == 0 && (rtp["rxPackets"] ?? 0) > 150, "\(rtp)")
        #expect(baton.stop() == 0)
        try? FileManager.default.removeItem(at: dir)
    }

    /// baresip with Opus only calls sipp with PCMU only: Baton offers sipp the caller's Opus
    /// plus PCMU, sipp answers PCMU, and Baton transcodes both directions.
    @Test func opusCallerToPCMUCallee() async throws {
        guard let baresip = Interop.requirePeer("baresip", package: "baresip-core"),
              let sipp = Interop.requirePeer("sipp", package: "sip-tester"),
              let tcpdump = Interop.requirePeer("tcpdump", package: "tcpdump") else { return }
        let dir = try Interop.tempDir("opus")
        for f in ["uas-phone.xml", "rtp-phone.pcap"] {
            try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        let tone = dir.appendingPathComponent("tone48.wav")
        try Self.writeTone(tone, rate: 48000, channels: 1, seconds: 20)
        let baton = try BatonProcess(sipPort: 26760, httpPort: 28760, rtpMin: 25800, dir: dir,
                                     extra: ["--route", ".=127.0.0.1:26770"])
        let callerRTP = 32460...32479, calleeRTP = 32440
        let capture = dir.appendingPathComponent("rtp.pcap")
        let dump = try Child(tcpdump, ["-i", "lo", "-n", "-U", "-w", capture.path,
                                       "udp and (port \(calleeRTP) or portrange \(callerRTP.lowerBound)-\(callerRTP.upperBound))"],
                             output: dir.appendingPathComponent("tcpdump.log"))
        let ready = ContinuousClock.now + .seconds(5)
        while !dump.text.contains("listening on") && ContinuousClock.now < ready { usleep(50_000) }
        let callee = try Child(sipp, ["-sf", "uas-phone.xml", "-i", "127.0.0.1", "-p", "26770", "-mi", "127.0.0.1",
                                      "-mp", "\(calleeRTP)", "-m", "1", "-nostdin", "-timeout", "30s"],
                               cwd: dir, output: dir.appendingPathComponent("callee.log"))
        try Self.configure(dir.appendingPathComponent("caller"), sip: 26780, rtp: callerRTP, tone: tone,
                           modules: ["opus.so"], account: "<sip:caller@127.0.0.1:26760>;regint=0;audio_codecs=opus",
                           extra: Self.opusConfig)
        usleep(300_000)
        let caller = try Child(baresip, ["-f", dir.appendingPathComponent("caller").path, "-t", "6",
                                         "-e", "/dial sip:callee@127.0.0.1:26760"],
                               output: dir.appendingPathComponent("caller.log"))
        #expect(caller.wait(timeout: .seconds(20)) == 0, "caller:\n\(caller.text)")
        #expect(callee.wait(timeout: .seconds(10)) == 0, "callee:\n\(callee.text)")
        usleep(300_000)
        dump.signal(SIGINT)
        dump.wait(timeout: .seconds(5))
        #expect(caller.text.contains("Call established"), "caller:\n\(caller.text)")

        let packets = try PcapReader.timedPackets(capture)
        let fromCaller = Self.ports(packets, from: callerRTP, to: 25800...25999)
        let toCallee = Self.ports(packets, to: calleeRTP...calleeRTP)
        let opusPT = try #require(fromCaller.first?.pt, "the caller sent nothing")
        #expect(opusPT >= 96 && fromCaller.allSatisfy { $0.pt == opusPT }, "Opus from the caller")
        #expect(toCallee.count > 150, "callee got \(toCallee.count) packets")
        #expect(toCallee.allSatisfy { $0.pt == 0 && $0.packet.count == 12 + 160 }, "PCMU toward the callee")
        // Timestamps toward the callee advance in 8 kHz units (160 per 20 ms packet).
        let steps = zip(toCallee.dropFirst(), toCallee).map { a, b in
            (UInt32(a.packet[4]) << 24 | UInt32(a.packet[5]) << 16 | UInt32(a.packet[6]) << 8 | UInt32(a.packet[7]))
                &- (UInt32(b.packet[4]) << 24 | UInt32(b.packet[5]) << 16 | UInt32(b.packet[6]) << 8 | UInt32(b.packet[7]))
        }
        #expect(steps.filter { $0 == 160 }.count >= steps.count - 2, "timestamp steps \(Set(steps))")
        let snr = Self.pcmuSNR(toCallee)
        #expect(snr > 20, "1 kHz tone SNR at the callee (Opus -> PCMU by Baton): \(snr) dB")
        let gap = Self.largestGap(toCallee)
        print("Opus caller -> PCMU callee: tone SNR \(Int(snr)) dB, largest gap \(Int(gap * 1000)) ms, \(toCallee.count) packets")
        #expect(gap < 0.060, "largest gap at the callee: \(Int(gap * 1000)) ms")
        // sipp's PCMU reaches the caller as Opus.
        let toCaller = Self.ports(packets, from: 25800...25999, to: callerRTP)
        #expect(toCaller.count > 80 && toCaller.allSatisfy { $0.pt == opusPT }, "Opus toward the caller")
        let counts = try #require(BaresipCallTests.packets(caller.text), "no RTP summary:\n\(caller.text)")
        #expect(counts.rx >= toCaller.count - 5, "caller decoded \(counts.rx) of \(toCaller.count)")
        #expect(baton.stop() == 0)
        try? FileManager.default.removeItem(at: dir)
    }

    /// F (baresip, `mediaenc=srtp`, PCMU) calls P (sipp, plain PCMU); the call moves to S
    /// (baresip registered as "speaker", Opus only, plain RTP). F's leg keeps its codec,
    /// SSRC and SRTP keys: every packet F receives authenticates with the key Baton gave it
    /// at call setup, one SSRC, sequence +1 throughout, PCMU throughout, and after the splice
    /// S's tone (Opus -> PCMU by Baton) with a tone SNR above 20 dB.
    @Test func switchoverFromPCMUPhoneToOpusSpeakerUnderSRTP() async throws {
        guard let baresip = Interop.requirePeer("baresip", package: "baresip-core"),
              let sipp = Interop.requirePeer("sipp", package: "sip-tester"),
              let tcpdump = Interop.requirePeer("tcpdump", package: "tcpdump") else { return }
        let dir = try Interop.tempDir("srtp-switch")
        for f in ["uas-phone.xml", "rtp-phone.pcap"] {
            try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        let tone8 = dir.appendingPathComponent("tone8.wav"), tone48 = dir.appendingPathComponent("tone48.wav")
        try Self.writeTone(tone8, rate: 8000, channels: 1, seconds: 20)
        try Self.writeTone(tone48, rate: 48000, channels: 1, seconds: 20)
        let batonSIP = 26860, fSIP = 26880, sSIP = 26890, pSIP = 26870
        let fRTP = 32500...32519, sRTP = 32520...32539, pRTP = 32480
        let baton = try BatonProcess(sipPort: batonSIP, httpPort: 28860, rtpMin: 21000, dir: dir, config: """
            [[routes]]
            match = "^phone$"
            host = "127.0.0.1"
            port = \(pSIP)
            media_transport = "RTP/AVP"
            sdes_in_clear = true
            """)
        let capture = dir.appendingPathComponent("rtp.pcap")
        let dump = try Child(tcpdump, ["-i", "lo", "-n", "-U", "-s", "0", "-w", capture.path,
                                       "udp and (port \(pRTP) or port \(batonSIP) or portrange \(fRTP.lowerBound)-\(sRTP.upperBound))"],
                             output: dir.appendingPathComponent("tcpdump.log"))
        let ready = ContinuousClock.now + .seconds(5)
        while !dump.text.contains("listening on") && ContinuousClock.now < ready { usleep(50_000) }
        let phone = try Child(sipp, ["-sf", "uas-phone.xml", "-i", "127.0.0.1", "-p", "\(pSIP)", "-mi", "127.0.0.1",
                                     "-mp", "\(pRTP)", "-m", "1", "-nostdin", "-timeout", "30s"],
                              cwd: dir, output: dir.appendingPathComponent("phone.log"))
        try Self.configure(dir.appendingPathComponent("speaker"), sip: sSIP, rtp: sRTP, tone: tone48, modules: ["opus.so"],
                           account: "<sip:speaker@127.0.0.1:\(batonSIP)>;regint=60;answermode=auto;audio_codecs=opus",
                           extra: Self.opusConfig)
        let speaker = try Child(baresip, ["-f", dir.appendingPathComponent("speaker").path, "-t", "16"],
                                output: dir.appendingPathComponent("speaker.log"))
        try Self.waitForRegistration(baton, speaker)
        try Self.configure(dir.appendingPathComponent("far"), sip: fSIP, rtp: fRTP, tone: tone8, modules: ["g711.so", "srtp.so"],
                           account: "<sip:far@127.0.0.1:\(batonSIP)>;regint=0;audio_codecs=PCMU;mediaenc=srtp")
        let far = try Child(baresip, ["-f", dir.appendingPathComponent("far").path, "-t", "9",
                                      "-e", "/dial sip:phone@127.0.0.1:\(batonSIP)"],
                            output: dir.appendingPathComponent("far.log"))
        let id = try #require(try baton.answeredCall(), "not answered:\n\(far.text)\n\(baton.child.text)")
        // P sends 2 s of tone, then silence: the switchover splices at a silent packet.
        usleep(2_800_000)
        let (code, op) = try baton.post("/calls/\(id)/switchover", json: ["target": "sip:speaker@127.0.0.1"])
        #expect(code == 202, "\(op)")
        var final: [String: Any] = [:]
        let end = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < end, let opID = op["id"] as? String {
            final = (try baton.json("/switchovers/\(opID)") as? [String: Any]) ?? [:]
            if ["completed", "failed"].contains(final["state"] as? String ?? "") { break }
            usleep(50_000)
        }
        #expect(final["state"] as? String == "completed", "\(final)\n\(baton.child.text)")
        #expect(far.wait(timeout: .seconds(20)) == 0, "F:\n\(far.text)")
        #expect(phone.wait(timeout: .seconds(10)) == 0, "P:\n\(phone.text)")
        usleep(500_000)
        speaker.signal(SIGTERM)
        speaker.wait(timeout: .seconds(5))
        dump.signal(SIGINT)
        dump.wait(timeout: .seconds(5))

        let packets = try PcapReader.timedPackets(capture)
        // Baton's key toward F: the a=crypto of the 200 OK Baton sent F.
        let sip = packets.filter { $0.src == batonSIP && $0.dst == fSIP }.map { String(decoding: $0.payload, as: UTF8.self) }
        let ok = try #require(sip.first { $0.hasPrefix("SIP/2.0 200") && $0.contains("a=crypto:") }, "no 200 OK with a=crypto to F")
        let line = try #require(ok.split(separator: "\r\n").first { $0.hasPrefix("a=crypto:") })
        let crypto = try #require(SDESCrypto(parsing: String(line.dropFirst("a=crypto:".count))))
        let suite = try #require(SRTPSuite(rawValue: crypto.suite))
        let rx = try SRTPSession(suite: suite, key: crypto.key, direction: .inbound)

        let toF = Self.ports(packets, from: 21000...21199, to: fRTP)
        #expect(toF.count > 300, "F received \(toF.count) packets")
        #expect(Set(toF.map(\.ssrc)).count == 1, "F saw SSRCs \(Set(toF.map(\.ssrc)))")
        let breaks = zip(toF.dropFirst(), toF).filter { $0.seq != $1.seq &+ 1 }.count
        #expect(breaks == 0, "sequence breaks toward F: \(breaks)")
        var plain: [[UInt8]] = []
        var failures: [Int] = []
        for (k, p) in toF.enumerated() {
            var bytes = p.packet
            do { try rx.unprotect(&bytes); plain.append(bytes) } catch { failures.append(k) }
        }
        #expect(failures.isEmpty, "packets toward F that did not authenticate with F's key: \(failures) of \(toF.count)")
        #expect(plain.allSatisfy { $0[1] & 0x7F == 0 && $0.count == 12 + 160 }, "PCMU toward F throughout")
        let spliceAt = try #require(toF.indices.dropFirst().first { toF[$0].marker }, "no marker bit at the splice")
        let spliceGap = toF[spliceAt].time - toF[spliceAt - 1].time
        #expect(spliceGap <= 0.040, "gap at the splice \(Int(spliceGap * 1000)) ms")
        let elsewhere = zip(toF.dropFirst(), toF).map { $0.time - $1.time }.max() ?? 0
        #expect(elsewhere < 0.060, "largest gap toward F \(Int(elsewhere * 1000)) ms")
        // After the splice F hears S's tone, transcoded from Opus.
        let after = plain[(spliceAt + 10)...].flatMap { $0[12...].map(G711.ulaw) }
        let snr = toneSNR(after, frequency: 1000, sampleRate: 8000)
        #expect(after.count > 8000 && snr > 20, "S's tone at F: \(snr) dB over \(after.count) samples")
        print("PCMU phone -> Opus speaker under SRTP: \(toF.count) packets to F, splice gap \(Int(spliceGap * 1000)) ms, largest gap \(Int(elsewhere * 1000)) ms, S's tone at F \(Int(snr)) dB")
        // S receives Opus (transcoded from F's PCMU), not PCMU.
        let toS = Self.ports(packets, from: 21000...21199, to: sRTP)
        #expect(toS.count > 50 && toS.allSatisfy { $0.pt != 0 && $0.pt >= 96 }, "S got \(Set(toS.map(\.pt)))")
        #expect(baton.stop() == 0)
        try? FileManager.default.removeItem(at: dir)
    }
}
