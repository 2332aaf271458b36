import Foundation
import Testing

/// The transfer-probability model against an independent implementation (issue 20):
/// tools/model/generate_history.py draws a history from a hidden model (true probabilities
/// known), `baton model train` fits and evaluates it, scikit-learn fits the same parts with
/// the same objective. Baton's held-out AUC must be within 0.02 of the best reachable,
/// its calibration error under 0.05, and its coefficients and AUC those of scikit-learn.
@Suite(.serialized) struct ModelCrossCheckTests {
    @Test func batonsModelMatchesScikitLearnAndReachesTheBestAUC() throws {
        // Debian's python3, where python3-sklearn installs (a pyenv or venv python3 earlier
        // on PATH has no scikit-learn).
        let debian = "/usr/bin/python3"
        guard let python = FileManager.default.isExecutableFile(atPath: debian) ? debian : Interop.requirePeer("python3", package: "python3") else { return }
        let probe = try Child(python, ["-c", "import sklearn"], output: FileManager.default.temporaryDirectory.appendingPathComponent("sklearn-probe.log"))
        guard probe.wait(timeout: .seconds(30)) == 0 else {
            let msg = "scikit-learn is missing (Debian package python3-sklearn); install it with tools/install-deps.sh --test"
            if Interop.isCI { Issue.record(Comment(rawValue: msg)) } else { print("SKIPPED: \(msg)") }
            return
        }
        let dir = try Interop.tempDir("model")
        let history = dir.appendingPathComponent("history.csv")
        let tools = Interop.packageRoot.appendingPathComponent("tools/model")
        let gen = try Child(python, [tools.appendingPathComponent("generate_history.py").path, "--calls", "30000", "--seed", "11"],
                            output: history)
        #expect(gen.wait(timeout: .seconds(60)) == 0)
        let train = try Child(Interop.batonBinary, ["model", "train", "--csv", history.path, "--config", "/dev/null",
                                                     "--store-path", dir.appendingPathComponent("baton.sqlite").path],
                              output: dir.appendingPathComponent("baton.json"))
        #expect(train.wait(timeout: .seconds(60)) == 0, "\(train.text)")
        let sk = try Child(python, [tools.appendingPathComponent("sklearn_check.py").path, history.path],
                           output: dir.appendingPathComponent("sklearn.json"))
        #expect(sk.wait(timeout: .seconds(120)) == 0, "\(sk.text)")

        // baton prints the model, then a line on stderr (same log): take the JSON object.
        let text = train.text
        let start = try #require(text.firstIndex(of: "{")), end = try #require(text.lastIndex(of: "}"))
        let baton = try #require(try JSONSerialization.jsonObject(with: Data(text[start...end].utf8)) as? [String: Any])
        let skText = sk.text.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
        let ref = try #require(try JSONSerialization.jsonObject(with: Data(skText.utf8)) as? [String: Any], "\(sk.text)")
        let e = try #require(baton["evaluation"] as? [String: Any])
        let auc = try #require(e["auc"] as? Double), best = try #require(e["bestAUC"] as? Double), ece = try #require(e["ece"] as? Double)
        print("transfer model: held-out AUC \(auc), best reachable \(best), ECE \(ece); scikit-learn AUC \(ref["auc"] ?? "?")")
        #expect(best - auc < 0.02, "AUC \(auc) vs best \(best)")
        #expect(ece < 0.05, "ECE \(ece)")
        #expect(baton["version"] as? Int == 1, "stored as version 1")
        let w = try #require(baton["weights"] as? [Double]), rw = try #require(ref["weights"] as? [Double])
        #expect(w.count == rw.count)
        for (a, b) in zip(w, rw) { #expect(abs(a - b) < 1e-3, "weight \(a) vs scikit-learn \(b)") }
        #expect(abs((baton["intercept"] as? Double ?? 0) - (ref["intercept"] as? Double ?? 99)) < 1e-3)
        #expect(abs(auc - (ref["auc"] as? Double ?? 0)) < 1e-4, "the same ranking as scikit-learn's")
        #expect(baton["trainedOn"] as? Int == ref["trainedOn"] as? Int, "the same training part")
        try? FileManager.default.removeItem(at: dir)
    }
}
