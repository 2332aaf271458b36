import Foundation
import Testing

/// Switchovers that fail (the call must stay untouched) and the way back.
@Suite(.serialized) struct SwitchoverEdgeTests {
    /// F (sipp UAC, rtp-far.pcap) -> Baton -> P (uas-phone.xml); extra UAS peers by route.
    final class Harness {
        let dir: URL
        let baton: BatonProcess
        let dump: Child
        let sipp: String
        let capture: URL
        let fRTP: Int
        var children: [String: Child] = [:]

        init?(tag: String, sip: Int, http: Int, rtpMin: Int, fRTP: Int, routes: [(String, Int)], extra: [String] = [],
              fixtures: [String]) throws {
            guard let sipp = Interop.requirePeer("sipp", package: "sip-tester"),
                  let tcpdump = Interop.requirePeer("tcpdump", package: "tcpdump") else { return nil }
            self.sipp = sipp
            self.fRTP = fRTP
            dir = try Interop.tempDir(tag)
            for f in fixtures + ["uac-far.xml", "rtp-far.pcap", "rtp-phone.pcap", "rtp-speaker.pcap"] {
                try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent(f), to: dir.appendingPathComponent(f))
            }
            baton = try BatonProcess(sipPort: sip, httpPort: http, rtpMin: rtpMin, dir: dir,
                                     extra: routes.flatMap { ["--route", "\($0.0)=127.0.0.1:\($0.1)"] } + extra)
            capture = dir.appendingPathComponent("rtp.pcap")
            dump = try Child(tcpdump, ["-i", "lo", "-n", "-U", "-w", capture.path, "udp and dst port \(fRTP)"],
                             output: dir.appendingPathComponent("tcpdump.log"))
            let ready = ContinuousClock.now + .seconds(5)
            while !dump.text.contains("listening on") && ContinuousClock.now < ready { usleep(50_000) }
        }

        func uas(_ name: String, _ scenario: String, sip: Int, rtp: Int) throws {
            children[name] = try Child(sipp, ["-sf", scenario, "-i", "127.0.0.1", "-p", "\(sip)", "-mi", "127.0.0.1", "-mp", "\(rtp)",
                                              "-m", "1", "-nostdin", "-timeout", "30s"], cwd: dir, output: dir.appendingPathComponent("\(name).log"))
        }

        func call(fSIP: Int) throws -> String {
            usleep(300_000)
            children["far"] = try Child(sipp, ["-sf", "uac-far.xml", "-i", "127.0.0.1", "-p", "\(fSIP)", "-mi", "127.0.0.1",
                                               "-mp", "\(fRTP)", "127.0.0.1:\(baton.sipPort)", "-s", "2000", "-m", "1", "-nostdin",
                                               "-timeout", "30s"], cwd: dir, output: dir.appendingPathComponent("far.log"))
            guard let id = try baton.answeredCall() else { throw InteropError.http("the call was not answered:\n\(baton.child.text)") }
            return id
        }

        /// Requests a switchover and waits until it ends; returns the final operation.
        func switchover(_ id: String, _ body: [String: Any]) throws -> [String: Any] {
            let (code, op) = try baton.post("/calls/\(id)/switchover", json: body)
            guard code == 202, let opID = op["id"] as? String else { return ["http": code, "body": op] }
            let end = ContinuousClock.now + .seconds(10)
            var final: [String: Any] = [:]
            while ContinuousClock.now < end {
                final = (try baton.json("/switchovers/\(opID)") as? [String: Any]) ?? [:]
                if ["completed", "failed"].contains(final["state"] as? String ?? "") { break }
                usleep(50_000)
            }
            return final
        }

        /// Waits for every peer, stops the capture; returns each peer's exit status.
        func finish() -> [String: Int32?] {
            var status: [String: Int32?] = [:]
            status["far"] = children["far"]?.wait(timeout: .seconds(20))
            for (name, c) in children where name != "far" { status[name] = c.wait(timeout: .seconds(5)) }
            usleep(300_000)
            dump.signal(SIGINT)
            dump.wait(timeout: .seconds(5))
            return status
        }

