import Foundation
import Testing

/// Losing a gateway (issue 21): nobody is left in a silent call. Each answered call's dialogs
/// (route set, tags, CSeq) are in the store under the gateway's id; after kill -9 the gateway
/// itself when it restarts (SQLite), or a surviving gateway on the same PostgreSQL within
/// `cluster.dead_after_ms`, sends BYE to both parties. The parties are sipp scenarios that log
/// each BYE they get (uac-caller-lost.xml, uas-callee-lost.xml).
@Suite(.serialized) struct GatewayLossTests {
    /// Lines of sipp's `-trace_logs` files in `dir` containing `marker`.
    static func logged(_ marker: String, in dir: URL, scenario: String) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return files.filter { $0.hasPrefix(scenario + "_") && $0.hasSuffix("_logs.log") }.flatMap { f in
            ((try? String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8)) ?? "").split(separator: "\n")
                .filter { $0.contains(marker) }.map(String.init)
        }
    }

    static func fixtures(_ dir: URL) throws {
        for f in ["uac-caller-lost.xml", "uas-callee-lost.xml", "rtp-far.pcap", "rtp-phone.pcap"] {
            try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
    }

    @Test func aKilledGatewayEndsItsOldCallsWhenItRestarts() throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester") else { return }
        let dir = try Interop.tempDir("restart-bye")
        try Self.fixtures(dir)
        let (sipPort, calleePort) = (27900, 33200)
        let args = ["--route", ".=127.0.0.1:\(calleePort)"]
        var baton = try BatonProcess(sipPort: sipPort, httpPort: 29900, rtpMin: 26200, dir: dir, extra: args)
        let callee = try Child(sipp, ["-sf", "uas-callee-lost.xml", "-i", "127.0.0.1", "-p", "\(calleePort)", "-mi", "127.0.0.1",
                                      "-mp", "33210", "-m", "3", "-trace_logs", "-nostdin", "-timeout", "40s"],
                               cwd: dir, output: dir.appendingPathComponent("callee.log"))
        defer { callee.signal(SIGKILL) }
        usleep(300_000)
        let caller = try Child(sipp, ["-sf", "uac-caller-lost.xml", "-i", "127.0.0.1", "-p", "33220", "-mi", "127.0.0.1", "-mp", "33230",
                                      "-s", "callee", "-r", "10", "-m", "3", "-trace_logs", "-nostdin", "-timeout", "40s",
                                      "127.0.0.1:\(sipPort)"], cwd: dir, output: dir.appendingPathComponent("caller.log"))
        defer { caller.signal(SIGKILL) }
        #expect(waitUntil(.seconds(5)) { (try? baton.metric("baton_calls_active")) == 3 }, "three calls up")
        usleep(300_000)   // the anchors are written (commit window 20 ms)
        baton.child.signal(SIGKILL)
        baton.child.wait(timeout: .seconds(5))
        let killed = ContinuousClock.now
        baton = try BatonProcess(sipPort: sipPort, httpPort: 29900, rtpMin: 26200, dir: dir, extra: args)
        defer { _ = baton.stop() }
        let ended = waitUntil(.seconds(5)) {
            Self.logged("GOTBYE", in: dir, scenario: "uac-caller-lost").count == 3
                && Self.logged("GOTBYE", in: dir, scenario: "uas-callee-lost").count == 3
        }
        #expect(ended, "both parties of the 3 calls get a BYE after the restart: callers \(Self.logged("GOTBYE", in: dir, scenario: "uac-caller-lost")), callees \(Self.logged("GOTBYE", in: dir, scenario: "uas-callee-lost"))\n\(baton.child.text)")
        #expect(ContinuousClock.now - killed < .seconds(10))
        #expect(Self.logged("GOTBYE", in: dir, scenario: "uas-callee-lost").allSatisfy { $0.contains("restarted") })
        #expect(caller.wait(timeout: .seconds(10)) == 0, "the callers' scenarios end cleanly:\n\(caller.text)")
        #expect(callee.wait(timeout: .seconds(10)) == 0, "\(callee.text)")
        // The calls are recorded ended by the restart.
        let calls = try #require(try baton.json("/calls") as? [String: Any])
        #expect((calls["active"] as? [Any])?.isEmpty == true)
        if ProcessInfo.processInfo.environment["BATON_KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: dir) }
    }
}
