import Foundation
import FuzzTargets
import Testing

/// Every committed fuzz input (seed corpus and regressions: each crash a fuzzer found,
/// minimized) through its target: the process must come back from each.
@Suite struct FuzzCorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("tools/fuzz")

    static func inputs(_ target: FuzzTarget, _ kind: String) -> [URL] {
        let dir = root.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
        return ((try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? [])
            .filter { !$0.lastPathComponent.hasPrefix(".") }.sorted { $0.path < $1.path }
    }

    @Test(arguments: FuzzTarget.allCases)
    func seedCorpusAndRegressionsReplay(_ target: FuzzTarget) throws {
        let seeds = Self.inputs(target, "corpus"), regressions = Self.inputs(target, "regressions")
        #expect(seeds.count >= 3, "tools/fuzz/corpus/\(target.rawValue) holds the seeds")
        for file in seeds + regressions {
            target.run(Array(try Data(contentsOf: file)))
        }
    }
}
