import Foundation
import PostgresNIO
import Store

// The store protocols on PostgreSQL, one query each, in the order of StoreProtocols.swift.

extension PostgresStore {
    // MARK: RegistrationStore

    public func save(_ r: RegistrationRecord) async throws {
        try await exec(PostgresStore.upsert(r))
    }

    static func upsert(_ r: RegistrationRecord) -> PostgresQuery {
        """
        INSERT INTO registrations (aor, contact, transport, sourceHost, sourcePort, expires, callID, cseq, path)
        VALUES (\(r.aor), \(r.contact), \(r.transport), \(r.sourceHost), \(r.sourcePort), \(r.expires), \(r.callID), \(r.cseq), \(r.path))
        ON CONFLICT (aor, contact) DO UPDATE SET transport = excluded.transport, sourceHost = excluded.sourceHost,
            sourcePort = excluded.sourcePort, expires = excluded.expires, callID = excluded.callID, cseq = excluded.cseq,
            path = excluded.path
        """
    }

    public func deleteRegistration(aor: String, contact: String) async throws {
        try await exec("DELETE FROM registrations WHERE aor = \(aor) AND contact = \(contact)")
    }

    public func registrations(validAt time: Double) async throws -> [RegistrationRecord] {
        try await exec("DELETE FROM registrations WHERE expires <= \(time)")
        return try await rows("SELECT \(unescaped: PostgresStore.registrationColumns) FROM registrations ORDER BY aor", RegistrationRow.self)
            .map(PostgresStore.registration)
    }

    public func registrations(aor: String, validAt time: Double) async throws -> [RegistrationRecord] {
        try await rows("SELECT \(unescaped: PostgresStore.registrationColumns) FROM registrations WHERE aor = \(aor) AND expires > \(time)",
                       RegistrationRow.self).map(PostgresStore.registration)
    }

    private static let registrationColumns = "aor, contact, transport, sourceHost, sourcePort, expires, callID, cseq, path"
    private typealias RegistrationRow = (String, String, String, String, Int, Double, String, Int, String)
    private static func registration(_ r: RegistrationRow) -> RegistrationRecord {
        RegistrationRecord(aor: r.0, contact: r.1, transport: r.2, sourceHost: r.3, sourcePort: r.4, expires: r.5, callID: r.6,
                           cseq: r.7, path: r.8)
    }

    // MARK: CallStore

    /// One transaction per batch, and in it one statement per kind of write: the call
    /// records, anchors and events of a whole batch travel as one JSON array each
    /// (`jsonb_to_recordset`), ended anchors as one array of ids; registrations, rare, one by
    /// one in order. A statement per write cost a round trip each, and made a call setup on
    /// PostgreSQL ~35 % more expensive than on SQLite (tools/bench/setup_bench.py). A failed
    /// batch is retried write by write so one bad record does not take the others with it
    /// (as the SQLite store does); while the database is unreachable every write is returned
    /// failed (the writer holds them and replays).
    @discardableResult
    public func apply(_ writes: [StoreWrite]) async -> [(StoreWrite, any Error)] {
        guard !writes.isEmpty else { return [] }
        let writes = Store.coalesced(writes)
        let batch: [PostgresQuery]
        do { batch = try PostgresStore.batched(writes) } catch { return writes.map { ($0, error) } }
        do {
            let (client, logger) = (client, logger)
            try await run {
                try await client.withTransaction(logger: logger) { conn in
                    for q in batch { try await conn.query(q, logger: logger) }
                }
            }
            return []
        } catch {
            if !isAvailable { return writes.map { ($0, error) } }
            var failed: [(StoreWrite, any Error)] = []
            for w in writes {
                do { try await exec(PostgresStore.query(for: w)) } catch { failed.append((w, error)) }
            }
            return failed
        }
    }

