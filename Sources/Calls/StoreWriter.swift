import Logging
import Metrics
import SIP
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

    /// Writes held while the database is unreachable, at most (the oldest go first past it,
    /// counted and logged): ~25 000 calls' records, a few MB.
    static let maxHeld = 100_000

    private func writeUntilFinished() async {
        // Writes the database could not take (an outage), replayed first and in order once it
        // is back; new writes queue behind them. Retries back off from 0.5 s to 2 s.
        var held: [StoreWrite] = []
        var backoff = Duration.milliseconds(500)
        let limiter = LogRateLimiter()
        while true {
            if held.isEmpty { await operations.waitForWork() }
            // Group commit: let the operations of the next few milliseconds join this
            // transaction (one WAL append and lock round for many calls instead of one or
            // two each); a record reaches the file at most `commitWindow` later.
            try? await Task.sleep(for: held.isEmpty ? commitWindow : backoff)
            let (batch, finished) = operations.takeAll()
            let writes = held + batch
            if !writes.isEmpty {
                let failed = await store.apply(writes)
                if !failed.isEmpty && !store.isAvailable {
                    held = failed.map(\.0)
                    if held.count > Self.maxHeld {
                        let dropped = held.count - Self.maxHeld
                        held.removeFirst(dropped)
                        droppedWrites.increment(by: dropped)
                        logger.error("store unreachable: oldest held writes dropped", metadata: ["dropped": "\(dropped)", "held": "\(held.count)"])
                    }
                    heldWrites.record(held.count)
                    limiter.log(logger, .warning, "store unreachable: writes held for replay", metadata: [
                        "held": "\(held.count)", "retry_ms": "\(backoff.components.seconds * 1000 + backoff.components.attoseconds / 1_000_000_000_000_000)"])
                    if finished {
                        logger.error("store unreachable at shutdown: held writes lost", metadata: ["writes": "\(held.count)"])
                        return
                    }
                    backoff = min(backoff * 2, .seconds(2))
                    continue
                }
                if !held.isEmpty { logger.notice("store back: held writes replayed", metadata: ["writes": "\(held.count)"]) }
                held = []
                heldWrites.record(0)
                backoff = .milliseconds(500)
                for (op, error) in failed {
                    logger.error("store write failed", metadata: ["write": "\(op)", "error": "\(error)"])
                }
            }
            if finished { return }   // nothing can be queued after finish()
        }
    }
}

private let heldWrites = Gauge(label: "baton_store_held_writes")
private let droppedWrites = Counter(label: "baton_store_dropped_writes_total")
