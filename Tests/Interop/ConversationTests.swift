import Foundation
import Testing

/// Bot -> human decided by Baton (issue 20): a sipp caller talks to a sipp bot through
/// Baton; the bot's application reports three no-matches, a conversation rule types the
/// call "frustrated" and chooses the specialists' category; Baton transfers the caller to
/// the registered baresip agent of that skill with the call key in the INVITE, and the
/// caller's stream keeps one SSRC and continuous sequence numbers across the handover. A
/// second call asks for a person whose category has nobody: the fallback records a callback
/// and the bot keeps the call. A third caller presses 0 (RFC 4733): Baton sees the digit in
/// the media and hands that caller over too. A fourth caller says "I want to talk to an agent"
/// to the demo voicebot: Baton's keyword spotter hears it and hands that caller over. Each
/// decision, with its rule and signals, is in the API.
@Suite(.serialized) struct ConversationTests {
    @Test func threeNoMatchesSendTheCallerToASpecialistAndNobodyFreeGivesACallback() throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester"),
              let baresip = Interop.requirePeer("baresip", package: "baresip-core"),
              let tcpdump = Interop.requirePeer("tcpdump", package: "tcpdump"),
              Interop.requirePeer("flite", package: "flite") != nil else { return }
        let dir = try Interop.tempDir("conversation")
        // The speaking caller's audio: synthetic speech through the telephone band.
        let pcap = try Child("/usr/bin/python3", [Interop.packageRoot.appendingPathComponent("tools/bench/kws/speech_pcap.py").path,
                                                  dir.appendingPathComponent("speech.pcap").path, "I want to talk to an agent"],
                             output: dir.appendingPathComponent("speech-pcap.log"))
        #expect(pcap.wait(timeout: .seconds(30)) == 0, "speech_pcap.py:\n\(pcap.text)")
        for f in ["uac-caller.xml", "uac-caller-speech.xml", "uas-phone.xml", "uac-caller-dtmf.xml", "uas-bot-dtmf.xml", "rtp-far.pcap", "rtp-phone.pcap"] {
            try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        let (botSIP, agentSIP, callerSIP, callerRTP) = (32910, 32920, 32930, 32980)
        let baton = try BatonProcess(sipPort: 27150, httpPort: 29150, rtpMin: 28300, dir: dir, config: """
            [conversation]
            fallback = "callback"
            [[conversation.rules]]
            name = "pressed zero"
            type = "human-request"
            when = ["dtmf:0 >= 1"]
            channel = "category:specialists"
            [[conversation.rules]]
            name = "said agent"
            type = "human-request"
            when = ["keyword:agent >= 1"]
            channel = "category:specialists"
            [[conversation.rules]]
            name = "asked for a person"
            type = "human-request"
            when = ["human_request >= 1"]
            channel = "category:nightshift"
            [[conversation.rules]]
            name = "not understood"
            type = "frustrated"
            when = ["no_match >= 3"]
            channel = "category:specialists"
            """, extra: ["--route", "^bot$=127.0.0.1:\(botSIP)", "--route", "^dtmfbot$=127.0.0.1:\(botSIP + 5)",
                       "--route", "^botspeech$=127.0.0.1:\(botSIP + 7)"])
        defer { _ = baton.stop() }
        for (id, name) in [("specialists", "Specialists"), ("nightshift", "Night shift")] {
            let (c, _) = try baton.request("PUT", "/categories/\(id)", body: try JSONSerialization.data(withJSONObject: ["name": name]))
            #expect(c == 200)
        }
        let (putCode, _) = try baton.request("PUT", "/agents/spec1", body: try JSONSerialization.data(withJSONObject: [
            "name": "Sam Specialist", "aor": "spec1@127.0.0.1", "skills": ["specialists"]]))
        #expect(putCode == 200)
        let tone = dir.appendingPathComponent("tone.wav")
        try BaresipCallTests.writeTone(tone, seconds: 30)
        try BaresipCallTests.configure(dir.appendingPathComponent("agent"), sip: agentSIP, rtp: 32940...32959, tone: tone,
                                       account: "<sip:spec1@127.0.0.1:\(baton.sipPort)>;regint=60;answermode=auto;audio_codecs=PCMU")
        let capture = dir.appendingPathComponent("capture.pcap")
        let dump = try Child(tcpdump, ["-i", "lo", "-n", "-U", "-s", "0", "-w", capture.path,
                                       "udp and (dst port \(agentSIP) or dst port \(callerRTP) or dst port \(callerRTP + 30))"],
                             output: dir.appendingPathComponent("tcpdump.log"))
        defer { dump.signal(SIGKILL) }
        let ready = ContinuousClock.now + .seconds(5)
        while !dump.text.contains("listening on") && ContinuousClock.now < ready { usleep(50_000) }
        let agent = try Child(baresip, ["-f", dir.appendingPathComponent("agent").path, "-t", "40"], output: dir.appendingPathComponent("agent.log"))
        defer { agent.signal(SIGKILL) }
        let regEnd = ContinuousClock.now + .seconds(10)
        var available = false
        while ContinuousClock.now < regEnd, !available {
            let a = (try? baton.json("/agents/spec1")) as? [String: Any]
            available = ((a?["logins"] as? [String: Any])?["sip-phone"] as? [String: Any])?["state"] as? String == "logged-in"
            if !available { usleep(100_000) }
        }
        #expect(available, "the agent never registered:\n\(agent.text)")

        // Call 1: three no-matches -> frustrated -> a specialist.
        let bot = try Child(sipp, ["-sf", "uas-phone.xml", "-i", "127.0.0.1", "-p", "\(botSIP)", "-mi", "127.0.0.1", "-mp", "32970",
                                   "-m", "2", "-nostdin", "-timeout", "40s"], cwd: dir, output: dir.appendingPathComponent("bot.log"))
        defer { bot.signal(SIGKILL) }
        usleep(300_000)
        let caller = try Child(sipp, ["-sf", "uac-caller.xml", "-i", "127.0.0.1", "-p", "\(callerSIP)", "-mi", "127.0.0.1",
                                      "-mp", "\(callerRTP)", "-s", "bot", "-d", "12000", "-m", "1", "-nostdin", "-timeout", "40s",
                                      "127.0.0.1:\(baton.sipPort)"], cwd: dir, output: dir.appendingPathComponent("caller.log"))
        defer { caller.signal(SIGKILL) }
        let call = try #require(try baton.answeredCall(), "the bot did not answer:\n\(baton.child.text)")
        usleep(1_000_000)   // the caller hears the bot for a while before the handover
        var decision: [String: Any]?
        for turn in 1...3 {
            let (code, body) = try baton.post("/calls/\(call)/dialog", json: ["noMatch": true, "intent": "fallback",
                                                                              "transcript": "mumble \(turn)"])
            #expect(code == 200, "\(body)")
            if turn < 3 { #expect(body["decision"] == nil, "decided after \(turn) no-matches: \(body)") }
            decision = body["decision"] as? [String: Any]
        }
        let d = try #require(decision, "three no-matches made no decision")
        #expect(d["type"] as? String == "frustrated" && d["rule"] as? String == "not understood")
        #expect(d["channel"] as? String == "category:specialists")
        #expect((d["signals"] as? [String: Double])?["no_match"] == 3)
        #expect((d["outcome"] as? String)?.contains("transferred to spec1@127.0.0.1") == true, "\(d)")
        // The transfer completes; the decision is in the API.
        var op: [String: Any] = [:]
        let opEnd = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < opEnd {
            op = ((try? baton.json("/calls/\(call)/switchovers")) as? [[String: Any]])?.last ?? [:]
            if ["completed", "failed"].contains(op["state"] as? String ?? "") { break }
            usleep(100_000)
        }
        #expect(op["state"] as? String == "completed" && op["kind"] as? String == "transfer", "\(op)\n\(agent.text)")
        let view = try #require(try baton.json("/calls/\(call)/dialog") as? [String: Any])
        #expect((view["decision"] as? [String: Any])?["type"] as? String == "frustrated")
        #expect((view["records"] as? [Any])?.count == 3)
        #expect(caller.wait(timeout: .seconds(25)) == 0, "caller:\n\(caller.text)")

        // Call 2: a request for a person, whose category has nobody: a callback, the bot keeps the call.
        let caller2 = try Child(sipp, ["-sf", "uac-caller.xml", "-i", "127.0.0.1", "-p", "\(callerSIP + 1)", "-mi", "127.0.0.1",
                                       "-mp", "\(callerRTP + 10)", "-s", "bot", "-d", "3000", "-m", "1", "-nostdin", "-timeout", "30s",
                                       "127.0.0.1:\(baton.sipPort)"], cwd: dir, output: dir.appendingPathComponent("caller2.log"))
        defer { caller2.signal(SIGKILL) }
        let call2 = try #require(try baton.answeredCall(), "the bot did not answer the second call")
        #expect(call2 != call)
        let (code2, body2) = try baton.post("/calls/\(call2)/dialog", json: ["humanRequested": true, "transcript": "a person please"])
        #expect(code2 == 200)
        let d2 = try #require(body2["decision"] as? [String: Any], "\(body2)")
        #expect(d2["type"] as? String == "human-request" && d2["channel"] as? String == "category:nightshift")
        #expect((d2["outcome"] as? String)?.contains("fallback callback: callback recorded for sipp@127.0.0.1;") == true, "\(d2)")
        #expect(caller2.wait(timeout: .seconds(15)) == 0, "the bot kept the call to its normal end:\n\(caller2.text)")
        #expect(((try baton.json("/calls/\(call2)/switchovers")) as? [Any])?.isEmpty == true, "no transfer was tried with nobody there")

        // Call 3: the caller presses 0 (RFC 4733): Baton sees it in the media and hands the caller over.
        let dtmfBot = try Child(sipp, ["-sf", "uas-bot-dtmf.xml", "-i", "127.0.0.1", "-p", "\(botSIP + 5)", "-mi", "127.0.0.1",
                                       "-mp", "32990", "-m", "1", "-nostdin", "-timeout", "30s"], cwd: dir, output: dir.appendingPathComponent("bot3.log"))
        defer { dtmfBot.signal(SIGKILL) }
        usleep(300_000)
        let caller3 = try Child(sipp, ["-sf", "uac-caller-dtmf.xml", "-i", "127.0.0.1", "-p", "\(callerSIP + 2)", "-mi", "127.0.0.1",
                                       "-mp", "\(callerRTP + 20)", "-s", "dtmfbot", "-d", "6000", "-m", "1", "-nostdin", "-timeout", "30s",
                                       "127.0.0.1:\(baton.sipPort)"], cwd: dir, output: dir.appendingPathComponent("caller3.log"))
        defer { caller3.signal(SIGKILL) }
        var call3: String?
        let c3End = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < c3End, call3 == nil {
            let active = (try? baton.json("/calls") as? [String: Any])?["active"] as? [[String: Any]]
            call3 = active?.first { $0["state"] as? String == "answered" && $0["id"] as? String != call2 }?["id"] as? String
            if call3 == nil { usleep(50_000) }
        }
        let id3 = try #require(call3, "the DTMF bot did not answer:\n\(caller3.text)")
        var d3: [String: Any]?
        let dEnd = ContinuousClock.now + .seconds(8)
        // The decision shows at once; its outcome once the transfer has been tried.
        while ContinuousClock.now < dEnd, d3?["outcome"] == nil {
            d3 = ((try? baton.json("/calls/\(id3)/dialog")) as? [String: Any])?["decision"] as? [String: Any]
            if d3?["outcome"] == nil { usleep(100_000) }
        }
        let decided = try #require(d3, "pressing 0 decided nothing:\n\(caller3.text)")
        #expect(decided["rule"] as? String == "pressed zero" && (decided["signals"] as? [String: Double])?["dtmf:0"] == 1, "\(decided)")
        #expect((decided["outcome"] as? String)?.contains("transferred to spec1@127.0.0.1") == true, "\(decided)")
        #expect(caller3.wait(timeout: .seconds(15)) == 0, "caller 3:\n\(caller3.text)")

        // Call 4: the caller says "I want to talk to an agent" (synthetic speech, telephone
        // band) to the demo voicebot (tools/demobot: libortp, espeak-ng prompts): Baton's
        // keyword spotter hears "agent" in the caller's audio and hands over; the bot's leg
        // is released with a BYE.
        let speechBot = try Child(Interop.demoBotBinary, ["--sip-port", "\(botSIP + 7)", "--rtp-port", "32996",
                                                          "--baton", "http://127.0.0.1:\(baton.httpPort)", "--calls", "1"],
                                  output: dir.appendingPathComponent("bot4.log"))
        defer { speechBot.signal(SIGKILL) }
        let botUp = ContinuousClock.now + .seconds(10)
        while !speechBot.text.contains("listening on") && ContinuousClock.now < botUp { usleep(50_000) }
        let caller4 = try Child(sipp, ["-sf", "uac-caller-speech.xml", "-i", "127.0.0.1", "-p", "\(callerSIP + 3)", "-mi", "127.0.0.1",
                                       "-mp", "\(callerRTP + 30)", "-s", "botspeech", "-d", "10000", "-m", "1", "-nostdin", "-timeout", "30s",
                                       "127.0.0.1:\(baton.sipPort)"], cwd: dir, output: dir.appendingPathComponent("caller4.log"))
        defer { caller4.signal(SIGKILL) }
        var call4: String?
        let c4End = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < c4End, call4 == nil {
            let active = (try? baton.json("/calls") as? [String: Any])?["active"] as? [[String: Any]]
            call4 = active?.first { $0["state"] as? String == "answered" && ![call2, id3].contains($0["id"] as? String) }?["id"] as? String
            if call4 == nil { usleep(50_000) }
        }
        let id4 = try #require(call4, "the bot did not answer the speaking caller:\n\(caller4.text)")
        var d4: [String: Any]?
        let d4End = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < d4End, d4?["outcome"] == nil {
            d4 = ((try? baton.json("/calls/\(id4)/dialog")) as? [String: Any])?["decision"] as? [String: Any]
            if d4?["outcome"] == nil { usleep(100_000) }
        }
        let heard = try #require(d4, "saying 'agent' decided nothing: \(String(describing: try? baton.json("/calls/\(id4)/dialog")))")
        #expect(heard["rule"] as? String == "said agent" && (heard["signals"] as? [String: Double])?["keyword:agent"] == 1, "\(heard)")
        #expect((heard["outcome"] as? String)?.contains("transferred to spec1@127.0.0.1") == true, "\(heard)")
        let summary4 = ((try? baton.json("/calls/\(id4)/dialog")) as? [String: Any])?["summary"] as? [String: Any]
        #expect((summary4?["keywords"] as? [String])?.contains("agent") == true, "\(String(describing: summary4))")
        #expect(((summary4?["media"] as? [String: Any])?["callerTalk"] as? Double ?? 0) > 0.5, "the caller's talk was measured: \(String(describing: summary4))")
        #expect(caller4.wait(timeout: .seconds(20)) == 0, "caller 4:\n\(caller4.text)")
        #expect(speechBot.wait(timeout: .seconds(5)) == 0 && speechBot.text.contains("ended by BYE"),
                "the demo bot answered, spoke and was released:\n\(speechBot.text)")
        #expect(((summary4?["media"] as? [String: Any])?["otherTalk"] as? Double ?? 0) > 1, "the bot's greeting was heard: \(String(describing: summary4))")

        // What callers 1 and 4 received: one SSRC, sequence numbers without a jump at the handover.
        usleep(300_000)
        dump.signal(SIGINT)
        dump.wait(timeout: .seconds(5))
        let packets = try PcapReader.timedPackets(capture)
        for (port, least) in [(callerRTP, 300), (callerRTP + 30, 200)] {
            let toCaller = MediaBridgeTests.ports(packets, to: port...port)
            #expect(toCaller.count > least, "the caller on \(port) got \(toCaller.count) packets")
            #expect(Set(toCaller.map(\.ssrc)).count == 1, "one SSRC toward the caller on \(port) across the handover")
            let jumps = zip(toCaller.dropFirst(), toCaller).filter { $0.seq &- $1.seq != 1 }
            #expect(jumps.isEmpty, "sequence jumps toward the caller on \(port): \(jumps.prefix(3).map { "\($1.seq)->\($0.seq)" })")
        }
        let invites = try PcapReader.packets(capture).map { String(decoding: $0.payload, as: UTF8.self) }.filter { $0.hasPrefix("INVITE ") }
        let invite = try #require(invites.first, "no INVITE reached the agent")
        #expect(invite.contains("X-Call-Key: "), "\(invite)")
        try? FileManager.default.removeItem(at: dir)
    }

