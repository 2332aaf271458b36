import Foundation
import Logging
import Metrics
import PostgresNIO
import Store
import Synchronization

/// Baton's state on PostgreSQL, for several gateways on one database: the same protocols as
/// the SQLite ``Store/Store``, chosen by `store.url = "postgres://user:password@host:port/db"`.
///
/// ```swift
/// let store = try await PostgresStore.open(url: "postgres://baton@127.0.0.1:5432/baton", logger: logger)
/// defer { Task { await store.close() } }
/// for await change in store.changes() { ... }   // rows other gateways changed
/// ```
/// Every query goes through one connection pool; a dedicated connection LISTENs on
/// `baton_changes` (filled by triggers, schema v2) and reconnects with back-off when the
/// database goes away. Writes are row-level (UPSERTs of one row, `UPDATE ... SET col`), never a
/// read-modify-write of a whole table, so two gateways writing at once keep each other's rows.
public final class PostgresStore: BatonStore, Sendable {
    let client: PostgresClient
    let logger: Logger
    public let location: String
    let queryTimeout: Duration
    private let runTask: Mutex<Task<Void, Never>?> = Mutex(nil)
    private let listenTask: Mutex<Task<Void, Never>?> = Mutex(nil)
    private let probeTask: Mutex<Task<Void, Never>?> = Mutex(nil)
    private let availableGauge = Gauge(label: "baton_store_available")
    private let available = Atomic<Bool>(true)
    private let subscribers = Mutex<[UUID: AsyncStream<StoreChange>.Continuation]>([:])
    /// Operations that failed because the database could not be reached.
    private let unreachable = Counter(label: "baton_store_unreachable_total")

    /// The parts of a `postgres://` URL.
    public struct Address: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var user: String
        public var password: String?
        public var database: String
        /// `sslmode` from the URL's query: disable, prefer (default) or require.
        public var sslMode: String

