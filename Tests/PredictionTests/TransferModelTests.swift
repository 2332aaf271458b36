import Foundation
import Store
import Testing
@testable import Prediction

/// The transfer-probability model (issue 20): training recovers a known model, AUC and
/// calibration measures are right, histories with mistakes are refused with their line.
@Suite struct TransferModelTests {
    /// A seeded generator (SplitMix64): the same histories every run.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let truth: [Double] = [0.45, 2.2, 1.5, 0.35, 1.2, 0.08, 0.6, 2.5]
    static let truthIntercept = -4.0

    /// Calls whose features look like the records' (counts, flags, shares) and whose outcome
    /// is drawn from the true model.
    static func history(_ n: Int, seed: UInt64) -> [Sample] {
        var g = Seeded(state: seed)
        func u() -> Double { Double.random(in: 0..<1, using: &g) }
        return (0..<n).map { _ in
            let x = [Double(Int(u() * 5)), u() < 0.2 ? 1 : 0, u(), Double(Int(u() * 3)), u(), u() * 10, Double(Int(u() * 3)), u() * 0.6]
            var z = truthIntercept
            for (w, v) in zip(truth, x) { z += w * v }
            let p = 1 / (1 + exp(-z))
            return Sample(features: x, transferred: u() < p, trueProbability: p)
        }
    }

    @Test func trainingRecoversTheHiddenModelAndItsAUC() throws {
        let train = Self.history(20_000, seed: 1), test = Self.history(8_000, seed: 2)
        var m = try TransferModel.train(train, features: TransferFeatures.names)
        m.evaluation = m.evaluate(test)
        let e = try #require(m.evaluation)
        let best = try #require(e.bestAUC)
        #expect(best - e.auc < 0.02, "AUC \(e.auc) vs best reachable \(best)")
        #expect(e.ece < 0.05, "expected calibration error \(e.ece)")
        #expect(abs(m.intercept - Self.truthIntercept) < 0.4, "intercept \(m.intercept)")
        for (w, t) in zip(m.weights, Self.truth) { #expect(abs(w - t) < 0.35, "weight \(w) vs \(t)") }
        // A model that ignores the features ranks no better than chance.
        let flat = TransferModel(features: TransferFeatures.names, weights: Array(repeating: 0, count: 8), intercept: 0)
        #expect(abs(flat.evaluate(test).auc - 0.5) < 1e-9)
    }

    @Test func aucAndCalibrationOnHandComputedCases() {
        #expect(Metrics.auc([0.1, 0.4, 0.35, 0.8], [false, false, true, true]) == 0.75)
        #expect(Metrics.auc([0.5, 0.5], [false, true]) == 0.5, "a tie counts half")
        #expect(Metrics.auc([0.2, 0.9], [true, false]) == 0)
        // All predicted 0.3, observed rate 0.5: off by 0.2 everywhere.
        #expect(abs(Metrics.expectedCalibrationError([0.3, 0.3, 0.3, 0.3], [true, false, true, false]) - 0.2) < 1e-12)
        #expect(Metrics.expectedCalibrationError([0.05, 0.95], [false, true]) < 0.051)
    }

    @Test func badHistoriesSayWhatAndWhere() {
        let header = TransferFeatures.names.joined(separator: ",") + ",transferred"
        let row = Array(repeating: "1", count: 8).joined(separator: ",")
        #expect(throws: PredictionError.badHistory(line: 1, "unknown column 'no_matchh' (features: \(TransferFeatures.names.joined(separator: ", ")))")) {
            try TransferHistory.parse(header.replacingOccurrences(of: "no_match,", with: "no_matchh,") + "\n" + row + ",1")
        }
        #expect(throws: PredictionError.badHistory(line: 3, "transferred must be 0 or 1, not 'yes'")) {
            try TransferHistory.parse(header + "\n" + row + ",1\n" + row + ",yes")
        }
        #expect(throws: PredictionError.badHistory(line: 2, "minutes is not a number: 'x'")) {
            try TransferHistory.parse(header + "\n" + "1,1,1,1,1,x,1,1,0")
        }
        #expect(throws: PredictionError.badHistory(line: 2, "8 values for 9 columns")) { try TransferHistory.parse(header + "\n" + row) }
        #expect(throws: PredictionError.self) { try TransferModel.train([], features: TransferFeatures.names) }
        // Only one outcome: nothing to learn.
        let same = (0..<10).map { _ in Sample(features: Array(repeating: 1, count: 8), transferred: true) }
        #expect(throws: PredictionError.self) { try TransferModel.train(same, features: TransferFeatures.names) }
    }

    @Test func modelsAreVersionedInTheStoreAndAForeignOneIsRefused() async throws {
        let store = try Store(path: ":memory:")
        let models = TransferModels(store: store)
        #expect(try await models.load() == nil)
        let m = try TransferModel.train(Self.history(2000, seed: 3), features: TransferFeatures.names)
        #expect(try await models.install(m).version == 1)
        #expect(try await models.install(m).version == 2)
        let reread = TransferModels(store: store)
        let loaded = try #require(try await reread.load())
        #expect(loaded.version == 2 && loaded.weights == m.weights)
        // A model of another feature set (a newer Baton's, an edited file) is refused; the one in force stays.
        var other = m
        other.features = ["a", "b"]
        other.weights = [1, 2]
        _ = try await store.insertTransferModel(json: String(decoding: try JSONEncoder().encode(other), as: UTF8.self), created: 0)
        await #expect(throws: PredictionError.self) { try await reread.load() }
        #expect(reread.model?.version == 2)
    }
}
