import Foundation
import GRDB
import Logging

/// A registration row (mirrors SIP's `Registration` without depending on SIP).
public struct RegistrationRecord: Codable, Sendable, Equatable {
    public var aor: String
    public var contact: String
    public var transport: String
    public var sourceHost: String
    public var sourcePort: Int
    /// Unix time (seconds).
    public var expires: Double
    public var callID: String
    public var cseq: Int
    /// The REGISTER's Path headers (RFC 3327), JSON array; "" or "[]" when none.
    public var path: String

    public init(aor: String, contact: String, transport: String, sourceHost: String, sourcePort: Int,
                expires: Double, callID: String, cseq: Int, path: String = "") {
        self.aor = aor; self.contact = contact; self.transport = transport; self.sourceHost = sourceHost
        self.sourcePort = sourcePort; self.expires = expires; self.callID = callID; self.cseq = cseq; self.path = path
    }
}

/// A call record: when it started, was answered and ended, who hung up and why.
public struct CallRecord: Codable, Sendable, Equatable {
    public var id: String
    public var caller: String
    public var callee: String
    public var callerCallID: String
    public var calleeCallID: String?
    /// Unix times (seconds).
    public var started: Double
    public var answered: Double?
    public var ended: Double?
    /// "caller", "callee" or nil when Baton ended it (timeout, error, shutdown).
    public var hungUpBy: String?
    public var reason: String?

    public init(id: String, caller: String, callee: String, callerCallID: String, calleeCallID: String? = nil,
                started: Double, answered: Double? = nil, ended: Double? = nil, hungUpBy: String? = nil, reason: String? = nil) {
        self.id = id; self.caller = caller; self.callee = callee; self.callerCallID = callerCallID
        self.calleeCallID = calleeCallID; self.started = started; self.answered = answered; self.ended = ended
        self.hungUpBy = hungUpBy; self.reason = reason
    }
}

/// Errors of the Store module.
public enum StoreError: Error, CustomStringConvertible {
    case open(path: String, underlying: String)
    case query(String)
    public var description: String {
        switch self {
        case let .open(p, u): return "cannot open store at \(p): \(u)"
        case let .query(u): return "store query failed: \(u)"
        }
    }
}

/// Baton's persistent state on SQLite (GRDB): registrations and call records.
///
/// ```swift
/// let store = try Store(path: "var/baton.sqlite")   // ":memory:" for tests
/// try await store.save(record)
/// let live = try await store.registrations(validAt: Date().timeIntervalSince1970)
/// ```
/// PostgreSQL, for several gateways sharing state, comes with a later issue; the API is
/// what both will implement.
public final class Store: Sendable {
    private let db: DatabaseQueue
    public let path: String

