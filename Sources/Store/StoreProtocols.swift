/// What each part of Baton needs from persistent storage, one protocol per concern.
///
/// Callers depend on the narrowest protocol they use (the contact center on
/// ``ContactCenterStore``, the forwarding table on ``ForwardingStore``), never on a backend:
/// ``Store`` (SQLite) implements all of them, and a second backend (PostgreSQL, for several
/// gateways on one database) plugs in by implementing the same ones. The records are plain
/// values; the SQLite row mapping lives with ``Store``.

/// Registrar bindings (AOR -> contact) that survive a restart.
public protocol RegistrationStore: Sendable {
    func save(_ r: RegistrationRecord) async throws
    func deleteRegistration(aor: String, contact: String) async throws
    /// Bindings still valid at `time` (expired ones may be purged on the way).
    func registrations(validAt time: Double) async throws -> [RegistrationRecord]
    /// One AOR's bindings still valid at `time` (another gateway changed them).
    func registrations(aor: String, validAt time: Double) async throws -> [RegistrationRecord]
}

/// Call records and their events, written in ordered batches by the call layer's writer.
public protocol CallStore: Sendable {
    /// Applies writes in order; returns the writes that failed with their errors.
    @discardableResult
    func apply(_ writes: [StoreWrite]) async -> [(StoreWrite, any Error)]
    func save(_ c: CallRecord) async throws
    func call(id: String) async throws -> CallRecord?
    /// Newest first.
    func calls(limit: Int) async throws -> [CallRecord]
    func events(call id: String) async throws -> [CallEventRecord]
    /// Whether the last operation reached the database (false while PostgreSQL is gone).
    var isAvailable: Bool { get }
}

/// A user's devices (phone, speaker, bot...) for switchover targets.
public protocol DeviceStore: Sendable {
    func save(_ d: DeviceRecord) async throws
    func devices() async throws -> [DeviceRecord]
    @discardableResult
    func deleteDevice(user: String, id: String) async throws -> Bool
}

/// Call-forwarding rules set over the API.
public protocol ForwardingStore: Sendable {
    func save(_ r: ForwardingRecord) async throws
    @discardableResult
    func deleteForwarding(number: String, on: String) async throws -> Bool
    func forwardingRules() async throws -> [ForwardingRecord]
}

/// Identity header values kept for a forwarded call's `div` PASSporT.
public protocol IdentityCacheStore: Sendable {
    func keepIdentities(orig: String, dest: String, values: [String], expires: Double) async throws
    /// The values kept for a call from `orig` to `dest` if they have not expired, removed
    /// in the same transaction (a kept identity is used once).
    func takeIdentities(orig: String, dest: String, now: Double) async throws -> [String]?
}

/// How often each called number forwarded its calls (the STIR path's "likely to forward").
public protocol ForwardingHistoryStore: Sendable {
    /// Adds to a number's counts (an increment in the row: gateways counting the same number
    /// at once keep each other's counts).
    func addForwardingCounts(number: String, calls: Int, forwards: Int, at time: Double) async throws
    func forwardingCounts() async throws -> [(number: String, calls: Int, forwards: Int)]
}

/// Agents, service categories, call data and call keys.
/// HTTP API tokens (`baton tokens`, the API's bearer authentication).
public protocol APITokenStore: Sendable {
    func save(_ r: APITokenRecord) async throws
    /// Whether the token existed.
    func deleteAPIToken(id: String) async throws -> Bool
    func apiTokens() async throws -> [APITokenRecord]
}

/// SIP users and their digest credentials (`baton users`, digest authentication).
public protocol SIPUserStore: Sendable {
    func save(_ r: SIPUserRecord) async throws
    /// Whether the user existed.
    func deleteSIPUser(_ user: String) async throws -> Bool
    func sipUsers() async throws -> [SIPUserRecord]
}