    /// The statements of one batch: registrations in order, then every call record, anchor,
    /// event and anchor release as one statement each (anchors before releases: a call that
    /// started and ended within the batch leaves none).
    static func batched(_ writes: [StoreWrite]) throws -> [PostgresQuery] {
        var out: [PostgresQuery] = []
        var calls: [CallRecord] = [], anchors: [CallAnchorRecord] = [], events: [CallEventRecord] = [], released: [String] = []
        var members: [SharedMemberRecord] = []
        for w in writes {
            switch w {
            case .call(let r): calls.append(r)
            case .anchor(let a): anchors.append(a)
            case .event(let e): events.append(e)
            case .releaseAnchor(let id): released.append(id)
            case .sharedMember(let m): members.append(m)
            case .saveRegistration, .deleteRegistration: out.append(query(for: w))
            }
        }
        let enc = JSONEncoder()
        func json<T: Encodable>(_ v: T) throws -> String { String(decoding: try enc.encode(v), as: UTF8.self) }
        if calls.count == 1 { out.append(upsert(calls[0])) } else if !calls.isEmpty {
            let j = try json(calls)
            out.append("""
                INSERT INTO calls (id, caller, callee, callerCallID, calleeCallID, started, answered, ended, hungUpBy, reason)
                SELECT id, caller, callee, "callerCallID", "calleeCallID", started, answered, ended, "hungUpBy", reason
                FROM jsonb_to_recordset(\(j)::jsonb) AS x(id text, caller text, callee text, "callerCallID" text, "calleeCallID" text,
                    started float8, answered float8, ended float8, "hungUpBy" text, reason text)
                ON CONFLICT (id) DO UPDATE SET caller = excluded.caller, callee = excluded.callee, callerCallID = excluded.callerCallID,
                    calleeCallID = excluded.calleeCallID, started = excluded.started, answered = excluded.answered, ended = excluded.ended,
                    hungUpBy = excluded.hungUpBy, reason = excluded.reason
                """)
        }
        if !anchors.isEmpty {
            // The last version of each call's anchor (a switchover replaces it within a batch).
            var last: [String: Int] = [:]
            for (i, a) in anchors.enumerated() { last[a.callID] = i }
            let j = try json(anchors.enumerated().filter { last[$0.element.callID] == $0.offset }.map(\.element))
            out.append("""
                INSERT INTO call_anchors (callID, gateway, caller, callee, updated, state)
                SELECT "callID", gateway, caller, callee, updated, state
                FROM jsonb_to_recordset(\(j)::jsonb) AS x("callID" text, gateway text, caller text, callee text, updated float8, state text)
                ON CONFLICT (callID) DO UPDATE SET gateway = excluded.gateway, caller = excluded.caller, callee = excluded.callee,
                    updated = excluded.updated, state = excluded.state
                """)
        }
        if !events.isEmpty {
            let j = try json(events)
            out.append("""
                INSERT INTO call_events (callID, time, kind, operation, detail)
                SELECT "callID", time, kind, operation, detail
                FROM jsonb_to_recordset(\(j)::jsonb) AS x("callID" text, time float8, kind text, operation text, detail text)
                """)
        }
        if !released.isEmpty { out.append("DELETE FROM call_anchors WHERE callID = ANY(\(released))") }
        if members.count == 1 { out.append(query(for: .sharedMember(members[0]))) } else if !members.isEmpty {
            // In order, one row each: every version of a member fires its own notification, so the
            // other gateways see each status in turn. (An upsert of several versions of one row
            // in one statement is refused by PostgreSQL; versions are split into rounds.)
            var rounds: [[SharedMemberRecord]] = []
            for m in members {
                if let i = rounds.firstIndex(where: { r in !r.contains { $0.member == m.member } }),
                   !rounds[(i + 1)...].contains(where: { r in r.contains { $0.member == m.member } }) {
                    rounds[i].append(m)
                } else { rounds.append([m]) }
            }
            for r in rounds {
                let j = try json(r)
                out.append("""
                    INSERT INTO shared_members (member, op, kind, call, status, since, peer, users, gateway)
                    SELECT member, op, kind, call, status, since, peer, users, gateway
                    FROM jsonb_to_recordset(\(j)::jsonb) AS x(member text, op text, kind text, call text, status text, since float8,
                        peer text, users text, gateway text)
                    ON CONFLICT (member) DO UPDATE SET op = excluded.op, kind = excluded.kind, call = excluded.call,
                        status = excluded.status, since = excluded.since, peer = excluded.peer, users = excluded.users,
                        gateway = excluded.gateway
                    """)
            }
        }
        return out
    }