    public init(path: String) throws(StoreError) {
        self.path = path
        do {
            if path != ":memory:" {
                let dir = (path as NSString).deletingLastPathComponent
                if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            }
            var config = Configuration()
            config.busyMode = .timeout(5)
            // WAL with synchronous=NORMAL: a commit is an append to the log, not an fsync of
            // the database per call event (durable across a process crash; the last commits
            // can be lost only on power loss).
            if path != ":memory:" {
                config.prepareDatabase { db in
                    try db.execute(sql: "PRAGMA journal_mode = WAL")
                    try db.execute(sql: "PRAGMA synchronous = NORMAL")
                }
            }
            db = path == ":memory:" ? try DatabaseQueue(configuration: config) : try DatabaseQueue(path: path, configuration: config)
            try Store.migrator.migrate(db)
        } catch {
            throw .open(path: path, underlying: "\(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.create(table: "registrations") { t in
                t.column("aor", .text).notNull()
                t.column("contact", .text).notNull()
                t.column("transport", .text).notNull()
                t.column("sourceHost", .text).notNull()
                t.column("sourcePort", .integer).notNull()
                t.column("expires", .double).notNull()
                t.column("callID", .text).notNull()
                t.column("cseq", .integer).notNull()
                t.primaryKey(["aor", "contact"])
            }
            try db.create(table: "calls") { t in
                t.primaryKey("id", .text)
                t.column("caller", .text).notNull()
                t.column("callee", .text).notNull()
                t.column("callerCallID", .text).notNull()
                t.column("calleeCallID", .text)
                t.column("started", .double).notNull()
                t.column("answered", .double)
                t.column("ended", .double)
                t.column("hungUpBy", .text)
                t.column("reason", .text)
            }
            try db.create(index: "calls_started", on: "calls", columns: ["started"])
        }
        m.registerMigration("v2-call-events") { db in
            try db.create(table: "call_events") { t in
                t.autoIncrementedPrimaryKey("seq")
                t.column("callID", .text).notNull()
                t.column("time", .double).notNull()
                t.column("kind", .text).notNull()
                t.column("operation", .text)
                t.column("detail", .text)
            }
            try db.create(index: "call_events_call", on: "call_events", columns: ["callID", "seq"])
        }
        m.registerMigration("v3-devices") { db in
            try db.create(table: "devices") { t in
                t.column("user", .text).notNull()
                t.column("id", .text).notNull()
                t.column("aor", .text).notNull()
                t.column("kind", .text).notNull()
                t.column("priority", .integer).notNull().defaults(to: 0)
                t.primaryKey(["user", "id"])
            }
        }
        m.registerMigration("v4-identity-cache") { db in
            try db.create(table: "identity_cache") { t in
                t.column("orig", .text).notNull()
                t.column("dest", .text).notNull()
                t.column("identities", .text).notNull()
                t.column("expires", .double).notNull()
                t.primaryKey(["orig", "dest"])
            }
        }
        m.registerMigration("v5-forwarding") { db in
            try db.create(table: "forwarding") { t in
                t.column("number", .text).notNull()
                t.column("on", .text).notNull()
                t.column("to", .text).notNull()
                t.column("afterSeconds", .integer).notNull().defaults(to: 20)
                t.primaryKey(["number", "on"])
            }
        }
        m.registerMigration("v6-contact-center") { db in
            try db.create(table: "agents") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull()
                t.column("aor", .text)
                t.column("skills", .text).notNull().defaults(to: "[]")
                t.column("logins", .text).notNull().defaults(to: "{}")
            }
            try db.create(table: "categories") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull()
                t.column("description", .text).notNull().defaults(to: "")
                t.column("contacts", .text).notNull().defaults(to: "[]")
                t.column("hours", .text)
            }
            try db.create(table: "call_data") { t in
                t.column("tenant", .text).notNull()
                t.column("callID", .text).notNull()
                t.column("data", .text).notNull()
                t.column("updated", .double).notNull()
                t.primaryKey(["tenant", "callID"])
            }
            try db.create(table: "call_keys") { t in
                t.primaryKey("key", .text)
                t.column("tenant", .text).notNull()
                t.column("callID", .text).notNull()
                t.column("created", .double).notNull()
                t.column("expires", .double).notNull()
            }
            try db.create(index: "call_keys_expires", on: "call_keys", columns: ["expires"])
        }
        m.registerMigration("v7-sip-users") { db in
            try db.create(table: "sip_users") { t in
                t.primaryKey("user", .text)
                t.column("realm", .text).notNull()
                t.column("ha1MD5", .text).notNull()
                t.column("ha1SHA256", .text).notNull()
                t.column("created", .double).notNull()
            }
        }
        m.registerMigration("v8-api-tokens") { db in
            try db.create(table: "api_tokens") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull()
                t.column("role", .text).notNull()
                t.column("tenant", .text).notNull()
                t.column("agent", .text)
                t.column("hash", .text).notNull()
                t.column("created", .double).notNull()
            }
        }
        m.registerMigration("v9-call-key-agent") { db in
            // The agent a transfer's key was made for (nil: any holder in the tenant).
            try db.alter(table: "call_keys") { t in t.add(column: "agent", .text) }
        }
        m.registerMigration("v11-dialog-records") { db in
            // What a bot application reported during a call (and, later, what Baton measured):
            // the dialog information records the transfer model's features come from.
            try db.create(table: "dialog_records") { t in
                t.autoIncrementedPrimaryKey("seq")
                t.column("callID", .text).notNull()
                t.column("time", .double).notNull()
                t.column("kind", .text).notNull()
                t.column("detail", .text).notNull()
            }
            try db.create(index: "dialog_records_call", on: "dialog_records", columns: ["callID", "seq"])
            // Every transfer asked for: who called, to which candidate (an agent id or
            // "category:<id>"): the history the model's prior-transfer features count.
            try db.create(table: "transfers") { t in
                t.autoIncrementedPrimaryKey("seq")
                t.column("callID", .text).notNull()
                t.column("caller", .text).notNull()
                t.column("candidate", .text).notNull()
                t.column("time", .double).notNull()
            }
            try db.create(index: "transfers_caller", on: "transfers", columns: ["caller", "candidate"])
        }
        m.registerMigration("v10-transfer-models") { db in
            // Every trained transfer-probability model, newest version in force.
            try db.create(table: "transfer_models") { t in
                t.primaryKey("version", .integer)
                t.column("created", .double).notNull()
                t.column("model", .text).notNull()
            }
        }
        m.registerMigration("v12-stored-settings") { db in
            // Settings changed at run time over the API (conversation rules), kept across
            // restarts: a JSON value per name with the time it was set.
            try db.create(table: "stored_settings") { t in
                t.primaryKey("name", .text)
                t.column("value", .text).notNull()
                t.column("updated", .double).notNull()
            }
        }
        m.registerMigration("v13-forwarding-history") { db in
            // Calls to each number and how many its device forwarded (STIR "likely to forward").
            try db.create(table: "forwarding_history") { t in
                t.primaryKey("number", .text)
                t.column("calls", .integer).notNull()
                t.column("forwards", .integer).notNull()
                t.column("updated", .double).notNull()
            }
        }
        m.registerMigration("v14-transfer-samples") { db in
            // The transfer model's training data, from the calls Baton carried.
            try db.create(table: "transfer_samples") { t in
                t.autoIncrementedPrimaryKey("seq")
                t.column("callID", .text).notNull()
                t.column("candidate", .text).notNull()
                t.column("features", .text).notNull()
                t.column("transferred", .boolean).notNull()
                t.column("time", .double).notNull()
            }
            try db.create(index: "transfer_samples_time", on: "transfer_samples", columns: ["time"])
        }
        m.registerMigration("v15-call-anchors") { db in
            // The calls this gateway anchors and their legs' dialogs: after a crash, the
            // restarted gateway (or, on PostgreSQL, a surviving one) sends their BYEs.
            try db.create(table: "call_anchors") { t in
                t.primaryKey("callID", .text)
                t.column("gateway", .text).notNull()
                t.column("caller", .text).notNull()
                t.column("callee", .text).notNull()
                t.column("updated", .double).notNull()
            }
            try db.create(index: "call_anchors_gateway", on: "call_anchors", columns: ["gateway"])
        }
        m.registerMigration("v16-registration-path") { db in
            // RFC 3327: the proxies a registered contact is reached through.
            try db.alter(table: "registrations") { t in t.add(column: "path", .text).notNull().defaults(to: "") }
        }
        m.registerMigration("v17-call-anchor-state") { db in
            // A call's sealed resume state: the gateway takes its calls back after a restart.
            try db.alter(table: "call_anchors") { t in t.add(column: "state", .text).notNull().defaults(to: "") }
        }
        return m
    }

    // MARK: Call anchors

    public func anchors(gateway: String) async throws -> [CallAnchorRecord] {
        try await db.read { try CallAnchorRecord.filter(Column("gateway") == gateway).fetchAll($0) }
    }

    public func deleteAnchors(gateway: String) async throws {
        _ = try await db.write { try CallAnchorRecord.filter(Column("gateway") == gateway).deleteAll($0) }
    }

    // MARK: Transfer samples

    public func append(_ samples: [TransferSampleRecord]) async throws {
        try await db.write { db in for r in samples { var x = r; try x.insert(db) } }
    }

    /// The newest `limit` samples, oldest first.
    public func transferSamples(limit: Int) async throws -> [TransferSampleRecord] {
        try await db.read { try TransferSampleRecord.order(Column("seq").desc).limit(limit).fetchAll($0).reversed() }
    }

    // MARK: Forwarding history

    public func addForwardingCounts(number: String, calls: Int, forwards: Int, at time: Double) async throws {
        try await db.write { db in
            try db.execute(sql: "INSERT INTO forwarding_history(number, calls, forwards, updated) VALUES (?, ?, ?, ?) ON CONFLICT(number) DO UPDATE SET calls = forwarding_history.calls + excluded.calls, forwards = forwarding_history.forwards + excluded.forwards, updated = excluded.updated",
                           arguments: [number, calls, forwards, time])
        }
    }

    public func forwardingCounts() async throws -> [(number: String, calls: Int, forwards: Int)] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT number, calls, forwards FROM forwarding_history").map { ($0["number"], $0["calls"], $0["forwards"]) }
        }
    }

    // MARK: Settings changed at run time

    public func saveStoredSetting(_ name: String, value: String, at time: Double) async throws {
        try await db.write { db in
            try db.execute(sql: "INSERT INTO stored_settings(name, value, updated) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated = excluded.updated",
                           arguments: [name, value, time])
        }
    }

    /// The stored value and when it was set, if any.
    public func storedSetting(_ name: String) async throws -> (value: String, updated: Double)? {
        try await db.read { db in
            try Row.fetchOne(db, sql: "SELECT value, updated FROM stored_settings WHERE name = ?", arguments: [name]).map { ($0["value"], $0["updated"]) }
        }
    }

    // MARK: HTTP API tokens

    public func save(_ r: APITokenRecord) async throws { try await db.write { try r.save($0) } }

    // MARK: Dialog records and transfers

    public func append(_ r: DialogRecord) async throws { try await db.write { var x = r; try x.insert($0) } }

    public func dialogRecords(callID: String, limit: Int = 1000) async throws -> [DialogRecord] {
        try await db.read { try DialogRecord.filter(Column("callID") == callID).order(Column("seq")).limit(limit).fetchAll($0) }
    }

    public func append(_ r: TransferRecord) async throws { try await db.write { var x = r; try x.insert($0) } }

    /// How many transfers `caller` had to `candidate`, how many to `candidate` from anyone,
    /// and how many in all (the prior-transfer features).
    public func transferCounts(caller: String, candidate: String) async throws -> (callerToCandidate: Int, toCandidate: Int, all: Int) {
        try await db.read { db in
            (try TransferRecord.filter(Column("caller") == caller && Column("candidate") == candidate).fetchCount(db),
             try TransferRecord.filter(Column("candidate") == candidate).fetchCount(db),
             try TransferRecord.fetchCount(db))
        }
    }

    // MARK: Transfer-probability models

    /// Stores a model under the next version; returns that version.
    public func insertTransferModel(json: String, created: Double) async throws -> Int {
        try await db.write { db in
            let next = (try Int.fetchOne(db, sql: "SELECT MAX(version) FROM transfer_models") ?? 0) + 1
            try TransferModelRecord(version: next, created: created, model: json).insert(db)
            return next
        }
    }

    /// The newest model, if any.
    public func latestTransferModel() async throws -> TransferModelRecord? {
        try await db.read { try TransferModelRecord.order(Column("version").desc).fetchOne($0) }
    }

    @discardableResult
    public func deleteAPIToken(id: String) async throws -> Bool {
        try await db.write { try APITokenRecord.deleteOne($0, key: id) }
    }

    public func apiTokens() async throws -> [APITokenRecord] {
        try await db.read { try APITokenRecord.order(Column("created")).fetchAll($0) }
    }

    // MARK: SIP users (digest credentials)

    public func save(_ r: SIPUserRecord) async throws { try await db.write { try r.save($0) } }

    @discardableResult
    public func deleteSIPUser(_ user: String) async throws -> Bool {
        try await db.write { try SIPUserRecord.deleteOne($0, key: user) }
    }

    public func sipUsers() async throws -> [SIPUserRecord] {
        try await db.read { try SIPUserRecord.order(Column("user")).fetchAll($0) }
    }

    // MARK: Contact center (agents, categories, call data, call keys)

    public func save(_ r: AgentRecord) async throws {
        try await db.write { db in
            try db.execute(sql: """
                INSERT INTO agents (id, name, aor, skills, logins) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET name = excluded.name, aor = excluded.aor, skills = excluded.skills
                """, arguments: [r.id, r.name, r.aor, r.skills, r.logins])
        }
    }

    public func setAgentLogin(id: String, system: String, login: String) async throws -> AgentRecord? {
        try await db.write { db in
            try db.execute(sql: "UPDATE agents SET logins = json_set(logins, '$.\"' || ? || '\"', json(?)) WHERE id = ?",
                           arguments: [system, login, id])
            return try AgentRecord.fetchOne(db, key: id)
        }
    }
    public func agents() async throws -> [AgentRecord] { try await db.read { try AgentRecord.order(Column("id")).fetchAll($0) } }
    @discardableResult
    public func deleteAgent(id: String) async throws -> Bool { try await db.write { try AgentRecord.deleteOne($0, key: id) } }

    public func save(_ r: CategoryRecord) async throws { try await db.write { try r.save($0) } }
    public func categories() async throws -> [CategoryRecord] { try await db.read { try CategoryRecord.order(Column("id")).fetchAll($0) } }
    @discardableResult
    public func deleteCategory(id: String) async throws -> Bool { try await db.write { try CategoryRecord.deleteOne($0, key: id) } }

    public func save(_ r: CallDataRecord) async throws { try await db.write { try r.save($0) } }
    public func callData(tenant: String, callID: String) async throws -> CallDataRecord? {
        try await db.read { try CallDataRecord.fetchOne($0, key: ["tenant": tenant, "callID": callID]) }
    }

    /// Inserts a key if no live key (unexpired at `now`) has the same text; expired rows go
    /// first. Returns false when the key is taken (the caller draws another).
    public func insertKey(_ k: CallKeyRecord, now: Double) async throws -> Bool {
        try await db.write { db in
            try db.execute(sql: "DELETE FROM call_keys WHERE expires <= ?", arguments: [now - 86400])
            if let old = try CallKeyRecord.fetchOne(db, key: k.key) {
                guard old.expires <= now else { return false }
                try old.delete(db)
            }
            try k.insert(db)
            return true
        }
    }

    /// A key as stored (expired or not); nil when unknown.
    public func callKey(_ key: String) async throws -> CallKeyRecord? {
        try await db.read { try CallKeyRecord.fetchOne($0, key: key) }
    }

    // MARK: Forwarding rules set over the API

    public func save(_ r: ForwardingRecord) async throws { try await db.write { try r.save($0) } }

    @discardableResult
    public func deleteForwarding(number: String, on: String) async throws -> Bool {
        try await db.write { try ForwardingRecord.deleteOne($0, key: ["number": number, "on": on]) }
    }

    public func forwardingRules() async throws -> [ForwardingRecord] {
        try await db.read { try ForwardingRecord.order(Column("number"), Column("on")).fetchAll($0) }
    }

    // MARK: Identity kept for forwarding (STIR div)

    /// Keeps the Identity header values of a call from `orig` to `dest` (canonical numbers)
    /// until `expires`, so a forwarded INVITE that names `dest` as diverting can carry them.
    public func keepIdentities(orig: String, dest: String, values: [String], expires: Double) async throws {
        let json = String(decoding: try JSONEncoder().encode(values), as: UTF8.self)
        try await db.write { db in
            try db.execute(sql: "DELETE FROM identity_cache WHERE expires <= ?", arguments: [expires - 86400])
            try db.execute(sql: "INSERT OR REPLACE INTO identity_cache (orig, dest, identities, expires) VALUES (?, ?, ?, ?)",
                           arguments: [orig, dest, json, expires])
        }
    }

    /// The values kept for a call from `orig` to `dest`, if they have not expired at `now`;
    /// removed in the same transaction, so two forwarded INVITEs cannot both use them.
    public func takeIdentities(orig: String, dest: String, now: Double) async throws -> [String]? {
        let json = try await db.write { db in
            let v = try String.fetchOne(db, sql: "SELECT identities FROM identity_cache WHERE orig = ? AND dest = ? AND expires > ?",
                                        arguments: [orig, dest, now])
            try db.execute(sql: "DELETE FROM identity_cache WHERE orig = ? AND dest = ?", arguments: [orig, dest])
            return v
        }
        return json.flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }
    }

    // MARK: Registrations

    public func save(_ r: RegistrationRecord) async throws {
        try await db.write { try r.save($0) }
    }

    public func deleteRegistration(aor: String, contact: String) async throws {
        _ = try await db.write { try RegistrationRecord.deleteOne($0, key: ["aor": aor, "contact": contact]) }
    }

    public func registrations(aor: String, validAt time: Double) async throws -> [RegistrationRecord] {
        try await db.read { try RegistrationRecord.filter(Column("aor") == aor && Column("expires") > time).fetchAll($0) }
    }

    /// Bindings still valid at `time`; expired rows are purged on the way.
    public func registrations(validAt time: Double) async throws -> [RegistrationRecord] {
        try await db.write { db in
            try RegistrationRecord.filter(Column("expires") <= time).deleteAll(db)
            return try RegistrationRecord.order(Column("aor")).fetchAll(db)
        }
    }

    // MARK: Batched writes

    /// Applies writes in order in one transaction (one WAL commit for the whole batch).
    /// If the batch fails it is retried one write at a time, so one bad record does not
    /// take the others with it; the errors of the writes that still fail are returned.
    @discardableResult
    public func apply(_ writes: [StoreWrite]) async -> [(StoreWrite, any Error)] {
        guard !writes.isEmpty else { return [] }
        let writes = Store.coalesced(writes)
        do {
            try await db.write { db in for w in writes { try Store.apply(w, db) } }
            return []
        } catch {
            var failed: [(StoreWrite, any Error)] = []
            for w in writes {
                do { try await db.write { try Store.apply(w, $0) } } catch { failed.append((w, error)) }
            }
            return failed
        }
    }

    /// A call record is written whole each time its call changes; within one batch only the
    /// last version of each record matters (it replaces the earlier ones in place).
    public static func coalesced(_ writes: [StoreWrite]) -> [StoreWrite] {
        var last: [String: Int] = [:]
        for (i, w) in writes.enumerated() { if case .call(let r) = w { last[r.id] = i } }
        guard last.count < writes.filter({ if case .call = $0 { true } else { false } }).count else { return writes }
        return writes.enumerated().compactMap { i, w in
            if case .call(let r) = w, last[r.id] != i { return nil }
            return w
        }
    }

    private static func apply(_ w: StoreWrite, _ db: Database) throws {
        switch w {
        case .call(let r):
            // One cached statement: GRDB's record upsert re-builds and re-fetches the row,
            // which cost ~20 % of the CPU of an ng offer+answer (perf, tools/bench/ng_rate.py).
            // An UPSERT updates the row in place (INSERT OR REPLACE deletes and re-inserts it,
            // index entries included).
            try db.cachedStatement(sql: """
                INSERT INTO calls (id, caller, callee, callerCallID, calleeCallID, started, answered, ended, hungUpBy, reason)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET caller = excluded.caller, callee = excluded.callee,
                    callerCallID = excluded.callerCallID, calleeCallID = excluded.calleeCallID, started = excluded.started,
                    answered = excluded.answered, ended = excluded.ended, hungUpBy = excluded.hungUpBy, reason = excluded.reason
                """).execute(arguments: [r.id, r.caller, r.callee, r.callerCallID, r.calleeCallID, r.started, r.answered,
                                          r.ended, r.hungUpBy, r.reason])
        case .saveRegistration(let r): try r.save(db)
        case let .deleteRegistration(aor, contact):
            _ = try RegistrationRecord.deleteOne(db, key: ["aor": aor, "contact": contact])
        case .event(let e): try e.insert(db)
        case .anchor(let a):
            try db.cachedStatement(sql: """
                INSERT INTO call_anchors (callID, gateway, caller, callee, updated, state) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(callID) DO UPDATE SET gateway = excluded.gateway, caller = excluded.caller, callee = excluded.callee,
                    updated = excluded.updated, state = excluded.state
                """).execute(arguments: [a.callID, a.gateway, a.caller, a.callee, a.updated, a.state])
        case .releaseAnchor(let id):
            try db.cachedStatement(sql: "DELETE FROM call_anchors WHERE callID = ?").execute(arguments: [id])
        case .sharedMember:
            break   // one gateway per SQLite file: nobody to tell
        }
    }

    // MARK: Calls

    public func save(_ c: CallRecord) async throws {
        try await db.write { try c.save($0) }
    }

    public func call(id: String) async throws -> CallRecord? {
        try await db.read { try CallRecord.fetchOne($0, key: id) }
    }

    // MARK: Devices

    public func save(_ d: DeviceRecord) async throws { try await db.write { try d.save($0) } }

    @discardableResult
    public func deleteDevice(user: String, id: String) async throws -> Bool {
        try await db.write { try DeviceRecord.deleteOne($0, key: ["user": user, "id": id]) }
    }

    public func devices() async throws -> [DeviceRecord] {
        try await db.read { try DeviceRecord.order(Column("user"), Column("priority"), Column("id")).fetchAll($0) }
    }

    /// Events of a call (switchovers ...), oldest first.
    public func events(call id: String) async throws -> [CallEventRecord] {
        try await db.read { try CallEventRecord.filter(Column("callID") == id).order(Column("seq")).fetchAll($0) }
    }

    /// Most recent first.
    public func calls(limit: Int = 100) async throws -> [CallRecord] {
        try await db.read { try CallRecord.order(Column("started").desc).limit(limit).fetchAll($0) }
    }
}

