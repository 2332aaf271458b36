import ArgumentParser
import Foundation
import ContactCenter
import Prediction
import Store

/// `baton model train|show`: the transfer-probability model (docs/contact-center.md).
struct ModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Train and show the transfer-probability model.",
        subcommands: [Train.self, Show.self])

    /// A model as the commands print it: pretty JSON, keys sorted.
    static func print(_ m: TransferModel) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        Swift.print(String(decoding: try encoder.encode(m), as: UTF8.self))
    }

    struct Train: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train on a history of calls (CSV), evaluate on its held-out part, store it as the next version and print it (JSON).")
        @Option(help: "History CSV: the feature columns, transferred (0/1), optionally true_p and split (train/test).")
        var csv: String?
        @Flag(help: "Train on the samples the gateway stored from the calls it carried (newest 30 % held out) instead of a CSV; installed even when worse than the model in force.")
        var fromStore = false
        @Option(help: "Share of calls held out for evaluation when the file has no split column.") var holdout: Double = 0.3
        @Option(help: "L2 penalty on the weights (scikit-learn's 1/C).") var l2: Double = 1
        @Flag(help: "Evaluate and print, but do not store.") var dryRun = false
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let config = try options.load()
            if fromStore {
                guard csv == nil else { throw ValidationError("--csv and --from-store exclude each other") }
                let store = try await config.openStore()
                let center = ContactCenter(store: store)
                var retraining = Retraining(center: center, models: TransferModels(store: store))
                retraining.minSamples = 50
                retraining.minPositives = 5
                guard !dryRun else { throw ValidationError("--dry-run is for --csv") }
                switch try await retraining.run(force: true) {
                case let .installed(m):
                    try ModelCommand.print(m)
                    FileHandle.standardError.write(Data("model version \(m.version) saved in \(config.storeLocation)\n".utf8))
                case let .notEnoughData(n, p):
                    throw ValidationError("not enough stored samples: \(n) (\(p) transferred); at least 50 with 5 transferred")
                case .kept:
                    break
                }
                return
            }
            guard let csv else { throw ValidationError("give --csv FILE or --from-store") }
            let text: String
            do { text = try String(contentsOfFile: csv, encoding: .utf8) } catch { throw ValidationError("cannot read \(csv): \(error.localizedDescription)") }
            do {
                let samples = try TransferHistory.parse(text)
                let (train, test) = TransferHistory.split(samples, holdout: holdout)
                var model = try TransferModel.train(train, features: TransferFeatures.names, l2: l2)
                if !test.isEmpty { model.evaluation = model.evaluate(test) }
                if !dryRun { model = try await TransferModels(store: try await config.openStore()).install(model) }
                try ModelCommand.print(model)
                if !dryRun { FileHandle.standardError.write(Data("model version \(model.version) saved in \(config.storeLocation)\n".utf8)) }
            } catch let e as PredictionError {
                throw ValidationError(e.description)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the model in force (JSON).")
        @OptionGroup var options: ConfigOptions
        func run() async throws {
            let models = TransferModels(store: try await options.load().openStore())
            guard let m = try await models.load() else { throw ValidationError("no model trained yet (baton model train --csv FILE)") }
            try ModelCommand.print(m)
        }
    }
}
