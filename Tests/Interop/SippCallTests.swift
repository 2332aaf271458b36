import Foundation
import Store
import Testing

/// sipp UAC -> Baton -> sipp UAS, 100 PCMU packets each way, media anchored by Baton.
@Suite(.serialized) struct SippCallTests {
    @Test func sippCallWithRTPBothWaysThroughBatonsPorts() async throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester"),
              let tcpdump = Interop.requirePeer("tcpdump", package: "tcpdump") else { return }
        let dir = try Interop.tempDir("sipp")
        for f in ["uac-rtp.xml", "uas-rtp.xml", "rtp-100.pcap"] {
            try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        let (uasSIP, uacSIP, uasRTP, uacRTP) = (26080, 26090, 30000, 30010)
        let baton = try BatonProcess(sipPort: 26060, httpPort: 28060, rtpMin: 22000, dir: dir,
                                     extra: ["--route", ".=127.0.0.1:\(uasSIP)"])
        let capture = dir.appendingPathComponent("rtp.pcap")
        let dump = try Child(tcpdump, ["-i", "lo", "-n", "-U", "-w", capture.path,
                                       "udp and (port \(uasRTP) or port \(uacRTP))"], output: dir.appendingPathComponent("tcpdump.log"))
        let ready = ContinuousClock.now + .seconds(5)
        while !dump.text.contains("listening on") && ContinuousClock.now < ready { usleep(50_000) }

        let uas = try Child(sipp, ["-sf", "uas-rtp.xml", "-i", "127.0.0.1", "-p", "\(uasSIP)", "-mi", "127.0.0.1",
                                   "-mp", "\(uasRTP)", "-m", "1", "-nostdin", "-timeout", "20s"],
                            cwd: dir, output: dir.appendingPathComponent("uas.log"))
        usleep(300_000)
        let uac = try Child(sipp, ["-sf", "uac-rtp.xml", "-i", "127.0.0.1", "-p", "\(uacSIP)", "-mi", "127.0.0.1",
                                   "-mp", "\(uacRTP)", "127.0.0.1:26060", "-s", "1000", "-m", "1", "-nostdin", "-timeout", "20s"],
                            cwd: dir, output: dir.appendingPathComponent("uac.log"))
        let uacStatus = uac.wait(timeout: .seconds(25))
        let uasStatus = uas.wait(timeout: .seconds(10))
        usleep(300_000)
        dump.signal(SIGINT)
        dump.wait(timeout: .seconds(5))
        #expect(uacStatus == 0, "sipp UAC failed:\n\(uac.text)")
        #expect(uasStatus == 0, "sipp UAS failed:\n\(uas.text)")

        // Baton's view: one ended call, hung up by the caller, 100 RTP packets each way, none lost.
        let list = try #require(try baton.json("/calls") as? [String: Any])
        let ended = try #require(list["ended"] as? [[String: Any]])
        #expect(ended.count == 1)
        let call = try #require(ended.first)
        #expect(call["hungUpBy"] as? String == "caller")
        #expect(call["answered"] != nil)
        let legs = try #require(call["legs"] as? [[String: Any]])
        let callerMedia = try #require((legs.first { $0["side"] as? String == "caller" }?["media"] as? [[String: Any]])?.first)
        let calleeMedia = try #require((legs.first { $0["side"] as? String == "callee" }?["media"] as? [[String: Any]])?.first)
        let callerPort = try #require(callerMedia["localPort"] as? Int)
        let calleePort = try #require(calleeMedia["localPort"] as? Int)
        #expect((22000...32199).contains(callerPort) && (22000...32199).contains(calleePort))
        #expect(callerMedia["latched"] as? String == "127.0.0.1:\(uacRTP)")
        #expect(calleeMedia["latched"] as? String == "127.0.0.1:\(uasRTP)")
        let cr = try #require(callerMedia["rtp"] as? [String: Any]), ce = try #require(calleeMedia["rtp"] as? [String: Any])
        #expect(cr["rxPackets"] as? Int == 100 && ce["txPackets"] as? Int == 100)
        #expect(ce["rxPackets"] as? Int == 100 && cr["txPackets"] as? Int == 100)
        #expect(cr["droppedSource"] as? Int == 0 && ce["droppedSource"] as? Int == 0)

        // The far ends' view (capture): every packet went to and came from Baton's ports, none lost.
        let flows = try PcapReader.udpFlows(capture)
        #expect(flows["\(uacRTP)>\(callerPort)"] == 100)
        #expect(flows["\(calleePort)>\(uasRTP)"] == 100)
        #expect(flows["\(uasRTP)>\(calleePort)"] == 100)
        #expect(flows["\(callerPort)>\(uacRTP)"] == 100)
        #expect(flows.keys.allSatisfy { $0.contains("\(callerPort)") || $0.contains("\(calleePort)") }, "direct media: \(flows)")

        // Ports went back to the pool, their sockets parked for the next call (media.reuse_sockets).
        #expect(try baton.metric("baton_rtp_port_pairs_in_use") == 0)
        #expect(try baton.metric("baton_rtp_port_pairs_parked") == 2)
        #expect(try baton.metric("baton_sip_requests_total{direction=\"in\",method=\"INVITE\"}") == 1)

        // A clean stop (SIGTERM, exit 0), then the call record is in the store.
        #expect(baton.stop() == 0, "baton log:\n\(baton.child.text)")
        let store = try Store(path: baton.storePath)
        let records = try await store.calls()
        #expect(records.count == 1)
        let rec = try #require(records.first)
        #expect(rec.answered != nil && rec.ended != nil && rec.hungUpBy == "caller")
        #expect(rec.callerCallID.isEmpty == false && rec.calleeCallID != nil && rec.calleeCallID != rec.callerCallID)
        try? FileManager.default.removeItem(at: dir)
    }
}