    static func query(for w: StoreWrite) -> PostgresQuery {
        switch w {
        case .call(let r): return upsert(r)
        case .saveRegistration(let r): return upsert(r)
        case let .deleteRegistration(aor, contact): return "DELETE FROM registrations WHERE aor = \(aor) AND contact = \(contact)"
        case .event(let e):
            return "INSERT INTO call_events (callID, time, kind, operation, detail) VALUES (\(e.callID), \(e.time), \(e.kind), \(e.operation), \(e.detail))"
        case .anchor(let a):
            return """
                INSERT INTO call_anchors (callID, gateway, caller, callee, updated, state)
                VALUES (\(a.callID), \(a.gateway), \(a.caller), \(a.callee), \(a.updated), \(a.state))
                ON CONFLICT (callID) DO UPDATE SET gateway = excluded.gateway, caller = excluded.caller, callee = excluded.callee,
                    updated = excluded.updated, state = excluded.state
                """
        case .releaseAnchor(let id): return "DELETE FROM call_anchors WHERE callID = \(id)"
        case .sharedMember(let m):
            return """
                INSERT INTO shared_members (member, op, kind, call, status, since, peer, users, gateway)
                VALUES (\(m.member), \(m.op), \(m.kind), \(m.call), \(m.status), \(m.since), \(m.peer), \(m.users), \(m.gateway))
                ON CONFLICT (member) DO UPDATE SET op = excluded.op, kind = excluded.kind, call = excluded.call, status = excluded.status,
                    since = excluded.since, peer = excluded.peer, users = excluded.users, gateway = excluded.gateway
                """
        }
    }

    static func upsert(_ r: CallRecord) -> PostgresQuery {
        """
        INSERT INTO calls (id, caller, callee, callerCallID, calleeCallID, started, answered, ended, hungUpBy, reason)
        VALUES (\(r.id), \(r.caller), \(r.callee), \(r.callerCallID), \(r.calleeCallID), \(r.started), \(r.answered), \(r.ended),
                \(r.hungUpBy), \(r.reason))
        ON CONFLICT (id) DO UPDATE SET caller = excluded.caller, callee = excluded.callee, callerCallID = excluded.callerCallID,
            calleeCallID = excluded.calleeCallID, started = excluded.started, answered = excluded.answered, ended = excluded.ended,
            hungUpBy = excluded.hungUpBy, reason = excluded.reason
        """
    }

    public func save(_ c: CallRecord) async throws { try await exec(PostgresStore.upsert(c)) }

    private static let callColumns = "id, caller, callee, callerCallID, calleeCallID, started, answered, ended, hungUpBy, reason"
    private typealias CallRow = (String, String, String, String, String?, Double, Double?, Double?, String?, String?)
    private static func call(_ r: CallRow) -> CallRecord {
        CallRecord(id: r.0, caller: r.1, callee: r.2, callerCallID: r.3, calleeCallID: r.4, started: r.5, answered: r.6,
                   ended: r.7, hungUpBy: r.8, reason: r.9)
    }

    public func call(id: String) async throws -> CallRecord? {
        try await rows("SELECT \(unescaped: PostgresStore.callColumns) FROM calls WHERE id = \(id)", CallRow.self).first.map(PostgresStore.call)
    }

    public func calls(limit: Int) async throws -> [CallRecord] {
        try await rows("SELECT \(unescaped: PostgresStore.callColumns) FROM calls ORDER BY started DESC LIMIT \(limit)", CallRow.self)
            .map(PostgresStore.call)
    }

    public func events(call id: String) async throws -> [CallEventRecord] {
        try await rows("SELECT seq, callID, time, kind, operation, detail FROM call_events WHERE callID = \(id) ORDER BY seq",
                       (Int64, String, Double, String, String?, String?).self).map {
            var e = CallEventRecord(callID: $0.1, time: $0.2, kind: $0.3, operation: $0.4, detail: $0.5)
            e.seq = $0.0
            return e
        }
    }

    // MARK: DeviceStore

    public func save(_ d: DeviceRecord) async throws {
        try await exec("""
            INSERT INTO devices ("user", id, aor, kind, priority) VALUES (\(d.user), \(d.id), \(d.aor), \(d.kind), \(d.priority))
            ON CONFLICT ("user", id) DO UPDATE SET aor = excluded.aor, kind = excluded.kind, priority = excluded.priority
            """)
    }

    public func devices() async throws -> [DeviceRecord] {
        try await rows("SELECT \"user\", id, aor, kind, priority FROM devices ORDER BY \"user\", priority, id", (String, String, String, String, Int).self)
            .map { DeviceRecord(user: $0.0, id: $0.1, aor: $0.2, kind: $0.3, priority: $0.4) }
    }

