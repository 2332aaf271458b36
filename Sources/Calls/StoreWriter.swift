import Logging
import ServiceLifecycle
import Store

/// Applies the call layer's store operations in order, off the SIP loop. Runs until the
/// stream ends (after SIP has stopped), so records of calls that end while draining land.
public struct StoreWriter: Service {
    let store: any CallStore
    let operations: StoreQueue
    let logger: Logger
    /// How long the writer waits after the first queued operation before it commits
    /// (`store.commit_window_ms`). Each SQLite commit appends every page it touched to the
    /// WAL; a call's record changes two or three times within tens of milliseconds (offer,
    /// answer, delete), and within one window those become one upsert (``Store/apply(_:)``).
    /// 5 ms -> 20 ms cut the writer's CPU in the ng churn benchmark from ~0.5 s to ~0.2 s per
    /// 10 000 calls (docs/performance.md). The price: a record reaches the file up to this
    /// much later, and a crash loses at most this much of the call history (live calls are
    /// in memory either way).
    let commitWindow: Duration

    public init(store: any CallStore, operations: StoreQueue, commitWindow: Duration = .milliseconds(20),
                logger: Logger = Logger(label: "baton.store")) {
        self.store = store
        self.operations = operations
        self.commitWindow = commitWindow
        self.logger = logger
    }

    public func run() async throws {
        await runUntilStreamEnds()
        // The queue was finished because SIP stopped; the group expects this service to return
        // only once its own turn to shut down comes.
        try? await gracefulShutdown()
    }

    /// Applies operations until the queue is finished. Whatever has queued up by the time
    /// the writer looks is one transaction, so under load many calls share one commit and
    /// the writer never falls behind one commit per record.
    public func runUntilStreamEnds() async {
        // Cancelled (the service group gave up): write what is queued, then stop.
        await withTaskCancellationHandler { await writeUntilFinished() } onCancel: { [operations] in operations.finish() }
    }

    private func writeUntilFinished() async {
        while true {
            await operations.waitForWork()
            // Group commit: let the operations of the next few milliseconds join this
            // transaction (one WAL append and lock round for many calls instead of one or
            // two each); a record reaches the file at most `commitWindow` later.
            try? await Task.sleep(for: commitWindow)
            let (batch, finished) = operations.takeAll()
            if !batch.isEmpty {
                for (op, error) in await store.apply(batch) {
                    logger.error("store write failed", metadata: ["write": "\(op)", "error": "\(error)"])
                }
            }
            if finished { return }   // nothing can be queued after finish()
        }
    }
}
