import Foundation
import Testing
import TestSupport

/// The soak tool's 60-second version (docs/performance.md, "Soak"): sipp calls with RTP
/// through the built `baton`, none failed, memory and descriptors flat after warm-up, no
/// relay loss, and the plot written.
@Suite(.serialized) struct SoakTests {
    @Test func sixtySecondsOfCallsWithMediaLeaveNothingBehind() throws {
        guard Interop.requirePeer("sipp", package: "sip-tester") != nil else { return }
        let dir = try Interop.tempDir("soak")
        let out = dir.appendingPathComponent("soak")
        let script = Interop.packageRoot.appendingPathComponent("tools/bench/soak.py").path
        // Unblocked signals: the soak stops baton and sipp with SIGTERM.
        let child = try Child.unblocked("/usr/bin/env", ["BATON_BIN=\(Interop.batonBinary)", "/usr/bin/python3", script,
                                                         "--seconds", "60", "--rate", "10", "--call-seconds", "5",
                                                         "--ports", "600", "--warmup", "35", "--check", "--out", out.path],
                                        output: dir.appendingPathComponent("soak.log"))
        defer { child.signal(SIGTERM) }
        let rc = child.wait(timeout: .seconds(150))
        #expect(rc == 0, "the soak failed:\n\(child.text)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("summary.json"))) as? [String: Any])
        #expect(summary["calls_failed"] as? Int == 0)
        #expect(summary["calls_successful"] as? Int == 600)
        #expect((summary["packets_relayed"] as? Int ?? 0) >= 600 * 250 * 2 * 99 / 100, "\(summary)")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("soak.png").path))
    }
}