        /// What F received, in order.
        func receivedByF() throws -> [SwitchoverTests.RTP] {
            try PcapReader.timedPackets(capture).filter { $0.dst == fRTP }.compactMap { SwitchoverTests.RTP(time: $0.time, $0.payload) }
        }
    }

    static func checkContinuity(_ toF: [SwitchoverTests.RTP], markers expected: Int) {
        #expect(toF.count > 250, "F received \(toF.count) packets")
        #expect(Set(toF.map(\.ssrc)) == [0x11111111])
        var breaks = 0
        for k in toF.indices.dropFirst() where toF[k].seq != toF[k - 1].seq &+ 1 { breaks += 1 }
        let gaps = SwitchoverTests.gaps(toF)
        print("switchover edge: F received \(toF.count), seq breaks \(breaks), \(gaps.text), markers \(toF.indices.filter { toF[$0].marker })")
        #expect(breaks == 0)
        #expect(gaps.splice <= 0.040, "\(gaps.text)")
        #expect(gaps.other <= SwitchoverTests.pacingAllowance, "\(gaps.text)")
        #expect(toF.filter(\.marker).count == expected)
    }

    @Test func busyOrMuteTargetsLeaveTheCallOnThePhone() async throws {
        guard let h = try Harness(tag: "switch-fail", sip: 27460, http: 29460, rtpMin: 24800, fRTP: 31900,
                                  routes: [("^busy$", 27471), ("^mute$", 27472), (".", 27480)],
                                  extra: ["--switchover-no-media-timeout-ms", "500"],
                                  fixtures: ["uas-phone.xml", "uas-busy.xml", "uas-mute.xml"]) else { return }
        try h.uas("phone", "uas-phone.xml", sip: 27480, rtp: 31910)
        try h.uas("busy", "uas-busy.xml", sip: 27471, rtp: 31920)
        try h.uas("mute", "uas-mute.xml", sip: 27472, rtp: 31930)
        let id = try h.call(fSIP: 27490)
        usleep(300_000)
        let busy = try h.switchover(id, ["target": "busy", "mode": "now"])
        #expect(busy["state"] as? String == "failed")
        #expect(busy["reason"] as? String == "486 Busy Here", "\(busy)")
        let mute = try h.switchover(id, ["target": "mute", "mode": "now"])
        #expect(mute["state"] as? String == "failed")
        #expect((mute["reason"] as? String ?? "").hasPrefix("no RTP from the target"), "\(mute)")
        #expect((mute["events"] as? [[String: Any]])?.map { $0["kind"] as? String ?? "" } == ["requested", "ringing", "answered", "failed"])
        // The call is still on P: F's stream goes on untouched, the new legs' ports are back.
        #expect(try h.baton.metric("baton_rtp_port_pairs_in_use") == 2)
        let status = h.finish()
        #expect(status["far"] == 0, "\(h.children["far"]?.text ?? "")")
        #expect(status["phone"] == 0, "P gets F's BYE at the end:\n\(h.children["phone"]?.text ?? "")")
        #expect(status["busy"] == 0 && status["mute"] == 0, "mute gets Baton's BYE:\n\(h.children["mute"]?.text ?? "")")
        Self.checkContinuity(try h.receivedByF(), markers: 1)
        #expect(h.baton.stop() == 0)
        try? FileManager.default.removeItem(at: h.dir)
    }

    /// Several gateways on one PostgreSQL (issue 21): a switchover asked of gateway B for a
    /// call gateway A anchors is carried to A (HTTP forwarding), runs there, and the far party
    /// hears no gap, the same checks as a switchover asked of A itself.
    @Test func aSwitchoverAskedOfAnotherGatewayMovesTheCall() async throws {
        guard let pg = try SharedStoreTests.cluster("switch-remote") else { return }
        defer { pg.stop() }
        guard let h = try Harness(tag: "switch-remote", sip: 27960, http: 29960, rtpMin: 26800, fRTP: 32400,
                                  routes: [("^speaker$", 27971), (".", 27980)], extra: ["--store-url", pg.url],
                                  fixtures: ["uas-phone.xml", "uas-speaker.xml"]) else { return }
        let bDir = h.dir.appendingPathComponent("gw-b")
        try FileManager.default.createDirectory(at: bDir, withIntermediateDirectories: true)
        let b = try BatonProcess(sipPort: 27965, httpPort: 29965, rtpMin: 27000, dir: bDir, extra: ["--store-url", pg.url])
        defer { _ = b.stop() }
        try h.uas("phone", "uas-phone.xml", sip: 27980, rtp: 32410)
        try h.uas("speaker", "uas-speaker.xml", sip: 27971, rtp: 32420)
        let id = try h.call(fSIP: 27990)
        usleep(500_000)
        #expect(try "\(b.json("/calls"))".contains(id) == false, "B does not hold the call itself")
        let (code, op) = try b.post("/calls/\(id)/switchover", json: ["target": "speaker", "mode": "now"])
        #expect(code == 202, "B did not carry the switchover to A: \(code) \(op)")
        var final: [String: Any] = [:]
        let done = waitUntil(.seconds(10)) {
            final = ((try? b.json("/calls/\(id)/switchovers")) as? [[String: Any]])?.last ?? [:]
            return ["completed", "failed"].contains(final["state"] as? String ?? "")
        }
        #expect(done && final["state"] as? String == "completed", "\(final)")
        let status = h.finish()
        #expect(status["far"] == 0, "\(h.children["far"]?.text ?? "")")
        #expect(status["phone"] == 0 && status["speaker"] == 0)
        Self.checkContinuity(try h.receivedByF(), markers: 2)
        #expect(h.baton.stop() == 0)
        try? FileManager.default.removeItem(at: h.dir)
    }

    @Test func phoneToSpeakerAndBack() async throws {
        guard let h = try Harness(tag: "switch-back", sip: 27560, http: 29560, rtpMin: 25000, fRTP: 32000,
                                  routes: [("^speaker$", 27571), ("^phone2$", 27572), (".", 27580)],
                                  fixtures: ["uas-phone.xml", "uas-speaker.xml", "uas-phone2.xml"]) else { return }
        try h.uas("phone", "uas-phone.xml", sip: 27580, rtp: 32010)
        try h.uas("speaker", "uas-speaker.xml", sip: 27571, rtp: 32020)
        try h.uas("phone2", "uas-phone2.xml", sip: 27572, rtp: 32030)
        let id = try h.call(fSIP: 27590)
        usleep(500_000)
        let there = try h.switchover(id, ["target": "speaker", "mode": "now"])
        #expect(there["state"] as? String == "completed", "\(there)")
        usleep(1_000_000)
        let back = try h.switchover(id, ["target": "phone2", "mode": "now"])
        #expect(back["state"] as? String == "completed", "\(back)")
        let status = h.finish()
        #expect(status["far"] == 0, "\(h.children["far"]?.text ?? "")")
        #expect(status["phone"] == 0 && status["speaker"] == 0 && status["phone2"] == 0)
        Self.checkContinuity(try h.receivedByF(), markers: 3)
        #expect(try h.baton.metric("baton_rtp_port_pairs_in_use") == 0)
        #expect(h.baton.stop() == 0)
        try? FileManager.default.removeItem(at: h.dir)
    }

    @Test func moveToMySpeakerPicksTheRegisteredFreeSpeaker() async throws {
        guard let h = try Harness(tag: "switch-speaker", sip: 27660, http: 29660, rtpMin: 25200, fRTP: 32100,
                                  routes: [(".", 27680)], fixtures: ["uas-phone.xml", "uas-speaker.xml", "reg-speaker.xml"]) else { return }
        // alice's phone (the callee, AOR 2000@127.0.0.1) and two speakers; only the kitchen registers.
        let put = { (id: String, body: [String: Any]) throws -> Int in
            try h.baton.request("PUT", "/users/alice/devices/\(id)", body: try JSONSerialization.data(withJSONObject: body)).0
        }
        #expect(try put("mobile", ["aor": "2000@127.0.0.1", "kind": "phone"]) == 200)
        #expect(try put("bedroom", ["aor": "bedroom@127.0.0.1", "kind": "speaker", "priority": 0]) == 200)
        #expect(try put("kitchen", ["aor": "kitchen@127.0.0.1", "kind": "speaker", "priority": 1]) == 200)
        #expect(try put("bad", ["aor": "nohost", "kind": "speaker"]) == 400)
        #expect(try put("bad", ["aor": "x@y", "kind": "toaster"]) == 400)
        let reg = try Child(h.sipp, ["-sf", "reg-speaker.xml", "-i", "127.0.0.1", "-p", "27671", "127.0.0.1:27660", "-s", "kitchen",
                                     "-m", "1", "-nostdin", "-timeout", "10s"], cwd: h.dir, output: h.dir.appendingPathComponent("reg.log"))
        #expect(reg.wait(timeout: .seconds(10)) == 0, "\(reg.text)")
        let speakers = try #require(try h.baton.json("/users/alice/speakers") as? [[String: Any]])
        let seen: [String] = speakers.map { s in
            let device = s["device"] as? [String: Any]
            return "\(device?["id"] as? String ?? "?"):\(s["registered"] as? Bool ?? false)"
        }
        #expect(seen == ["bedroom:false", "kitchen:true"])
        try h.uas("phone", "uas-phone.xml", sip: 27680, rtp: 32110)
        try h.uas("kitchen", "uas-speaker.xml", sip: 27671, rtp: 32120)
        let id = try h.call(fSIP: 27690)
        usleep(500_000)
        // The bedroom speaker by its device id: known but not registered.
        let (code, body) = try h.baton.post("/calls/\(id)/switchover", json: ["target": "bedroom"])
        #expect(code == 404 && "\(body)".contains("not registered"), "\(body)")
        let op = try h.switchover(id, ["target": "speaker", "mode": "now"])
        #expect(op["state"] as? String == "completed", "\(op)")
        #expect((op["target"] as? String ?? "").contains("kitchen@127.0.0.1:27671"), "\(op)")
        let status = h.finish()
        #expect(status["far"] == 0 && status["phone"] == 0 && status["kitchen"] == 0, "\(h.children["kitchen"]?.text ?? "")")
        Self.checkContinuity(try h.receivedByF(), markers: 2)
        #expect(try h.baton.request("DELETE", "/users/alice/devices/bedroom").0 == 204)
        #expect(try h.baton.request("DELETE", "/users/alice/devices/bedroom").0 == 404)
        #expect(h.baton.stop() == 0)
        try? FileManager.default.removeItem(at: h.dir)
    }

    /// Bot -> human with the bot as the caller: the caller side moves (Baton was the bot's
    /// UAS; the agent's leg is Baton's UAC), the far party is the callee.
    @Test func callerSideMovesBotToAgent() async throws {
        guard let h = try Harness(tag: "switch-caller", sip: 27860, http: 29860, rtpMin: 25400, fRTP: 32300,
                                  routes: [("^agent$", 27871), (".", 27880)],
                                  fixtures: ["uas-far-bye.xml", "uac-phone.xml", "uas-speaker.xml"]) else { return }
        try h.uas("far", "uas-far-bye.xml", sip: 27880, rtp: 32300)
        try h.uas("agent", "uas-speaker.xml", sip: 27871, rtp: 32320)
        usleep(300_000)
        h.children["bot"] = try Child(h.sipp, ["-sf", "uac-phone.xml", "-i", "127.0.0.1", "-p", "27890", "-mi", "127.0.0.1",
                                               "-mp", "32310", "127.0.0.1:27860", "-s", "2000", "-m", "1", "-nostdin", "-timeout", "30s"],
                                      cwd: h.dir, output: h.dir.appendingPathComponent("bot.log"))
        let id = try #require(try h.baton.answeredCall())
        usleep(500_000)
        let op = try h.switchover(id, ["target": "agent", "leg": "caller", "mode": "silence", "window_ms": 3000])
        #expect(op["state"] as? String == "completed", "\(op)")
        #expect(op["leg"] as? String == "caller")
        let status = h.finish()
        #expect(status["far"] == 0, "F hangs up at the end:\n\(h.children["far"]?.text ?? "")")
        #expect(status["bot"] == 0, "the bot gets Baton's BYE:\n\(h.children["bot"]?.text ?? "")")
        #expect(status["agent"] == 0, "the agent gets F's BYE:\n\(h.children["agent"]?.text ?? "")")
        Self.checkContinuity(try h.receivedByF(), markers: 2)
        let ended = try #require(((try h.baton.json("/calls") as? [String: Any])?["ended"] as? [[String: Any]])?.first)
        #expect(ended["hungUpBy"] as? String == "callee")
        let caller = (ended["legs"] as? [[String: Any]])?.first { $0["side"] as? String == "caller" }
        #expect(((caller?["media"] as? [[String: Any]])?.first?["latched"] as? String) == "127.0.0.1:32320", "the caller leg is the agent's now")
        #expect(h.baton.stop() == 0)
        try? FileManager.default.removeItem(at: h.dir)
    }
}