// MARK: The records as SQLite rows (GRDB); the records themselves know no database.

extension RegistrationRecord: FetchableRecord, PersistableRecord { public static let databaseTableName = "registrations" }
extension CallRecord: FetchableRecord, PersistableRecord { public static let databaseTableName = "calls" }
extension CallEventRecord: FetchableRecord, PersistableRecord { public static let databaseTableName = "call_events" }
extension DeviceRecord: FetchableRecord, PersistableRecord { public static let databaseTableName = "devices" }
extension ForwardingRecord: FetchableRecord, PersistableRecord { public static let databaseTableName = "forwarding" }
extension SIPUserRecord: FetchableRecord, PersistableRecord { public static let databaseTableName = "sip_users" }
extension APITokenRecord: FetchableRecord, PersistableRecord { public static let databaseTableName = "api_tokens" }
extension TransferModelRecord: FetchableRecord, PersistableRecord { public static let databaseTableName = "transfer_models" }
extension DialogRecord: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "dialog_records"
    public mutating func didInsert(_ inserted: InsertionSuccess) { seq = inserted.rowID }
}
extension TransferSampleRecord: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "transfer_samples"
    public mutating func didInsert(_ inserted: InsertionSuccess) { seq = inserted.rowID }
}
extension TransferRecord: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "transfers"
    public mutating func didInsert(_ inserted: InsertionSuccess) { seq = inserted.rowID }
}
extension AgentRecord: FetchableRecord, PersistableRecord { public static let databaseTableName = "agents" }
extension CategoryRecord: FetchableRecord, PersistableRecord { public static let databaseTableName = "categories" }
extension CallDataRecord: FetchableRecord, PersistableRecord { public static let databaseTableName = "call_data" }
extension CallKeyRecord: FetchableRecord, PersistableRecord { public static let databaseTableName = "call_keys" }
extension CallAnchorRecord: FetchableRecord, PersistableRecord { public static let databaseTableName = "call_anchors" }
