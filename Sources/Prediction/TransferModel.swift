import Foundation

/// The probability that an operator's active call is transferred to a given second operator
/// (an agent or a category), from a feature vector of the call's dialog records: logistic
/// regression, trained on the stored history of transfers (docs/contact-center.md).
///
/// Why logistic regression: the features are a handful of counts and rates whose effect on
/// the log-odds is close to additive; the model is calibrated by construction (what the
/// desktop shows is a probability, not a score), trains in milliseconds by Newton's method,
/// and each weight can be read by the operator who has to trust it.
///
/// ```swift
/// let model = try TransferModel.train(samples, features: TransferFeatures.names)
/// let p = model.probability(of: vector)       // 0...1
/// ```
public struct TransferModel: Codable, Sendable, Equatable {
    /// Increases with every model trained into the store.
    public var version: Int
    /// Feature names, in the order of ``weights``.
    public var features: [String]
    public var weights: [Double]
    public var intercept: Double
    /// L2 penalty on the weights (not the intercept): scikit-learn's `1/C`.
    public var l2: Double
    public var trainedOn: Int
    public var created: Double
    public var evaluation: Evaluation?

    /// How the model did on calls it was not trained on.
    public struct Evaluation: Codable, Sendable, Equatable {
        /// Area under the ROC curve on the held-out calls.
        public var auc: Double
        /// Expected calibration error (10 equal-width bins).
        public var ece: Double
        public var heldOut: Int
        public var positives: Int
        /// The AUC of the true probabilities, when the data says them (generated histories):
        /// the best any model can reach on these calls.
        public var bestAUC: Double?
        public init(auc: Double, ece: Double, heldOut: Int, positives: Int, bestAUC: Double? = nil) {
            self.auc = auc; self.ece = ece; self.heldOut = heldOut; self.positives = positives; self.bestAUC = bestAUC
        }
    }

    public init(version: Int = 0, features: [String], weights: [Double], intercept: Double, l2: Double = 1,
                trainedOn: Int = 0, created: Double = Date().timeIntervalSince1970, evaluation: Evaluation? = nil) {
        self.version = version; self.features = features; self.weights = weights; self.intercept = intercept
        self.l2 = l2; self.trainedOn = trainedOn; self.created = created; self.evaluation = evaluation
    }

    /// P(transfer) for a vector in ``features`` order.
    public func probability(of x: [Double]) -> Double {
        var z = intercept
        for (w, v) in zip(weights, x) { z += w * v }
        return TransferModel.sigmoid(z)
    }

    /// P(transfer) for named values; a feature the map lacks counts as 0.
    public func probability(of values: [String: Double]) -> Double {
        probability(of: features.map { values[$0] ?? 0 })
    }