    @discardableResult
    public func deleteDevice(user: String, id: String) async throws -> Bool {
        try await deleted("DELETE FROM devices WHERE \"user\" = \(user) AND id = \(id) RETURNING id")
    }

    /// Runs a `DELETE ... RETURNING`; whether a row went.
    private func deleted(_ q: PostgresQuery) async throws -> Bool {
        try await !rows(q, String.self).isEmpty
    }

    // MARK: ForwardingStore

    public func save(_ r: ForwardingRecord) async throws {
        try await exec("""
            INSERT INTO forwarding (number, "on", "to", afterSeconds) VALUES (\(r.number), \(r.on), \(r.to), \(r.afterSeconds))
            ON CONFLICT (number, "on") DO UPDATE SET "to" = excluded."to", afterSeconds = excluded.afterSeconds
            """)
    }

    @discardableResult
    public func deleteForwarding(number: String, on: String) async throws -> Bool {
        try await deleted("DELETE FROM forwarding WHERE number = \(number) AND \"on\" = \(on) RETURNING number")
    }

    public func forwardingRules() async throws -> [ForwardingRecord] {
        try await rows("SELECT number, \"on\", \"to\", afterSeconds FROM forwarding ORDER BY number, \"on\"", (String, String, String, Int).self)
            .map { ForwardingRecord(number: $0.0, on: $0.1, to: $0.2, afterSeconds: $0.3) }
    }

    // MARK: IdentityCacheStore

    public func keepIdentities(orig: String, dest: String, values: [String], expires: Double) async throws {
        let json = String(decoding: try JSONEncoder().encode(values), as: UTF8.self)
        try await exec("""
            INSERT INTO identity_cache (orig, dest, identities, expires) VALUES (\(orig), \(dest), \(json), \(expires))
            ON CONFLICT (orig, dest) DO UPDATE SET identities = excluded.identities, expires = excluded.expires
            """)
    }

    /// Taken with `DELETE ... RETURNING`: two gateways asking at once, one gets the values.
    public func takeIdentities(orig: String, dest: String, now: Double) async throws -> [String]? {
        let got = try await rows("DELETE FROM identity_cache WHERE orig = \(orig) AND dest = \(dest) RETURNING identities, expires",
                                 (String, Double).self)
        guard let (json, expires) = got.first, expires > now else { return nil }
        return try JSONDecoder().decode([String].self, from: Data(json.utf8))
    }

    // MARK: ForwardingHistoryStore

    public func addForwardingCounts(number: String, calls: Int, forwards: Int, at time: Double) async throws {
        try await exec("""
            INSERT INTO forwarding_history (number, calls, forwards, updated) VALUES (\(number), \(calls), \(forwards), \(time))
            ON CONFLICT (number) DO UPDATE SET calls = forwarding_history.calls + excluded.calls,
                forwards = forwarding_history.forwards + excluded.forwards, updated = excluded.updated
            """)
    }

    public func forwardingCounts() async throws -> [(number: String, calls: Int, forwards: Int)] {
        try await rows("SELECT number, calls, forwards FROM forwarding_history", (String, Int, Int).self).map { ($0.0, $0.1, $0.2) }
    }

    // MARK: APITokenStore

    public func save(_ r: APITokenRecord) async throws {
        try await exec("""
            INSERT INTO api_tokens (id, name, role, tenant, agent, hash, created)
            VALUES (\(r.id), \(r.name), \(r.role), \(r.tenant), \(r.agent), \(r.hash), \(r.created))
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, tenant = excluded.tenant,
                agent = excluded.agent, hash = excluded.hash, created = excluded.created
            """)
    }

    public func deleteAPIToken(id: String) async throws -> Bool {
        try await deleted("DELETE FROM api_tokens WHERE id = \(id) RETURNING id")
    }

    public func apiTokens() async throws -> [APITokenRecord] {
        try await rows("SELECT id, name, role, tenant, agent, hash, created FROM api_tokens ORDER BY created",
                       (String, String, String, String, String?, String, Double).self)
            .map { APITokenRecord(id: $0.0, name: $0.1, role: $0.2, tenant: $0.3, agent: $0.4, hash: $0.5, created: $0.6) }
    }

    // MARK: SIPUserStore

