/// PostgreSQL's schema: the same tables as the SQLite store (Store.swift), as ordered
/// migrations recorded in `baton_migrations`. Two gateways starting at once take an advisory
/// lock, so one migrates and the other finds the work done.
///
/// Column names are the SQLite ones; unquoted they fold to lower case in PostgreSQL, which is
/// how every query here names them. `on`, `to` and `user` are reserved words and stay quoted.
enum PostgresSchema {
    static let lockKey: Int64 = 0x6261_746f_6e00   // "baton\0"

    static let migrations: [(name: String, sql: [String])] = [
        ("v1", [
            """
            CREATE TABLE registrations (aor text NOT NULL, contact text NOT NULL, transport text NOT NULL,
                sourceHost text NOT NULL, sourcePort integer NOT NULL, expires double precision NOT NULL,
                callID text NOT NULL, cseq integer NOT NULL, path text NOT NULL DEFAULT '', gateway text NOT NULL DEFAULT '',
                PRIMARY KEY (aor, contact))
            """,
            """
            CREATE TABLE calls (id text PRIMARY KEY, caller text NOT NULL, callee text NOT NULL, callerCallID text NOT NULL,
                calleeCallID text, started double precision NOT NULL, answered double precision, ended double precision,
                hungUpBy text, reason text)
            """,
            "CREATE INDEX calls_started ON calls (started)",
            """
            CREATE TABLE call_events (seq bigserial PRIMARY KEY, callID text NOT NULL, time double precision NOT NULL,
                kind text NOT NULL, operation text, detail text)
            """,
            "CREATE INDEX call_events_call ON call_events (callID, seq)",
            """
            CREATE TABLE devices ("user" text NOT NULL, id text NOT NULL, aor text NOT NULL, kind text NOT NULL,
                priority integer NOT NULL DEFAULT 0, PRIMARY KEY ("user", id))
            """,
            """
            CREATE TABLE identity_cache (orig text NOT NULL, dest text NOT NULL, identities text NOT NULL,
                expires double precision NOT NULL, PRIMARY KEY (orig, dest))
            """,
            """
            CREATE TABLE forwarding (number text NOT NULL, "on" text NOT NULL, "to" text NOT NULL,
                afterSeconds integer NOT NULL DEFAULT 20, PRIMARY KEY (number, "on"))
            """,
            """
            CREATE TABLE agents (id text PRIMARY KEY, name text NOT NULL, aor text, skills text NOT NULL DEFAULT '[]',
                logins text NOT NULL DEFAULT '{}')
            """,
            """
            CREATE TABLE categories (id text PRIMARY KEY, name text NOT NULL, description text NOT NULL DEFAULT '',
                contacts text NOT NULL DEFAULT '[]', hours text)
            """,
            """
            CREATE TABLE call_data (tenant text NOT NULL, callID text NOT NULL, data text NOT NULL,
                updated double precision NOT NULL, PRIMARY KEY (tenant, callID))
            """,
            """
            CREATE TABLE call_keys (key text PRIMARY KEY, tenant text NOT NULL, callID text NOT NULL,
                created double precision NOT NULL, expires double precision NOT NULL, agent text)
            """,
            "CREATE INDEX call_keys_expires ON call_keys (expires)",
            """
            CREATE TABLE sip_users ("user" text PRIMARY KEY, realm text NOT NULL, ha1MD5 text NOT NULL,
                ha1SHA256 text NOT NULL, created double precision NOT NULL)
            """,
            """
            CREATE TABLE api_tokens (id text PRIMARY KEY, name text NOT NULL, role text NOT NULL, tenant text NOT NULL,
                agent text, hash text NOT NULL, created double precision NOT NULL)
            """,
            """
            CREATE TABLE dialog_records (seq bigserial PRIMARY KEY, callID text NOT NULL, time double precision NOT NULL,
                kind text NOT NULL, detail text NOT NULL)
            """,
            "CREATE INDEX dialog_records_call ON dialog_records (callID, seq)",
            """
            CREATE TABLE transfers (seq bigserial PRIMARY KEY, callID text NOT NULL, caller text NOT NULL,
                candidate text NOT NULL, time double precision NOT NULL)
            """,
            "CREATE INDEX transfers_caller ON transfers (caller, candidate)",
            """
            CREATE TABLE transfer_models (version integer PRIMARY KEY, created double precision NOT NULL, model text NOT NULL)
            """,
            """
            CREATE TABLE stored_settings (name text PRIMARY KEY, value text NOT NULL, updated double precision NOT NULL)
            """,
            """
            CREATE TABLE forwarding_history (number text PRIMARY KEY, calls integer NOT NULL, forwards integer NOT NULL,
                updated double precision NOT NULL)
            """,
            """
            CREATE TABLE transfer_samples (seq bigserial PRIMARY KEY, callID text NOT NULL, candidate text NOT NULL,
                features text NOT NULL, transferred boolean NOT NULL, time double precision NOT NULL)
            """,
            "CREATE INDEX transfer_samples_time ON transfer_samples (time)",
        ]),
        // Every gateway caches some tables in memory (users, tokens, devices, forwarding rules,
        // agents, categories, models, settings, registrations): a trigger tells all of them,
        // on channel `baton_changes`, which row changed ("table:key"), whoever wrote it.
        ("v2-change-notifications", [
            """
            CREATE FUNCTION baton_notify_change() RETURNS trigger AS $$
            BEGIN
                PERFORM pg_notify('baton_changes', TG_TABLE_NAME || ':' || coalesce(
                    to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END) ->> TG_ARGV[0], ''));
                RETURN NULL;
            END $$ LANGUAGE plpgsql
            """,
        ] + [("registrations", "aor"), ("devices", "user"), ("forwarding", "number"), ("agents", "id"), ("categories", "id"),
             ("sip_users", "user"), ("api_tokens", "id"), ("transfer_models", "version"), ("stored_settings", "name")].map {
            "CREATE TRIGGER \($0.0)_changed AFTER INSERT OR UPDATE OR DELETE ON \($0.0) FOR EACH ROW EXECUTE FUNCTION baton_notify_change('\($0.1)')"
        }),
        // The gateways sharing the database (heartbeat by the database's clock) and the calls
        // each anchors, with their legs' dialogs: a survivor ends a lost gateway's calls.
        ("v3-cluster", [
            """
            CREATE TABLE gateways (id text PRIMARY KEY, sip text NOT NULL, http text NOT NULL,
                started timestamptz NOT NULL DEFAULT now(), heartbeat timestamptz NOT NULL DEFAULT now(),
                state text NOT NULL DEFAULT 'alive')
            """,
            """
            CREATE TABLE call_anchors (callID text PRIMARY KEY, gateway text NOT NULL, caller text NOT NULL, callee text NOT NULL,
                updated double precision NOT NULL)
            """,
            "CREATE INDEX call_anchors_gateway ON call_anchors (gateway)",
        ]),
        // The members of users' shared call operations, by the gateway holding each: every
        // change is sent whole to the other gateways (the row as JSON in the notification:
        // no read per change), which merge it into their own view of the operation.
        ("v4-shared-members", [
            """
            CREATE TABLE shared_members (member text PRIMARY KEY, op text NOT NULL, kind text NOT NULL, call text NOT NULL,
                status text NOT NULL, since double precision NOT NULL, peer text, users text NOT NULL, gateway text NOT NULL)
            """,
            "CREATE INDEX shared_members_op ON shared_members (op)",
            """
            CREATE FUNCTION baton_notify_shared_member() RETURNS trigger AS $$
            BEGIN
                PERFORM pg_notify('baton_changes', 'shared_members:' || row_to_json(NEW)::text);
                RETURN NULL;
            END $$ LANGUAGE plpgsql
            """,
            "CREATE TRIGGER shared_members_changed AFTER INSERT OR UPDATE ON shared_members FOR EACH ROW EXECUTE FUNCTION baton_notify_shared_member()",
        ]),
        // A call's resume state, sealed with its gateway's own key: that gateway takes its
        // calls back after a restart (the others only ever send BYEs from the dialogs).
        ("v5-call-anchor-state", [
            "ALTER TABLE call_anchors ADD COLUMN state text NOT NULL DEFAULT ''",
        ]),
    ]
}
