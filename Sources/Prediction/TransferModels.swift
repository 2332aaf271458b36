import Foundation
import Store
import Synchronization

/// The transfer-probability model in force: the newest one in the store, kept in memory for
/// the API. `install` stores a trained model under the next version.
public final class TransferModels: Sendable {
    private let current = Mutex<TransferModel?>(nil)
    private let store: (any TransferModelStore)?

    public init(store: (any TransferModelStore)?) { self.store = store }

    public var model: TransferModel? { current.withLock { $0 } }

    /// Reads the newest stored model. One whose features are not Baton's (another version of
    /// the feature set) is refused and the one in force stays.
    @discardableResult
    public func load() async throws -> TransferModel? {
        guard let store, let record = try await store.latestTransferModel() else { return model }
        let m = try TransferModels.decode(record)
        current.withLock { $0 = m }
        return m
    }

    static func decode(_ record: TransferModelRecord) throws(PredictionError) -> TransferModel {
        guard var m = try? JSONDecoder().decode(TransferModel.self, from: Data(record.model.utf8)) else {
            throw .wrongModel("version \(record.version) is not a transfer model this Baton reads")
        }
        guard m.features == TransferFeatures.names, m.weights.count == m.features.count else {
            throw .wrongModel("version \(record.version) was trained on features \(m.features), not \(TransferFeatures.names)")
        }
        m.version = record.version
        return m
    }

    /// Stores `model` as the next version and puts it in force; returns it with its version.
    public func install(_ model: TransferModel) async throws -> TransferModel {
        var m = model
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        if let store {
            m.version = try await store.insertTransferModel(json: String(decoding: try encoder.encode(m), as: UTF8.self), created: m.created)
        } else {
            m.version = (self.model?.version ?? 0) + 1
        }
        current.withLock { [m] in $0 = m }
        return m
    }
}