    /// The demo voicebot on its own: a caller says two things it does not understand; the
    /// bot hears two turns (talk, then silence) and reports each to Baton as a no-match; the
    /// second makes a rule choose the callback, the bot keeps the call to its end.
    @Test func theDemoBotReportsEachTurnItDidNotUnderstand() throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester"),
              Interop.requirePeer("flite", package: "flite") != nil,
              Interop.requirePeer("espeak-ng", package: "espeak-ng") != nil else { return }
        let dir = try Interop.tempDir("demobot")
        let pcap = try Child("/usr/bin/python3", [Interop.packageRoot.appendingPathComponent("tools/bench/kws/speech_pcap.py").path,
                                                  dir.appendingPathComponent("speech.pcap").path, "what is my account balance",
                                                  "my internet is not working", "--lead", "4", "--gap", "4", "--seconds", "16"],
                             output: dir.appendingPathComponent("speech-pcap.log"))
        #expect(pcap.wait(timeout: .seconds(30)) == 0, "speech_pcap.py:\n\(pcap.text)")
        try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent("uac-caller-speech.xml"),
                                         to: dir.appendingPathComponent("uac-caller-speech.xml"))
        let baton = try BatonProcess(sipPort: 27160, httpPort: 29160, rtpMin: 28400, dir: dir, config: """
            [[conversation.rules]]
            name = "twice not understood"
            type = "frustrated"
            when = ["no_match >= 2"]
            channel = "callback"
            """, extra: ["--route", "^bot$=127.0.0.1:33010"])
        defer { _ = baton.stop() }
        let bot = try Child(Interop.demoBotBinary, ["--sip-port", "33010", "--rtp-port", "33012",
                                                    "--baton", "http://127.0.0.1:\(baton.httpPort)", "--calls", "1"],
                            output: dir.appendingPathComponent("bot.log"))
        defer { bot.signal(SIGKILL) }
        let up = ContinuousClock.now + .seconds(10)
        while !bot.text.contains("listening on") && ContinuousClock.now < up { usleep(50_000) }
        let caller = try Child(sipp, ["-sf", "uac-caller-speech.xml", "-i", "127.0.0.1", "-p", "33020", "-mi", "127.0.0.1",
                                      "-mp", "33030", "-s", "bot", "-d", "17000", "-m", "1", "-nostdin", "-timeout", "40s",
                                      "127.0.0.1:\(baton.sipPort)"], cwd: dir, output: dir.appendingPathComponent("caller.log"))
        defer { caller.signal(SIGKILL) }
        let call = try #require(try baton.answeredCall(), "the demo bot did not answer:\n\(bot.text)")
        #expect(caller.wait(timeout: .seconds(30)) == 0, "caller:\n\(caller.text)")
        #expect(bot.wait(timeout: .seconds(5)) == 0 && bot.text.contains("ended by BYE after 2 turns"), "\(bot.text)")
        let view = try #require(try baton.json("/calls/\(call)/dialog") as? [String: Any])
        let records = (view["records"] as? [[String: Any]])?.compactMap { $0["report"] as? [String: Any] } ?? []
        #expect(records.count == 2 && records.allSatisfy { $0["noMatch"] as? Bool == true }, "\(records)")
        #expect((records.last?["transcript"] as? String)?.contains("turn 2") == true)
        let d = try #require(view["decision"] as? [String: Any], "\(view)")
        #expect(d["rule"] as? String == "twice not understood" && (d["signals"] as? [String: Double])?["no_match"] == 2, "\(d)")
        #expect((d["outcome"] as? String)?.contains("callback recorded for sipp@127.0.0.1") == true, "\(d)")
        let media = (view["summary"] as? [String: Any])?["media"] as? [String: Any]
        #expect((media?["callerTalk"] as? Double ?? 0) > 2 && (media?["otherTalk"] as? Double ?? 0) > 2, "both sides' talk measured: \(String(describing: media))")
        try? FileManager.default.removeItem(at: dir)
    }

    /// In-band DTMF: a caller whose phone sends digits as tones in the audio (no RFC 4733)
    /// presses 0; spandsp's receiver in Baton's listener finds it and the `dtmf:0` rule
    /// decides, as for an RFC 4733 digit.
    @Test func anInBandZeroIsHeardInTheAudio() throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester"),
              Interop.requirePeer("espeak-ng", package: "espeak-ng") != nil else { return }
        let dir = try Interop.tempDir("inband")
        let pcap = try Child("/usr/bin/python3", [Interop.packageRoot.appendingPathComponent("tools/bench/kws/speech_pcap.py").path,
                                                  dir.appendingPathComponent("speech.pcap").path, "--dtmf", "0", "--lead", "3", "--seconds", "6"],
                             output: dir.appendingPathComponent("speech-pcap.log"))
        #expect(pcap.wait(timeout: .seconds(30)) == 0, "speech_pcap.py:\n\(pcap.text)")
        try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent("uac-caller-speech.xml"),
                                         to: dir.appendingPathComponent("uac-caller-speech.xml"))
        let baton = try BatonProcess(sipPort: 27170, httpPort: 29170, rtpMin: 28500, dir: dir, config: """
            [[conversation.rules]]
            name = "pressed zero"
            type = "human-request"
            when = ["dtmf:0 >= 1"]
            channel = "callback"
            """, extra: ["--route", "^bot$=127.0.0.1:33040"])
        defer { _ = baton.stop() }
        let bot = try Child(Interop.demoBotBinary, ["--sip-port", "33040", "--rtp-port", "33042",
                                                    "--baton", "http://127.0.0.1:\(baton.httpPort)", "--calls", "1"],
                            output: dir.appendingPathComponent("bot.log"))
        defer { bot.signal(SIGKILL) }
        let up = ContinuousClock.now + .seconds(10)
        while !bot.text.contains("listening on") && ContinuousClock.now < up { usleep(50_000) }
        let caller = try Child(sipp, ["-sf", "uac-caller-speech.xml", "-i", "127.0.0.1", "-p", "33050", "-mi", "127.0.0.1",
                                      "-mp", "33060", "-s", "bot", "-d", "7000", "-m", "1", "-nostdin", "-timeout", "30s",
                                      "127.0.0.1:\(baton.sipPort)"], cwd: dir, output: dir.appendingPathComponent("caller.log"))
        defer { caller.signal(SIGKILL) }
        let call = try #require(try baton.answeredCall(), "the demo bot did not answer:\n\(bot.text)")
        #expect(caller.wait(timeout: .seconds(20)) == 0, "caller:\n\(caller.text)")
        let view = try #require(try baton.json("/calls/\(call)/dialog") as? [String: Any])
        #expect((view["summary"] as? [String: Any])?["dtmf"] as? String == "0", "\(view)")
        let d = try #require(view["decision"] as? [String: Any], "\(view)")
        #expect(d["rule"] as? String == "pressed zero" && (d["signals"] as? [String: Double])?["dtmf:0"] == 1, "\(d)")
        try? FileManager.default.removeItem(at: dir)
    }

    /// Rules set over the API outlive a restart (store), and a configuration file changed
    /// after them wins at the next start.
    @Test func rulesSetOverTheAPISurviveARestart() throws {
        let dir = try Interop.tempDir("rules-restart")
        let fileRules = """
            [[conversation.rules]]
            name = "from the file"
            type = "frustrated"
            when = ["no_match >= 3"]
            channel = "callback"
            """
        var baton = try BatonProcess(sipPort: 27180, httpPort: 29180, rtpMin: 28600, dir: dir, config: fileRules)
        let names = { (b: BatonProcess) in ((try? b.json("/conversation-rules")) as? [[String: Any]])?.compactMap { $0["name"] as? String } }
        #expect(names(baton) == ["from the file"])
        let put = try JSONSerialization.data(withJSONObject: [["name": "from the API", "type": "fraud", "when": ["keyword:fraud >= 1"], "channel": "callback"]])
        let (code, _) = try baton.request("PUT", "/conversation-rules", body: put)
        #expect(code == 200)
        // A bad list is refused and changes nothing, in memory or stored.
        let bad = try JSONSerialization.data(withJSONObject: [["name": "x", "type": "t", "when": ["no_such_signal >= 1"], "channel": "bot"]])
        #expect(try baton.request("PUT", "/conversation-rules", body: bad).0 == 400)
        _ = baton.stop()
        let file = dir.appendingPathComponent("baton-27180.toml")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: file.path)
        baton = try BatonProcess(sipPort: 27180, httpPort: 29180, rtpMin: 28600, dir: dir, configFile: file)
        #expect(names(baton) == ["from the API"], "the stored rules are newer than the file")
        _ = baton.stop()
        // The file edited after the PUT: its rules win.
        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: file.path)
        baton = try BatonProcess(sipPort: 27180, httpPort: 29180, rtpMin: 28600, dir: dir, configFile: file)
        defer { _ = baton.stop() }
        #expect(names(baton) == ["from the file"], "the file changed after the stored rules")
        try? FileManager.default.removeItem(at: dir)
    }
}
