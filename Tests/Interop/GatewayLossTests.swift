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

    @Test func aKilledGatewayWithResumingOffEndsItsOldCallsWhenItRestarts() throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester") else { return }
        let dir = try Interop.tempDir("restart-bye")
        try Self.fixtures(dir)
        let (sipPort, calleePort) = (27900, 33200)
        // Resuming off (store.resume_calls = false): the restart ends the calls (RestartTests
        // has them resumed, the default).
        let args = ["--route", ".=127.0.0.1:\(calleePort)", "--store-resume-calls", "false"]
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

    /// The last value of a column of sipp's `-trace_stat` CSV (`-stf`).
    static func stat(_ csv: URL, _ column: String) -> Int? {
        guard let text = try? String(contentsOf: csv, encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n").map { $0.split(separator: ";", omittingEmptySubsequences: false).map(String.init) }
        guard let head = lines.first, let i = head.firstIndex(of: column), let last = lines.last, last.count > i else { return nil }
        return Int(last[i])
    }

    @Test func killingAGatewayUnderLoadBehindKamailio() async throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester"),
              let kamailio = Interop.requirePeer("kamailio", package: "kamailio") else { return }
        guard let pg = try SharedStoreTests.cluster("loss") else { return }
        defer { pg.stop() }
        let dir = try Interop.tempDir("gateway-loss")
        try Self.fixtures(dir)
        let (kamPort, calleePort) = (27970, 33300)
        var gw: [BatonProcess] = []
        for i in 0..<2 {
            let d = dir.appendingPathComponent("gw\(i)")
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            gw.append(try BatonProcess(sipPort: 27950 + i * 10, httpPort: 29950 + i * 10, rtpMin: 26400 + i * 200, dir: d,
                                       extra: ["--store-url", pg.url, "--route", ".=127.0.0.1:\(calleePort)",
                                               "--cluster-gateway-id", "gw\(i)"]))
        }
        defer { for g in gw { _ = g.stop() } }
        let list = dir.appendingPathComponent("dispatcher.list")
        try gw.map { "1 sip:127.0.0.1:\($0.sipPort) 8\n" }.joined().write(to: list, atomically: true, encoding: .utf8)
        let kam = try KamailioProcess(kamailio, template: Interop.packageRoot.appendingPathComponent("conf/kamailio-dispatcher.cfg"),
                                      values: ["LISTEN": "udp:127.0.0.1:\(kamPort)", "LIST": list.path], dir: dir)
        defer { kam.stop() }
        let callee = try Child(sipp, ["-sf", "uas-callee-lost.xml", "-i", "127.0.0.1", "-p", "\(calleePort)", "-mi", "127.0.0.1",
                                      "-mp", "33310", "-trace_logs", "-nostdin", "-timeout", "60s"],
                               cwd: dir, output: dir.appendingPathComponent("callee.log"))
        defer { callee.signal(SIGKILL) }
        try await Task.sleep(for: .milliseconds(1500))   // Kamailio up, a probe round done
        #expect(kam.isRunning, "kamailio did not start:\n\(kam.text)")

        // 40 calls at 5 per second through Kamailio, each held 8 s unless a gateway hangs it up.
        let stats = dir.appendingPathComponent("caller-stats.csv")
        let caller = try Child(sipp, ["-sf", "uac-caller-lost.xml", "-i", "127.0.0.1", "-p", "33320", "-mi", "127.0.0.1", "-mp", "33330",
                                      "-s", "callee", "-r", "5", "-m", "40", "-l", "100", "-trace_logs", "-trace_stat", "-stf", stats.path,
                                      "-fd", "1", "-nostdin", "-timeout", "60s", "127.0.0.1:\(kamPort)"],
                               cwd: dir, output: dir.appendingPathComponent("caller.log"))
        defer { caller.signal(SIGKILL) }
        try await Task.sleep(for: .seconds(3))
        let onA = Int(try gw[0].metric("baton_calls_active") ?? 0)
        let bBefore = Int(try gw[1].metric("baton_calls_total") ?? 0)
        #expect(onA >= 3, "gateway A carries calls before the kill: \(onA)")
        gw[0].child.signal(SIGKILL)
        let killed = ContinuousClock.now
        gw[0].child.wait(timeout: .seconds(5))

        // New calls flow to B within 3 s.
        var bAfter = bBefore
        let flowing = waitUntil(.seconds(3)) {
            bAfter = Int((try? gw[1].metric("baton_calls_total")) ?? 0) ?? bBefore
            return bAfter >= bBefore + 5
        }
        #expect(flowing, "B took no new calls within 3 s of the kill: \(bBefore) -> \(bAfter)")
        // Both parties of every call A carried get a BYE from B within 5 s.
        var (callers, callees) = (0, 0)
        let byes = waitUntil(.seconds(5) - (ContinuousClock.now - killed)) {
            callers = Self.logged("GOTBYE", in: dir, scenario: "uac-caller-lost").count
            callees = Self.logged("gw0 lost", in: dir, scenario: "uas-callee-lost").count
            return callers >= onA && callees >= onA
        }
        #expect(byes, "BYEs within 5 s of the kill: \(callers) callers, \(callees) callees of \(onA) calls on A")
        #expect(callers == onA && callees == onA, "exactly A's calls are hung up: \(callers)/\(callees) of \(onA)")
        #expect(try pg.psql("SELECT state FROM gateways WHERE id = 'gw0'") == "dead")
        #expect(try pg.psql("SELECT count(*) FROM call_anchors WHERE gateway = 'gw0'") == "0")

        // Every call ends; the ones that failed are at most those in setup at the kill.
        _ = caller.wait(timeout: .seconds(30))
        let failed = Self.stat(stats, "FailedCall(C)") ?? -1
        let succeeded = Self.stat(stats, "SuccessfulCall(C)") ?? -1
        #expect(failed >= 0 && failed <= 2, "failed calls: \(failed) (succeeded \(succeeded))\n\(caller.text.suffix(3000))")
        #expect(succeeded + failed == 40)
        if ProcessInfo.processInfo.environment["BATON_KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: dir) }
    }
}