        /// Parses `postgres://user[:password]@host[:port]/database[?sslmode=...]`
        /// (`postgresql://` too).
        public init(url: String) throws(StoreError) {
            guard let c = URLComponents(string: url), let scheme = c.scheme, ["postgres", "postgresql"].contains(scheme) else {
                throw .open(path: PostgresStore.redacted(url), underlying: "not a postgres:// URL")
            }
            guard let host = c.host, !host.isEmpty else { throw .open(path: PostgresStore.redacted(url), underlying: "no host") }
            guard let user = c.user, !user.isEmpty else { throw .open(path: PostgresStore.redacted(url), underlying: "no user") }
            let db = String(c.path.drop(while: { $0 == "/" }))
            guard !db.isEmpty else { throw .open(path: PostgresStore.redacted(url), underlying: "no database name") }
            let mode = c.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
            guard ["disable", "prefer", "require"].contains(mode) else {
                throw .open(path: PostgresStore.redacted(url), underlying: "sslmode must be disable, prefer or require")
            }
            self.host = host; self.port = c.port ?? 5432; self.user = user
            self.password = c.password?.removingPercentEncoding ?? c.password; self.database = db; self.sslMode = mode
        }
    }

    /// The URL without its password (for logs and errors).
    public static func redacted(_ url: String) -> String {
        guard var c = URLComponents(string: url), c.password != nil else { return url }
        c.password = "***"
        return c.string ?? url
    }

    /// Connects, migrates and starts listening for changes. A database that cannot be reached
    /// within `connectTimeout` is an error (`baton serve` exits non-zero with it).
    public static func open(url: String, logger: Logger, connectTimeout: Duration = .seconds(5), queryTimeout: Duration = .seconds(2),
                            maxConnections: Int = 8) async throws(StoreError) -> PostgresStore {
        let address = try Address(url: url)
        let store: PostgresStore
        do {
            store = try PostgresStore(address: address, location: redacted(url), logger: logger,
                                      connectTimeout: connectTimeout, queryTimeout: queryTimeout, maxConnections: maxConnections)
        } catch {
            throw .open(path: redacted(url), underlying: "TLS set-up: \(error)")
        }
        do {
            try await withDeadline(connectTimeout + .seconds(1)) { try await store.migrate() }
        } catch {
            await store.close()
            throw .open(path: store.location, underlying: PostgresStore.describe(error))
        }
        store.startListening()
        store.startProbing()
        return store
    }

    /// The heartbeat's own connection (``heartbeat(_:)``), outside the pool.
    let beat = Mutex<PostgresConnection?>(nil)
    let beatConfig: PostgresConnection.Configuration

    init(address: Address, location: String, logger: Logger, connectTimeout: Duration, queryTimeout: Duration, maxConnections: Int) throws {
        self.queryTimeout = queryTimeout
        let beatTLS: PostgresConnection.Configuration.TLS = switch address.sslMode {
        case "disable": .disable
        case "require": .require(try .init(configuration: .makeClientConfiguration()))
        default: .prefer(try .init(configuration: .makeClientConfiguration()))
        }
        var bc = PostgresConnection.Configuration(host: address.host, port: address.port, username: address.user,
                                                  password: address.password, database: address.database, tls: beatTLS)
        bc.options.connectTimeout = .milliseconds(Int64(queryTimeout.components.seconds * 1000
                                                        + queryTimeout.components.attoseconds / 1_000_000_000_000_000))
        beatConfig = bc
        let tls: PostgresClient.Configuration.TLS = switch address.sslMode {
        case "disable": .disable
        case "require": .require(.makeClientConfiguration())
        default: .prefer(.makeClientConfiguration())
        }
        var config = PostgresClient.Configuration(host: address.host, port: address.port, username: address.user,
                                                  password: address.password, database: address.database, tls: tls)
        config.options.connectTimeout = connectTimeout
        config.options.maximumConnections = maxConnections
        config.options.keepAliveBehavior = .init(frequency: .seconds(10))
        // The pool logs every failed connection attempt at info; Baton logs the outage once.
        var background = logger
        if logger.logLevel >= .info { background.logLevel = max(logger.logLevel, .warning) }
        self.client = PostgresClient(configuration: config, backgroundLogger: background)
        self.logger = logger
        self.location = location
        let client = self.client
        runTask.withLock { $0 = Task { await client.run() } }
    }

    public var isAvailable: Bool { available.load(ordering: .relaxed) }

    public func close() async {
        listenTask.withLock { $0?.cancel(); $0 = nil }
        probeTask.withLock { $0?.cancel(); $0 = nil }
        if let c = beat.withLock({ c in defer { c = nil }; return c }) { try? await c.close() }
        let t = runTask.withLock { t in defer { t = nil }; return t }
        t?.cancel()
        await t?.value
        subscribers.withLock { s in for c in s.values { c.finish() }; s = [:] }
    }

    // MARK: Migrations

    func migrate() async throws {
        try await client.withTransaction(logger: logger) { conn in
            try await conn.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.lockKey))", logger: logger)
            try await conn.query("CREATE TABLE IF NOT EXISTS baton_migrations (name text PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())",
                                 logger: logger)
            var done = Set<String>()
            for try await name in try await conn.query("SELECT name FROM baton_migrations", logger: logger).decode(String.self) {
                done.insert(name)
            }
            for m in PostgresSchema.migrations where !done.contains(m.name) {
                for sql in m.sql { try await conn.query(PostgresQuery(unsafeSQL: sql), logger: logger) }
                try await conn.query("INSERT INTO baton_migrations (name) VALUES (\(m.name))", logger: logger)
                logger.notice("store migrated", metadata: ["migration": "\(m.name)", "store": "\(location)"])
            }
        }
    }

    // MARK: Changes (LISTEN/NOTIFY)

    public func changes() -> AsyncStream<StoreChange> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<StoreChange>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        continuation.onTermination = { [weak self] _ in _ = self?.subscribers.withLock { $0.removeValue(forKey: id) } }
        subscribers.withLock { $0[id] = continuation }
        return stream
    }

    private func publish(_ c: StoreChange) {
        for s in subscribers.withLock({ Array($0.values) }) { s.yield(c) }
    }

    private func startListening() {
        let task = Task { [weak self] in
            var backoff = Duration.milliseconds(200)
            while !Task.isCancelled {
                guard let self else { return }
                do {
                    try await self.client.withConnection { conn in
                        try await conn.listen(on: "baton_changes") { seq in
                            // Listening again after an outage: whatever changed meanwhile is unknown,
                            // so every cache reloads ("*:").
                            self.publish(StoreChange(table: "*", key: ""))
                            backoff = .milliseconds(200)
                            for try await n in seq {
                                if let c = StoreChange(payload: n.payload) { self.publish(c) }
                            }
                        }
                    }
                } catch {
                    if Task.isCancelled { return }
                    self.logger.warning("store change listener lost; reconnecting", metadata: [
                        "error": "\(PostgresStore.describe(error))", "retry_ms": "\(backoff.components.seconds * 1000 + backoff.components.attoseconds / 1_000_000_000_000_000)"])
                }
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
        listenTask.withLock { $0 = task }
    }

    /// `SELECT 1` every second: an outage is noticed (and new calls refused) even when no call
    /// writes, and the end of one as soon as the database answers again.
    private func startProbing() {
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                guard let self else { return }
                try? await self.exec("SELECT 1")
            }
        }
        probeTask.withLock { $0 = task }
    }

    // MARK: Running queries

    /// Runs `body` and keeps `isAvailable` current: a connection error marks the database gone,
    /// the next success marks it back.
    /// Every operation has `queryTimeout`: while the database is gone the pool would otherwise
    /// hold a request until its circuit breaker trips (60 s), and a call setup waiting on it
    /// would hang instead of getting its 503.
    func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            let v = try await withDeadline(queryTimeout, body)
            if !available.exchange(true, ordering: .relaxed) {
                logger.notice("store reachable again", metadata: ["store": "\(location)"])
            }
            availableGauge.record(1)
            return v
        } catch {
            if PostgresStore.isConnectionError(error) {
                availableGauge.record(0)
                if available.exchange(false, ordering: .relaxed) {
                    logger.error("store unreachable", metadata: ["store": "\(location)", "error": "\(PostgresStore.describe(error))"])
                }
                unreachable.increment()
            }
            throw StoreError.query(PostgresStore.describe(error))
        }
    }

    func exec(_ q: PostgresQuery) async throws {
        let (client, logger) = (client, logger)
        _ = try await run {
            for try await _ in try await client.query(q, logger: logger) {}
        }
    }

    func rows<each T: PostgresDecodable & Sendable>(_ q: PostgresQuery, _ types: (repeat each T).Type) async throws -> [(repeat each T)] {
        let (client, logger) = (client, logger)
        return try await run {
            var out: [(repeat each T)] = []
            for try await row in try await client.query(q, logger: logger).decode((repeat each T).self) { out.append(row) }
            return out
        }
    }

    /// Whether `error` means the database could not be reached (as opposed to a query it refused).
    static func isConnectionError(_ error: any Error) -> Bool {
        if error is DeadlineExceeded { return true }
        guard let e = error as? PSQLError else { return "\(error)".lowercased().contains("connect") }
        return [.connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
                .sslUnsupported, .failedToAddSSLHandler].contains(e.code)
    }

    /// PSQLError hides the server's message behind `String(reflecting:)`; errors and logs want it.
    static func describe(_ error: any Error) -> String {
        if let e = error as? PSQLError {
            if let msg = e.serverInfo?[.message] { return "\(e.code): \(msg)" }
            if let u = e.underlying { return "\(e.code): \(u)" }
            return "\(e.code)"
        }
        return "\(error)"
    }
}

struct DeadlineExceeded: Error, CustomStringConvertible {
    var description: String { "timed out" }
}

/// Runs `body`, throwing ``DeadlineExceeded`` when it has not finished within `limit`.
func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { g in
        g.addTask { try await body() }
        g.addTask { try await Task.sleep(for: limit); throw DeadlineExceeded() }
        defer { g.cancelAll() }
        return try await g.next()!
    }
}
