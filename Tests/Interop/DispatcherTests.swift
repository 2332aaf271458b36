import Foundation
import Testing

/// Several gateways behind Kamailio's dispatcher (issue 21, first part: conf/
/// kamailio-dispatcher.cfg). sipp calls through Kamailio are spread over two Baton
/// gateways, each anchoring its calls' media; the callers' ACK and BYE reach the right
/// gateway through Kamailio's Record-Route (which Baton copies into its 200). Then one
/// gateway gets SIGTERM under load: it answers OPTIONS and new INVITEs with 503, Kamailio
/// moves new calls to the other, and no call fails.
@Suite(.serialized) struct DispatcherTests {
    static func callsTotal(_ b: BatonProcess) -> Int {
        let text = (try? b.get("/metrics")).map { String(decoding: $0.1, as: UTF8.self) } ?? ""
        return text.split(separator: "\n").first { $0.hasPrefix("baton_calls_total ") }
            .flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) } ?? -1
    }

    @Test func kamailioSpreadsCallsAndASigtermLosesNone() throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester"),
              let kamailio = Interop.requirePeer("kamailio", package: "kamailio") else { return }
        let dir = try Interop.tempDir("dispatcher")
        for f in ["uac-caller.xml", "uas-phone.xml", "rtp-far.pcap", "rtp-phone.pcap"] {
            try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        let (kamPort, calleePort) = (27350, 33110)
        var gateways: [BatonProcess] = []
        for (i, sip) in [27300, 27310].enumerated() {
            let d = dir.appendingPathComponent("gw\(i)")
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            gateways.append(try BatonProcess(sipPort: sip, httpPort: 29300 + i * 10, rtpMin: 28700 + i * 200, dir: d,
                                             extra: ["--route", ".=127.0.0.1:\(calleePort)"]))
        }
        defer { for g in gateways { _ = g.stop() } }
        let list = dir.appendingPathComponent("dispatcher.list")
        // Flag 8: probe the gateway with OPTIONS (Kamailio 5.6 probes only flagged ones).
        try gateways.map { "1 sip:127.0.0.1:\($0.sipPort) 8\n" }.joined().write(to: list, atomically: true, encoding: .utf8)
        let kam = try KamailioProcess(kamailio, template: Interop.packageRoot.appendingPathComponent("conf/kamailio-dispatcher.cfg"),
                                      values: ["LISTEN": "udp:127.0.0.1:\(kamPort)", "LIST": list.path], dir: dir)
        defer { kam.stop() }
        usleep(1_500_000)   // started, and a probe round done
        #expect(kam.isRunning, "kamailio did not start:\n\(kam.text)")
        let callee = try Child(sipp, ["-sf", "uas-phone.xml", "-i", "127.0.0.1", "-p", "\(calleePort)", "-mi", "127.0.0.1",
                                      "-mp", "33120", "-m", "60", "-nostdin", "-timeout", "60s"],
                               cwd: dir, output: dir.appendingPathComponent("callee.log"))
        defer { callee.signal(SIGKILL) }
        usleep(300_000)

        // 10 calls through Kamailio: spread over both gateways, all complete.
        let spread = try Child(sipp, ["-sf", "uac-caller.xml", "-i", "127.0.0.1", "-p", "33130", "-mi", "127.0.0.1", "-mp", "33140",
                                      "-s", "callee", "-d", "1000", "-r", "10", "-m", "10", "-nostdin", "-timeout", "30s",
                                      "127.0.0.1:\(kamPort)"], cwd: dir, output: dir.appendingPathComponent("spread.log"))
        #expect(spread.wait(timeout: .seconds(40)) == 0, "calls through Kamailio failed:\n\(spread.text)\nkamailio:\n\(kam.text)")
        let counts = gateways.map(Self.callsTotal)
        #expect(counts.reduce(0, +) == 10 && counts.allSatisfy { $0 >= 3 }, "calls per gateway: \(counts)")

        // Under load, SIGTERM to gateway 0: it answers OPTIONS and new INVITEs with 503,
        // Kamailio takes it out of rotation and sends its INVITEs to gateway 1: no call fails.
        let load = try Child(sipp, ["-sf", "uac-caller.xml", "-i", "127.0.0.1", "-p", "33131", "-mi", "127.0.0.1", "-mp", "33142",
                                    "-s", "callee", "-d", "1500", "-r", "10", "-m", "40", "-nostdin", "-timeout", "40s",
                                    "127.0.0.1:\(kamPort)"], cwd: dir, output: dir.appendingPathComponent("load.log"))
        usleep(1_500_000)
        let before = gateways.map(Self.callsTotal)
        gateways[0].child.signal(SIGTERM)
        #expect(load.wait(timeout: .seconds(50)) == 0, "a call failed while gateway 0 drained:\n\(load.text)")
        #expect(gateways[0].child.wait(timeout: .seconds(15)) == 0, "gateway 0 drained and exited 0")
        let after = Self.callsTotal(gateways[1])
        #expect(after - before[1] >= 20, "gateway 1 took the calls after the SIGTERM: \(before[1]) -> \(after)")
        try? FileManager.default.removeItem(at: dir)
    }
}