    static func sigmoid(_ z: Double) -> Double {
        z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z))
    }

    /// Fits weights and intercept by Newton's method (iteratively reweighted least squares)
    /// on the penalized log-likelihood `sum log-loss + l2/2 * |w|^2`, the objective of
    /// scikit-learn's `LogisticRegression(C = 1/l2)`, so both give the same coefficients.
    public static func train(_ samples: [Sample], features: [String], l2: Double = 1, maxIterations: Int = 100,
                             tolerance: Double = 1e-10) throws(PredictionError) -> TransferModel {
        let d = features.count
        guard !samples.isEmpty else { throw .noData("no samples to train on") }
        guard samples.allSatisfy({ $0.features.count == d }) else { throw .noData("every sample needs \(d) features") }
        let positives = samples.filter(\.transferred).count
        guard positives > 0, positives < samples.count else {
            throw .noData("the samples need both transferred and not transferred calls (\(positives) of \(samples.count) transferred)")
        }
        // beta[0] is the intercept.
        var beta = [Double](repeating: 0, count: d + 1)
        for _ in 0..<maxIterations {
            var gradient = [Double](repeating: 0, count: d + 1)
            var hessian = [[Double]](repeating: [Double](repeating: 0, count: d + 1), count: d + 1)
            for s in samples {
                var z = beta[0]
                for j in 0..<d { z += beta[j + 1] * s.features[j] }
                let p = sigmoid(z)
                let r = p - (s.transferred ? 1 : 0)
                let w = max(p * (1 - p), 1e-12)
                gradient[0] += r
                for j in 0..<d { gradient[j + 1] += r * s.features[j] }
                for a in 0...d {
                    let xa = a == 0 ? 1 : s.features[a - 1]
                    for b in a...d {
                        let xb = b == 0 ? 1 : s.features[b - 1]
                        hessian[a][b] += w * xa * xb
                    }
                }
            }
            for a in 0...d { for b in 0..<a { hessian[a][b] = hessian[b][a] } }
            for j in stride(from: 1, through: d, by: 1) {
                gradient[j] += l2 * beta[j]
                hessian[j][j] += l2
            }
            guard let step = solve(hessian, gradient) else { throw .noData("the features are linearly dependent (singular Hessian)") }
            var largest = 0.0
            for j in 0...d {
                beta[j] -= step[j]
                largest = max(largest, abs(step[j]))
            }
            if largest < tolerance { break }
        }
        guard beta.allSatisfy(\.isFinite) else { throw .noData("training diverged (separable data?)") }
        return TransferModel(features: features, weights: Array(beta.dropFirst()), intercept: beta[0], l2: l2, trainedOn: samples.count)
    }

    /// Gaussian elimination with partial pivoting; nil when singular.
    static func solve(_ m: [[Double]], _ v: [Double]) -> [Double]? {
        let n = v.count
        var a = m, b = v
        for col in 0..<n {
            guard let pivot = (col..<n).max(by: { abs(a[$0][col]) < abs(a[$1][col]) }), abs(a[pivot][col]) > 1e-12 else { return nil }
            a.swapAt(col, pivot); b.swapAt(col, pivot)
            for row in (col + 1)..<n {
                let f = a[row][col] / a[col][col]
                if f == 0 { continue }
                for k in col..<n { a[row][k] -= f * a[col][k] }
                b[row] -= f * b[col]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for row in stride(from: n - 1, through: 0, by: -1) {
            var s = b[row]
            for k in (row + 1)..<n { s -= a[row][k] * x[k] }
            x[row] = s / a[row][row]
        }
        return x
    }

    /// This model's evaluation on `samples` (held out from training).
    public func evaluate(_ samples: [Sample]) -> Evaluation {
        let p = samples.map { probability(of: $0.features) }
        let y = samples.map(\.transferred)
        let truth = samples.compactMap(\.trueProbability)
        return Evaluation(auc: Metrics.auc(p, y), ece: Metrics.expectedCalibrationError(p, y),
                          heldOut: samples.count, positives: y.filter { $0 }.count,
                          bestAUC: truth.count == samples.count ? Metrics.auc(truth, y) : nil)
    }
}

/// One call of the history: its feature vector and whether it was transferred to the
/// candidate. `trueProbability` is known only for generated histories.
public struct Sample: Sendable, Equatable {
    public var features: [Double]
    public var transferred: Bool
    public var trueProbability: Double?
    /// A generated history may say which part a call belongs to ("train" or "test").
    public var split: String?
    public init(features: [Double], transferred: Bool, trueProbability: Double? = nil, split: String? = nil) {
        self.features = features; self.transferred = transferred; self.trueProbability = trueProbability; self.split = split
    }
}

public enum PredictionError: Error, Equatable, CustomStringConvertible {
    case noData(String)
    case badHistory(line: Int, String)
    case wrongModel(String)
    public var description: String {
        switch self {
        case .noData(let s): "cannot train: \(s)"
        case let .badHistory(line, s): "history line \(line): \(s)"
        case .wrongModel(let s): "model: \(s)"
        }
    }
}

/// Ranking and calibration measures of predicted probabilities against outcomes.
public enum Metrics {
    /// Area under the ROC curve: the probability that a random transferred call scores above
    /// a random other one (ties count half), by ranks (Mann–Whitney U).
    public static func auc(_ scores: [Double], _ labels: [Bool]) -> Double {
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var ranks = [Double](repeating: 0, count: scores.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j { ranks[order[k]] = rank }
            i = j + 1
        }
        let pos = labels.filter { $0 }.count, neg = labels.count - pos
        guard pos > 0, neg > 0 else { return .nan }
        let sum = zip(ranks, labels).filter { $0.1 }.map(\.0).reduce(0, +)
        return (sum - Double(pos) * Double(pos + 1) / 2) / (Double(pos) * Double(neg))
    }

    /// Expected calibration error: the mean, weighted by bin size, of |mean predicted -
    /// observed rate| over `bins` equal-width probability bins.
    public static func expectedCalibrationError(_ p: [Double], _ labels: [Bool], bins: Int = 10) -> Double {
        guard !p.isEmpty else { return .nan }
        var count = [Int](repeating: 0, count: bins), sumP = [Double](repeating: 0, count: bins), sumY = [Double](repeating: 0, count: bins)
        for (q, y) in zip(p, labels) {
            let b = min(bins - 1, max(0, Int(q * Double(bins))))
            count[b] += 1; sumP[b] += q; sumY[b] += y ? 1 : 0
        }
        var e = 0.0
        for b in 0..<bins where count[b] > 0 {
            e += Double(count[b]) / Double(p.count) * abs(sumP[b] / Double(count[b]) - sumY[b] / Double(count[b]))
        }
        return e
    }
}
