import Logging
import ServiceLifecycle
import Store

/// Applies the call layer's store operations in order, off the SIP loop. Runs until the
/// stream ends (after SIP has stopped), so records of calls that end while draining land.
public struct StoreWriter: Service {
    let store: Store
    let operations: AsyncStream<StoreOperation>
    let logger: Logger

    public init(store: Store, operations: AsyncStream<StoreOperation>, logger: Logger = Logger(label: "baton.store")) {
        self.store = store
        self.operations = operations
        self.logger = logger
    }

    public func run() async throws {
        await runUntilStreamEnds()
        // The stream ended because SIP stopped; the group expects this service to return
        // only once its own turn to shut down comes.
        try? await gracefulShutdown()
    }

    /// Applies operations until the stream finishes.
    public func runUntilStreamEnds() async {
        for await op in operations {
            do {
                switch op {
                case .call(let r): try await store.save(r)
                case .saveRegistration(let r): try await store.save(r)
                case let .deleteRegistration(aor, contact): try await store.deleteRegistration(aor: aor, contact: contact)
                }
            } catch {
                logger.error("store write failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
