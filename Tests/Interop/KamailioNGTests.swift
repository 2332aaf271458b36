import Foundation
import Store
import Testing

/// Kamailio (rtpengine module) proxies a sipp call; Baton anchors its media through ng.
@Suite(.serialized) struct KamailioNGTests {
    @Test func kamailioDrivesBatonAsItsRtpengine() throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester"),
              let kamailio = Interop.requirePeer("kamailio", package: "kamailio"),
              let tcpdump = Interop.requirePeer("tcpdump", package: "tcpdump") else { return }
        let dir = try Interop.tempDir("kamailio")
        defer { try? FileManager.default.removeItem(at: dir) }
        for f in ["uac-rtp.xml", "uas-rtp.xml", "rtp-100.pcap"] {
            try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        let (kamPort, uasSIP, uacSIP, uasRTP, uacRTP) = (26570, 26580, 26590, 30200, 30210)
        // Baton as the media anchor only: its SIP side is not in this call.
        let baton = try BatonProcess(sipPort: 26560, httpPort: 28560, rtpMin: 23600, dir: dir)
        let kam = try KamailioProcess(kamailio, template: Interop.fixtures.appendingPathComponent("kamailio.cfg"),
                                      values: ["KAM_PORT": "\(kamPort)", "NG_PORT": "\(baton.ngPort)", "UAS_PORT": "\(uasSIP)"], dir: dir)
        defer { kam.stop() }
        let up = ContinuousClock.now + .seconds(10)
        while !kam.text.contains("rtpengine") && kam.isRunning && ContinuousClock.now < up { usleep(100_000) }
        usleep(500_000)
        #expect(kam.isRunning, "kamailio did not start:\n\(kam.text)")

        let capture = dir.appendingPathComponent("rtp.pcap")
        let dump = try Child(tcpdump, ["-i", "lo", "-n", "-U", "-w", capture.path, "udp and (port \(uasRTP) or port \(uacRTP) or dst port \(uasSIP))"],
                             output: dir.appendingPathComponent("tcpdump.log"))
        let ready = ContinuousClock.now + .seconds(5)
        while !dump.text.contains("listening on") && ContinuousClock.now < ready { usleep(50_000) }
        let uas = try Child(sipp, ["-sf", "uas-rtp.xml", "-i", "127.0.0.1", "-p", "\(uasSIP)", "-mi", "127.0.0.1", "-mp", "\(uasRTP)",
                                   "-m", "1", "-nostdin", "-timeout", "20s"],
                            cwd: dir, output: dir.appendingPathComponent("uas.log"))
        usleep(300_000)
        let uac = try Child(sipp, ["-sf", "uac-rtp.xml", "-i", "127.0.0.1", "-p", "\(uacSIP)", "-mi", "127.0.0.1", "-mp", "\(uacRTP)",
                                   "127.0.0.1:\(kamPort)", "-s", "1000", "-m", "1", "-nostdin", "-timeout", "20s"],
                            cwd: dir, output: dir.appendingPathComponent("uac.log"))
        let uacStatus = uac.wait(timeout: .seconds(25))
        uas.wait(timeout: .seconds(10))
        usleep(300_000)
        dump.signal(SIGINT)
        dump.wait(timeout: .seconds(5))
        #expect(uacStatus == 0, "sipp UAC failed:\n\(uac.text)\nkamailio:\n\(kam.text)")

        // The SDP the callee saw points at Baton, not at the caller.
        let all = try PcapReader.packets(capture)
        let seen = all.filter { $0.dst == uasSIP }.map { String(decoding: $0.payload, as: UTF8.self) }
            .first { $0.hasPrefix("INVITE ") } ?? ""
        let mLine = seen.split(separator: "\r\n").first { $0.hasPrefix("m=audio ") }
        let offeredPort = mLine.flatMap { Int($0.split(separator: " ")[1]) }
        #expect(offeredPort.map { (23600...33799).contains($0) } == true, "callee saw \(mLine ?? "no m= line")")
        #expect(!seen.contains("m=audio \(uacRTP) "))
        #expect(!seen.contains("a=candidate"))

        // RTP both ways through Baton's ports, none lost, none direct.
        let flows = all.filter { $0.dst != uasSIP }.reduce(into: [String: Int]()) { $0["\($1.src)>\($1.dst)", default: 0] += 1 }
        let batonFlows = flows.filter { k, _ in
            let ports = k.split(separator: ">").compactMap { Int($0) }
            return ports.contains { (23600...33799).contains($0) }
        }
        #expect(flows.count == 4 && batonFlows.count == 4, "flows: \(flows)")
        #expect(flows.values.allSatisfy { $0 == 100 }, "flows: \(flows)")
        #expect(flows["\(uacRTP)>\(uasRTP)"] == nil && flows["\(uasRTP)>\(uacRTP)"] == nil)

        // Kamailio's delete on BYE freed the ports; the call is recorded as ended by delete.
        let freed = ContinuousClock.now + .seconds(3)
        while ContinuousClock.now < freed, try baton.metric("baton_rtp_port_pairs_in_use") != 0 { usleep(50_000) }
        #expect(try baton.metric("baton_rtp_port_pairs_in_use") == 0)
        #expect(try baton.metric("baton_ng_requests_total{command=\"offer\"}") ?? 0 >= 1)
        #expect(try baton.metric("baton_ng_requests_total{command=\"answer\"}") ?? 0 >= 1)
        #expect(try baton.metric("baton_ng_requests_total{command=\"delete\"}") ?? 0 >= 1)
        let list = try #require(try baton.json("/calls") as? [String: Any])
        let ended = try #require((list["ended"] as? [[String: Any]])?.first)
        #expect(ended["reason"] as? String == "delete")
        #expect(baton.stop() == 0)
    }
}