    public func save(_ r: SIPUserRecord) async throws {
        try await exec("""
            INSERT INTO sip_users ("user", realm, ha1MD5, ha1SHA256, created) VALUES (\(r.user), \(r.realm), \(r.ha1MD5), \(r.ha1SHA256), \(r.created))
            ON CONFLICT ("user") DO UPDATE SET realm = excluded.realm, ha1MD5 = excluded.ha1MD5, ha1SHA256 = excluded.ha1SHA256,
                created = excluded.created
            """)
    }

    public func deleteSIPUser(_ user: String) async throws -> Bool {
        try await deleted("DELETE FROM sip_users WHERE \"user\" = \(user) RETURNING \"user\"")
    }

    public func sipUsers() async throws -> [SIPUserRecord] {
        try await rows("SELECT \"user\", realm, ha1MD5, ha1SHA256, created FROM sip_users ORDER BY \"user\"", (String, String, String, String, Double).self)
            .map { SIPUserRecord(user: $0.0, realm: $0.1, ha1MD5: $0.2, ha1SHA256: $0.3, created: $0.4) }
    }

    // MARK: ContactCenterStore

    public func save(_ r: AgentRecord) async throws {
        try await exec("""
            INSERT INTO agents (id, name, aor, skills, logins) VALUES (\(r.id), \(r.name), \(r.aor), \(r.skills), \(r.logins))
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, aor = excluded.aor, skills = excluded.skills
            """)
    }

    /// One UPDATE merging the system's login into the row's JSON: two gateways changing two
    /// systems of one agent at once keep both.
    public func setAgentLogin(id: String, system: String, login: String) async throws -> AgentRecord? {
        try await rows("""
            UPDATE agents SET logins = (logins::jsonb || jsonb_build_object(\(system)::text, \(login)::jsonb))::text WHERE id = \(id)
            RETURNING id, name, aor, skills, logins
            """, AgentRow.self).first.map(PostgresStore.agent)
    }

    public func agents() async throws -> [AgentRecord] {
        try await rows("SELECT id, name, aor, skills, logins FROM agents ORDER BY id", AgentRow.self).map(PostgresStore.agent)
    }

    private typealias AgentRow = (String, String, String?, String, String)
    private static func agent(_ r: AgentRow) -> AgentRecord { AgentRecord(id: r.0, name: r.1, aor: r.2, skills: r.3, logins: r.4) }

    @discardableResult
    public func deleteAgent(id: String) async throws -> Bool {
        try await deleted("DELETE FROM agents WHERE id = \(id) RETURNING id")
    }

    public func save(_ r: CategoryRecord) async throws {
        try await exec("""
            INSERT INTO categories (id, name, description, contacts, hours) VALUES (\(r.id), \(r.name), \(r.description), \(r.contacts), \(r.hours))
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description, contacts = excluded.contacts,
                hours = excluded.hours
            """)
    }

    public func categories() async throws -> [CategoryRecord] {
        try await rows("SELECT id, name, description, contacts, hours FROM categories ORDER BY id", (String, String, String, String, String?).self)
            .map { CategoryRecord(id: $0.0, name: $0.1, description: $0.2, contacts: $0.3, hours: $0.4) }
    }

    @discardableResult
    public func deleteCategory(id: String) async throws -> Bool {
        try await deleted("DELETE FROM categories WHERE id = \(id) RETURNING id")
    }

    public func save(_ r: CallDataRecord) async throws {
        try await exec("""
            INSERT INTO call_data (tenant, callID, data, updated) VALUES (\(r.tenant), \(r.callID), \(r.data), \(r.updated))
            ON CONFLICT (tenant, callID) DO UPDATE SET data = excluded.data, updated = excluded.updated
            """)
    }

    public func callData(tenant: String, callID: String) async throws -> CallDataRecord? {
        try await rows("SELECT tenant, callID, data, updated FROM call_data WHERE tenant = \(tenant) AND callID = \(callID)",
                       (String, String, String, Double).self).first
            .map { CallDataRecord(tenant: $0.0, callID: $0.1, data: $0.2, updated: $0.3) }
    }

    /// One statement: an expired row with the same text is replaced, a live one wins (two
    /// gateways drawing the same key at once: one insert, the other gets false and draws again).
    public func insertKey(_ k: CallKeyRecord, now: Double) async throws -> Bool {
        try await exec("DELETE FROM call_keys WHERE expires <= \(now - 86400)")
        let got = try await rows("""
            INSERT INTO call_keys (key, tenant, callID, created, expires, agent)
            VALUES (\(k.key), \(k.tenant), \(k.callID), \(k.created), \(k.expires), \(k.agent))
            ON CONFLICT (key) DO UPDATE SET tenant = excluded.tenant, callID = excluded.callID, created = excluded.created,
                expires = excluded.expires, agent = excluded.agent
            WHERE call_keys.expires <= \(now)
            RETURNING key
            """, String.self)
        return !got.isEmpty
    }

