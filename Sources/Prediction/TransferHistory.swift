import ContactCenter
import Foundation

/// The model's features, by name: the dialog records' (``DialogFeatures``), the contract
/// between the records, the stored model and tools/model.
public enum TransferFeatures {
    public static let names = DialogFeatures.names
}

/// A history of calls as CSV: a header naming the feature columns (any order, all of the
/// model's features present), `transferred` (0/1), and optionally `true_p` (generated
/// histories) and `split` (`train` / `test`). Unknown columns are an error: a misspelt
/// feature must not silently train as zeros.
public enum TransferHistory {
    public static func parse(_ text: String, features: [String] = TransferFeatures.names,
                             maxRows: Int = 1_000_000) throws(PredictionError) -> [Sample] {
        var lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        lines.removeAll { $0.isEmpty || $0.hasPrefix("#") }
        guard let header = lines.first else { throw .badHistory(line: 1, "empty history") }
        let columns = header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let known = Set(features + ["transferred", "true_p", "split"])
        if let unknown = columns.first(where: { !known.contains($0) }) {
            throw .badHistory(line: 1, "unknown column '\(unknown)' (features: \(features.joined(separator: ", ")))")
        }
        guard Set(columns).count == columns.count else { throw .badHistory(line: 1, "a column appears twice") }
        let index = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, $0) })
        guard let label = index["transferred"] else { throw .badHistory(line: 1, "no 'transferred' column") }
        let missing = features.filter { index[$0] == nil }
        guard missing.isEmpty else { throw .badHistory(line: 1, "missing feature columns: \(missing.joined(separator: ", "))") }
        guard lines.count - 1 <= maxRows else { throw .badHistory(line: maxRows + 2, "more than \(maxRows) calls") }
        var out: [Sample] = []
        out.reserveCapacity(lines.count - 1)
        for (n, line) in lines.dropFirst().enumerated() {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == columns.count else {
                throw .badHistory(line: n + 2, "\(cells.count) values for \(columns.count) columns")
            }
            var x: [Double] = []
            for f in features {
                guard let v = Double(cells[index[f]!]), v.isFinite else { throw .badHistory(line: n + 2, "\(f) is not a number: '\(cells[index[f]!])'") }
                x.append(v)
            }
            let y: Bool
            switch cells[label] {
            case "1", "true": y = true
            case "0", "false": y = false
            default: throw .badHistory(line: n + 2, "transferred must be 0 or 1, not '\(cells[label])'")
            }
            var p: Double?
            if let i = index["true_p"] {
                guard let v = Double(cells[i]), (0...1).contains(v) else { throw .badHistory(line: n + 2, "true_p must be 0..1") }
                p = v
            }
            out.append(Sample(features: x, transferred: y, trueProbability: p, split: index["split"].map { cells[$0] }))
        }
        return out
    }

    /// The training and the held-out part: the file's `split` column, else every
    /// `1/holdout`-th call (deterministic, so a cross-check sees the same parts).
    public static func split(_ samples: [Sample], holdout: Double = 0.3) -> (train: [Sample], test: [Sample]) {
        if samples.allSatisfy({ $0.split != nil }) {
            return (samples.filter { $0.split != "test" }, samples.filter { $0.split == "test" })
        }
        let every = max(2, Int((1 / max(0.01, min(0.99, holdout))).rounded()))
        var train: [Sample] = [], test: [Sample] = []
        for (i, s) in samples.enumerated() { if i % every == every - 1 { test.append(s) } else { train.append(s) } }
        return (train, test)
    }
}