public protocol ContactCenterStore: Sendable {
    /// Creates an agent, or updates its name, AOR and skills; an existing row keeps its logins
    /// (those change one system at a time, ``setAgentLogin(id:system:login:)``).
    func save(_ r: AgentRecord) async throws
    /// Sets one system's login (JSON) in the agent's row, leaving the other systems' logins as
    /// they are in the row, whoever wrote them; the row after, nil for an unknown agent.
    func setAgentLogin(id: String, system: String, login: String) async throws -> AgentRecord?
    func agents() async throws -> [AgentRecord]
    @discardableResult
    func deleteAgent(id: String) async throws -> Bool
    func save(_ r: CategoryRecord) async throws
    func categories() async throws -> [CategoryRecord]
    @discardableResult
    func deleteCategory(id: String) async throws -> Bool
    func save(_ r: CallDataRecord) async throws
    func callData(tenant: String, callID: String) async throws -> CallDataRecord?
    /// Inserts a key unless a live key (unexpired at `now`) has the same text: false then.
    func insertKey(_ k: CallKeyRecord, now: Double) async throws -> Bool
    /// A key as stored (expired or not); nil when unknown.
    func callKey(_ key: String) async throws -> CallKeyRecord?
    func append(_ r: DialogRecord) async throws
    func dialogRecords(callID: String, limit: Int) async throws -> [DialogRecord]
    func append(_ r: TransferRecord) async throws
    func transferCounts(caller: String, candidate: String) async throws -> (callerToCandidate: Int, toCandidate: Int, all: Int)
    func append(_ samples: [TransferSampleRecord]) async throws
    func transferSamples(limit: Int) async throws -> [TransferSampleRecord]
    /// Settings changed over the API and kept across restarts (JSON by name).
    func saveStoredSetting(_ name: String, value: String, at time: Double) async throws
    func storedSetting(_ name: String) async throws -> (value: String, updated: Double)?
}

/// Trained transfer-probability models, by version (the newest is in force).
public protocol TransferModelStore: Sendable {
    /// Stores a model under the next version; returns that version.
    func insertTransferModel(json: String, created: Double) async throws -> Int
    func latestTransferModel() async throws -> TransferModelRecord?
}

/// The gateways sharing one store and the calls each anchors (the heartbeat, and ending the
/// calls of a gateway that stopped beating).
public protocol ClusterStore: Sendable {
    /// Whether other gateways can share this store (PostgreSQL; SQLite: false).
    var isShared: Bool { get }
    /// Records `gateway` alive now, by the database's clock. False when another gateway had
    /// declared it dead since its last beat (its calls were ended for it).
    func heartbeat(_ gateway: GatewayRecord) async throws -> Bool
    /// Gateways other than `except` whose last beat is older than `staleAfter` seconds by the
    /// database's clock, marked dead in the same statement: each dead gateway is returned to
    /// exactly one caller.
    func claimDeadGateways(except: String, staleAfter: Double) async throws -> [String]
    /// The calls `gateway` anchors.
    func anchors(gateway: String) async throws -> [CallAnchorRecord]
    func deleteAnchors(gateway: String) async throws
    /// The live gateway anchoring `callID`, if any.
    func anchoringGateway(callID: String) async throws -> GatewayRecord?
    /// The live gateway holding a call one of whose legs has this Call-ID, if any.
    func gatewayHolding(dialogCallID: String) async throws -> GatewayRecord?
    /// Forgets shared-call members that ended before `time`.
    func purgeEndedSharedMembers(before time: Double) async throws
}

/// A row another gateway changed: the table and the row's key (see ``BatonStore/changes()``).
public struct StoreChange: Sendable, Equatable, CustomStringConvertible {
    public var table: String
    public var key: String
    public init(table: String, key: String) { self.table = table; self.key = key }
    /// "table:key", the NOTIFY payload's form.
    public init?(payload: String) {
        guard let i = payload.firstIndex(of: ":") else { return nil }
        table = String(payload[..<i]); key = String(payload[payload.index(after: i)...])
    }
    public var description: String { "\(table):\(key)" }
}

/// Every store protocol at once: what `baton serve` opens, SQLite (``Store``) or PostgreSQL
/// (module `PostgresStore`), chosen by `store.url`.
public protocol BatonStore: RegistrationStore, CallStore, DeviceStore, ForwardingStore, IdentityCacheStore, ContactCenterStore,
    SIPUserStore, APITokenStore, ForwardingHistoryStore, TransferModelStore, ClusterStore {
    /// Where the store is, without credentials (for logs).
    var location: String { get }
    /// Changes other writers made (PostgreSQL LISTEN/NOTIFY); a store with one writer (SQLite)
    /// returns a sequence that ends at once.
    func changes() -> AsyncStream<StoreChange>
    /// Ends background work (connections); the store is unusable after.
    func close() async
}

extension Store: BatonStore {
    public var location: String { path }
    public var isShared: Bool { false }
    /// One gateway per SQLite file: nobody else can declare it dead.
    public func heartbeat(_ gateway: GatewayRecord) async throws -> Bool { true }
    public func claimDeadGateways(except: String, staleAfter: Double) async throws -> [String] { [] }
    public func anchoringGateway(callID: String) async throws -> GatewayRecord? { nil }
    public func purgeEndedSharedMembers(before time: Double) async throws {}
    public func gatewayHolding(dialogCallID: String) async throws -> GatewayRecord? { nil }
    public var isAvailable: Bool { true }
    public func changes() -> AsyncStream<StoreChange> { AsyncStream { $0.finish() } }
    public func close() async {}
}
