import Logging
import Synchronization
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

    /// Applies operations until the stream finishes. One task moves operations from the
    /// stream into a queue; the other writes whatever has queued up as one transaction, so
    /// under load many calls share one commit and the writer never falls behind one
    /// commit per record.
    public func runUntilStreamEnds() async {
        let pending = PendingWrites()
        let (ready, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await op in operations {
                    pending.queue.withLock { $0.append(op) }
                    signal.yield()
                }
                signal.finish()
            }
            group.addTask {
                for await _ in ready { await write(pending) }
                await write(pending)  // whatever arrived with the end of the stream
            }
        }
    }

    private func write(_ pending: PendingWrites) async {
        let batch = pending.queue.withLock { q -> [StoreOperation] in
            let b = q
            q.removeAll(keepingCapacity: true)
            return b
        }
        for (op, error) in await store.apply(batch) {
            logger.error("store write failed", metadata: ["write": "\(op)", "error": "\(error)"])
        }
    }
}

/// The queue between the stream reader and the batch writer.
private final class PendingWrites: Sendable {
    let queue = Mutex<[StoreOperation]>([])
}
