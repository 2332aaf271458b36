import ContactCenter
import Foundation
import Logging

/// Training from the calls Baton carried (issue 20: "trained on the stored history of
/// transfers, and on a schedule"): the samples stored as bot calls end or are transferred
/// (``ContactCenter/recordSamples(call:caller:minutes:transferredTo:)``), split by time
/// (the newest 30 % held out), a model trained on the older part and evaluated on the newer.
/// A scheduled run installs it only when it does at least as well on that held-out part as
/// the model in force (AUC within 0.005): retraining never silently makes predictions worse.
public struct Retraining: Sendable {
    public let center: ContactCenter
    public let models: TransferModels
    /// Fewest samples, and fewest transferred ones, worth training on.
    public var minSamples = 200
    public var minPositives = 20
    public var holdout = 0.3
    private let logger = Logger(label: "baton.model")

    public init(center: ContactCenter, models: TransferModels) {
        self.center = center
        self.models = models
    }

    public enum Outcome: Sendable, Equatable {
        case installed(TransferModel)
        /// Trained and evaluated, not installed: it did worse than the model in force.
        case kept(new: TransferModel.Evaluation, current: TransferModel.Evaluation)
        case notEnoughData(samples: Int, positives: Int)
    }

    /// The stored samples as the model's vectors, oldest first.
    public func samples() async throws(ContactCenterError) -> [Sample] {
        try await center.transferSamples().map { s in
            Sample(features: TransferFeatures.names.map { s.features[$0] ?? 0 }, transferred: s.transferred)
        }
    }

    /// One round: train on the stored samples and install when not worse (or `force`).
    public func run(force: Bool = false) async throws -> Outcome {
        let all = try await samples()
        let positives = all.filter(\.transferred).count
        guard all.count >= minSamples, positives >= minPositives, positives < all.count else {
            return .notEnoughData(samples: all.count, positives: positives)
        }
        let cut = Int(Double(all.count) * (1 - holdout))
        let train = Array(all[..<cut]), test = Array(all[cut...])
        var model = try TransferModel.train(train, features: TransferFeatures.names)
        model.evaluation = model.evaluate(test)
        if !force, let current = models.model, let new = model.evaluation {
            let old = current.evaluate(test)
            if new.auc < old.auc - 0.005 {
                logger.notice("retrained model not installed: worse than the one in force on the newest calls",
                              metadata: ["new_auc": "\(new.auc)", "current_auc": "\(old.auc)", "samples": "\(all.count)"])
                return .kept(new: new, current: old)
            }
        }
        let installed = try await models.install(model)
        logger.notice("retrained model installed", metadata: ["version": "\(installed.version)", "samples": "\(all.count)",
                                                               "auc": "\(installed.evaluation?.auc ?? 0)"])
        return .installed(installed)
    }
}
