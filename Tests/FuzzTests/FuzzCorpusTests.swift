import Foundation
import FuzzTargets
import Testing

/// Every committed fuzz input (seed corpus and regressions: each crash a fuzzer found,
/// minimized) through its target: the process must come back from each.
@Suite(.serialized) struct FuzzCorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("tools/fuzz")

    static func inputs(_ target: FuzzTarget, _ kind: String) -> [URL] {
        let dir = root.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
        return ((try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? [])
            .filter { !$0.lastPathComponent.hasPrefix(".") }.sorted { $0.path < $1.path }
    }

    /// The targets block their calling thread (as libFuzzer's callback does) while their own
    /// tasks run: off the cooperative pool, which has as few threads as the machine has cores.
    @Test(arguments: FuzzTarget.allCases)
    func seedCorpusAndRegressionsReplay(_ target: FuzzTarget) async throws {
        let seeds = Self.inputs(target, "corpus"), regressions = Self.inputs(target, "regressions")
        #expect(seeds.count >= 3, "tools/fuzz/corpus/\(target.rawValue) holds the seeds")
        let inputs = try (seeds + regressions).map { try Array(Data(contentsOf: $0)) }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread {
                for input in inputs { target.run(input) }
                done.resume()
            }.start()
        }
    }
}