    public func callKey(_ key: String) async throws -> CallKeyRecord? {
        try await rows("SELECT key, tenant, callID, created, expires, agent FROM call_keys WHERE key = \(key)",
                       (String, String, String, Double, Double, String?).self).first
            .map { CallKeyRecord(key: $0.0, tenant: $0.1, callID: $0.2, created: $0.3, expires: $0.4, agent: $0.5) }
    }

    public func append(_ r: DialogRecord) async throws {
        try await exec("INSERT INTO dialog_records (callID, time, kind, detail) VALUES (\(r.callID), \(r.time), \(r.kind), \(r.detail))")
    }

    public func dialogRecords(callID: String, limit: Int) async throws -> [DialogRecord] {
        let r: [(Int64, String, Double, String, String)] = try await rows(
            "SELECT seq, callID, time, kind, detail FROM dialog_records WHERE callID = \(callID) ORDER BY seq LIMIT \(limit)",
            (Int64, String, Double, String, String).self)
        return r.map { DialogRecord(seq: $0.0, callID: $0.1, time: $0.2, kind: $0.3, detail: $0.4) }
    }

    public func append(_ r: TransferRecord) async throws {
        try await exec("INSERT INTO transfers (callID, caller, candidate, time) VALUES (\(r.callID), \(r.caller), \(r.candidate), \(r.time))")
    }

    public func transferCounts(caller: String, candidate: String) async throws -> (callerToCandidate: Int, toCandidate: Int, all: Int) {
        let r = try await rows("""
            SELECT count(*) FILTER (WHERE caller = \(caller) AND candidate = \(candidate)),
                   count(*) FILTER (WHERE candidate = \(candidate)), count(*) FROM transfers
            """, (Int, Int, Int).self)
        return r.first.map { ($0.0, $0.1, $0.2) } ?? (0, 0, 0)
    }

    public func append(_ samples: [TransferSampleRecord]) async throws {
        guard !samples.isEmpty else { return }
        let (client, logger) = (client, logger)
        try await run {
            try await client.withTransaction(logger: logger) { conn in
                for r in samples {
                    try await conn.query("""
                        INSERT INTO transfer_samples (callID, candidate, features, transferred, time)
                        VALUES (\(r.callID), \(r.candidate), \(r.features), \(r.transferred), \(r.time))
                        """, logger: logger)
                }
            }
        }
    }

    public func transferSamples(limit: Int) async throws -> [TransferSampleRecord] {
        let r: [(Int64, String, String, String, Bool, Double)] = try await rows(
            "SELECT seq, callID, candidate, features, transferred, time FROM transfer_samples ORDER BY seq DESC LIMIT \(limit)",
            (Int64, String, String, String, Bool, Double).self)
        return r.reversed().map { TransferSampleRecord(seq: $0.0, callID: $0.1, candidate: $0.2, features: $0.3, transferred: $0.4, time: $0.5) }
    }

    public func saveStoredSetting(_ name: String, value: String, at time: Double) async throws {
        try await exec("""
            INSERT INTO stored_settings (name, value, updated) VALUES (\(name), \(value), \(time))
            ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated = excluded.updated
            """)
    }

    public func storedSetting(_ name: String) async throws -> (value: String, updated: Double)? {
        try await rows("SELECT value, updated FROM stored_settings WHERE name = \(name)", (String, Double).self).first.map { ($0.0, $0.1) }
    }

    // MARK: TransferModelStore

    /// The next version in one statement; two gateways installing at once get two versions
    /// (a conflict on the primary key retries once).
    public func insertTransferModel(json: String, created: Double) async throws -> Int {
        for attempt in 0..<3 {
            do {
                let v = try await rows("""
                    INSERT INTO transfer_models (version, created, model)
                    SELECT coalesce(max(version), 0) + 1, \(created), \(json) FROM transfer_models RETURNING version
                    """, Int.self)
                if let v = v.first { return v }
            } catch where attempt < 2 && isAvailable {
                continue
            }
        }
        throw StoreError.query("no transfer model version could be drawn")
    }

    public func latestTransferModel() async throws -> TransferModelRecord? {
        try await rows("SELECT version, created, model FROM transfer_models ORDER BY version DESC LIMIT 1", (Int, Double, String).self).first
            .map { TransferModelRecord(version: $0.0, created: $0.1, model: $0.2) }
    }
}

// MARK: ClusterStore

extension PostgresStore {
    public var isShared: Bool { true }

    /// A beat that finds its own row marked dead returns false (and revives the row): another
    /// gateway ended this one's calls meanwhile. Beats go over a connection of their own, not
    /// the pool: a pool busy with slow queries, or backing off its reconnects after an outage
    /// (up to a minute), must not make a live gateway look dead. A broken beat connection is
    /// opened again at the next beat.
    public func heartbeat(_ g: GatewayRecord) async throws -> Bool {
        let q: PostgresQuery = """
            INSERT INTO gateways AS g (id, sip, http, heartbeat, state) VALUES (\(g.id), \(g.sip), \(g.http), now(), 'alive')
            ON CONFLICT (id) DO UPDATE SET sip = excluded.sip, http = excluded.http, heartbeat = now(), state = 'alive'
            RETURNING (xmax <> 0 AND (SELECT state FROM gateways WHERE id = \(g.id)) = 'dead')
            """
        let (config, logger) = (beatConfig, logger)
        let existing = beat.withLock { c in c.flatMap { $0.isClosed ? nil : $0 } }
        do {
            let wasDead: Bool = try await run {
                let conn: PostgresConnection
                if let existing { conn = existing } else {
                    conn = try await PostgresConnection.connect(configuration: config, id: 0, logger: logger)
                }
                var dead = false
                for try await v in try await conn.query(q, logger: logger).decode(Bool.self) { dead = v }
                if existing == nil { self.beat.withLock { $0 = conn } }
                return dead
            }
            return !wasDead
        } catch {
            if let c = beat.withLock({ c in defer { c = nil }; return c }) { try? await c.close() }
            throw error
        }
    }

    public func claimDeadGateways(except: String, staleAfter: Double) async throws -> [String] {
        try await rows("""
            UPDATE gateways SET state = 'dead' WHERE state = 'alive' AND id <> \(except)
                AND heartbeat < now() - make_interval(secs => \(staleAfter))
                AND now() - pg_postmaster_start_time() > make_interval(secs => \(staleAfter * 2))
            RETURNING id
            """, String.self)
    }

    public func anchors(gateway: String) async throws -> [CallAnchorRecord] {
        try await rows("SELECT callID, gateway, caller, callee, updated, state FROM call_anchors WHERE gateway = \(gateway)",
                       (String, String, String, String, Double, String).self)
            .map { CallAnchorRecord(callID: $0.0, gateway: $0.1, caller: $0.2, callee: $0.3, updated: $0.4, state: $0.5) }
    }

    public func anchoringGateway(callID: String) async throws -> GatewayRecord? {
        try await rows("""
            SELECT g.id, g.sip, g.http FROM call_anchors a JOIN gateways g ON g.id = a.gateway
            WHERE a.callID = \(callID) AND g.state = 'alive'
            """, (String, String, String).self).first.map { GatewayRecord(id: $0.0, sip: $0.1, http: $0.2) }
    }

    /// A scan of the live anchors (an INVITE with Replaces that reached the wrong gateway is
    /// rare; anchors are one row per live call).
    public func gatewayHolding(dialogCallID: String) async throws -> GatewayRecord? {
        try await rows("""
            SELECT g.id, g.sip, g.http FROM call_anchors a JOIN gateways g ON g.id = a.gateway
            WHERE g.state = 'alive' AND (a.caller::jsonb ->> 'callID' = \(dialogCallID) OR a.callee::jsonb ->> 'callID' = \(dialogCallID))
            LIMIT 1
            """, (String, String, String).self).first.map { GatewayRecord(id: $0.0, sip: $0.1, http: $0.2) }
    }

    public func purgeEndedSharedMembers(before time: Double) async throws {
        try await exec("DELETE FROM shared_members WHERE status = 'ended' AND since < \(time)")
    }

    public func deleteAnchors(gateway: String) async throws {
        try await exec("DELETE FROM call_anchors WHERE gateway = \(gateway)")
    }
}
