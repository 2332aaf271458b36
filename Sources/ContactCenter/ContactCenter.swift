import Foundation
import Logging
import Store
import Synchronization

/// An agent: who answers transferred calls, what they handle, and where they are logged in.
public struct Agent: Codable, Sendable, Equatable {
    /// Login state on one computing system.
    public struct Login: Codable, Sendable, Equatable {
        public enum State: String, Codable, Sendable { case loggedIn = "logged-in", loggedOut = "logged-out" }
        public var state: State
        /// Unix time (seconds) of the last change.
        public var since: Double
        public init(state: State, since: Double) { self.state = state; self.since = since }
    }
    public var id: String
    public var name: String
    /// The agent's SIP address-of-record ("agent1@example.com"): a transfer to the agent
    /// rings it, and its registration at Baton counts as the `sip-phone` login.
    public var aor: String?
    /// Service categories the agent handles ("billing", "support").
    public var skills: [String]
    /// Login state by system ("desktop", "sip-phone", or any system named in the API):
    /// one record for all of them.
    public var logins: [String: Login]

    public init(id: String, name: String, aor: String? = nil, skills: [String] = [], logins: [String: Login] = [:]) {
        self.id = id; self.name = name; self.aor = aor; self.skills = skills; self.logins = logins
    }

    /// Logged in on at least one system.
    public var available: Bool { logins.values.contains { $0.state == .loggedIn } }
}

/// A service category of the directory and how to reach it.
public struct ServiceCategory: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var description: String
    /// Queue or agent URIs, first preferred ("sip:billing@example.com").
    public var contacts: [String]
    /// Opening hours as text ("Mo-Fr 08:00-18:00").
    public var hours: String?
    public init(id: String, name: String, description: String = "", contacts: [String] = [], hours: String? = nil) {
        self.id = id; self.name = name; self.description = description; self.contacts = contacts; self.hours = hours
    }
}

/// What the first portion of a call (a bot, a first agent) learned from the caller.
public struct CallData: Codable, Sendable, Equatable {
    public var call: String
    public var account: String?
    public var reason: String?
    public var notes: String?
    /// What was said, in order.
    public var transcript: [String]
    /// Anything else, by name.
    public var fields: [String: String]
    /// Unix time (seconds) of the last change.
    public var updated: Double

    public init(call: String, account: String? = nil, reason: String? = nil, notes: String? = nil,
                transcript: [String] = [], fields: [String: String] = [:], updated: Double = 0) {
        self.call = call; self.account = account; self.reason = reason; self.notes = notes
        self.transcript = transcript; self.fields = fields; self.updated = updated
    }
}

/// A change to a call's data: present values replace, transcript lines are appended,
/// fields are merged.
public struct CallDataUpdate: Codable, Sendable, Equatable {
    public var account: String?
    public var reason: String?
    public var notes: String?
    public var transcript: [String]?
    public var fields: [String: String]?
    public init(account: String? = nil, reason: String? = nil, notes: String? = nil, transcript: [String]? = nil,
                fields: [String: String]? = nil) {
        self.account = account; self.reason = reason; self.notes = notes; self.transcript = transcript; self.fields = fields
    }
}

/// A call key handed to the next agent instead of the data itself.
public struct CallKey: Codable, Sendable, Equatable {
    public var key: String
    public var call: String
    /// Unix times (seconds).
    public var created: Double
    public var expires: Double
}

/// Why a contact-center request failed; each maps to one HTTP status.
public enum ContactCenterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Bad input (400).
    case invalid(String)
    /// Unknown agent, category, call data or key (404).
    case notFound(String)
    /// A key that existed but expired (410).
    case expired(String)
    /// The store failed, or no key could be drawn (503).
    case unavailable(String)
    /// Too many requests for one call in a short time (429).
    case tooMany(String)

    public var description: String {
        switch self {
        case .invalid(let s), .notFound(let s), .expired(let s), .unavailable(let s), .tooMany(let s): s
        }
    }
}

/// The contact-center base: agents and their logins, the service-category directory, and
/// call data reachable through short call keys. Agents and categories are cached in memory
/// (read on the SIP loop without waiting on the store); call data and keys live in the
/// store only, so several gateways sharing a database see the same keys.
///
/// ```swift
/// let cc = ContactCenter(store: store)
/// try await cc.load()
/// _ = try await cc.updateCallData(call: id, tenant: "default", CallDataUpdate(account: "4711"))
/// let key = try await cc.issueKey(call: id, tenant: "default")       // "482913"
/// let data = try await cc.redeem(key: key.key, tenant: "default")   // the data, or a clear error
/// ```
public final class ContactCenter: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// How long a call key stays valid (seconds).
        public var keyTTLSeconds: Int = 600
        /// Digits per key: short enough to read aloud or key in with DTMF.
        public var keyDigits: Int = 6
        public init() {}
    }

    public let configuration: Configuration
    let store: any ContactCenterStore
    let now: @Sendable () -> Double
    private let cache = Mutex<(agents: [String: Agent], categories: [String: ServiceCategory])>(([:], [:]))
    /// Per call: the summary of its bot reports and the times of the last reports (rate limit).
    let dialogs = Mutex<[String: DialogState]>([:])
    /// When each agent was last chosen for a category call (``pick(skill:isFree:)``).
    private let lastChosen = Mutex<[String: Double]>([:])
    /// Agent changes read the cached agent, write the store, then the cache: one at a time,
    /// in the order they came, so two changes never build on the same old record (a
    /// `sip-phone` logout racing a login, or a desktop login racing a registration).
    private let agentWrites = AsyncSerializer()
    /// Registration changes as the registrar made them, applied in that order by ``run()``.
    private let registrations = AsyncStream<(aor: String, registered: Bool)>.makeStream()

    let logger: Logger

    public init(store: any ContactCenterStore, configuration: Configuration = .init(),
                now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
                logger: Logger = Logger(label: "baton.contact-center")) {
        self.store = store
        self.logger = logger
        self.configuration = configuration
        self.now = now
    }

    public func load() async throws {
        let agents = try await store.agents().map(Self.agent)
        let categories = try await store.categories().map(Self.category)
        cache.withLock {
            $0.agents = Dictionary(agents.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            $0.categories = Dictionary(categories.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        }
    }

    // MARK: Agents

    public func agents() -> [Agent] { cache.withLock { $0.agents.values.sorted { $0.id < $1.id } } }
    public func agent(id: String) -> Agent? { cache.withLock { $0.agents[id] } }

    /// The agent whose AOR is `aor` ("agent1@example.com", with or without `sip:`).
    public func agent(aor: String) -> Agent? {
        let key = Self.normalizeAOR(aor)
        return cache.withLock { c in c.agents.values.first { $0.aor.map(Self.normalizeAOR) == key } }
    }

    /// Creates or replaces an agent; login states already known are kept.
    public func putAgent(_ a: Agent) async throws(ContactCenterError) -> Agent {
        try Self.validID(a.id, "agent id")
        guard !a.name.trimmingCharacters(in: .whitespaces).isEmpty, a.name.count <= 200 else { throw .invalid("name must be 1-200 characters") }
        if let aor = a.aor, Self.normalizeAOR(aor).split(separator: "@").count != 2 {
            throw .invalid("aor must look like user@host (or sip:user@host)")
        }
        guard a.skills.count <= 100, a.skills.allSatisfy({ !$0.isEmpty && $0.count <= 64 }) else {
            throw .invalid("skills must be up to 100 names of 1-64 characters")
        }
        return try await agentWrites.run { () async throws(ContactCenterError) -> Agent in
            var agent = a
            agent.logins = self.agent(id: a.id)?.logins ?? [:]
            try await save(agent)
            return agent
        }
    }

    @discardableResult
    public func deleteAgent(id: String) async throws(ContactCenterError) -> Bool {
        try await agentWrites.run { () async throws(ContactCenterError) -> Bool in
            do { guard try await store.deleteAgent(id: id) else { return false } } catch { throw .unavailable("store: \(error)") }
            cache.withLock { $0.agents[id] = nil }
            return true
        }
    }

    /// Sets the agent's login state on one system.
    public func setLogin(agent id: String, system: String, loggedIn: Bool) async throws(ContactCenterError) -> Agent {
        try Self.validID(system, "system")
        return try await agentWrites.run { () async throws(ContactCenterError) -> Agent in
            guard let a = agent(id: id) else { throw .notFound("Unknown agent \(id)") }
            return try await saveLogin(a, system: system, loggedIn: loggedIn)
        }
    }

    /// `a` with its login on `system` set now, saved (store, then cache). Inside `agentWrites` only.
    private func saveLogin(_ a: Agent, system: String, loggedIn: Bool) async throws(ContactCenterError) -> Agent {
        let login = Agent.Login(state: loggedIn ? .loggedIn : .loggedOut, since: now())
        // Row-level: the other systems' logins are what the store holds (another gateway may
        // have changed one), not this gateway's copy.
        let row: AgentRecord?
        do { row = try await store.setAgentLogin(id: a.id, system: system, login: Self.json(login)) } catch {
            throw .unavailable("store: \(error)")
        }
        guard let row else { throw .notFound("Unknown agent \(a.id)") }
        let updated = Self.agent(row)
        cache.withLock { $0.agents[a.id] = updated }
        return updated
    }

    /// A registration of an agent's AOR at Baton: the `sip-phone` login follows it. Returns
    /// the agent when its login changed.
    @discardableResult
    public func registrationChanged(aor: String, registered: Bool) async -> Agent? {
        do {
            return try await agentWrites.run { () async throws(ContactCenterError) -> Agent? in
                // Read inside the serialized section: the state the previous change left.
                guard let a = agent(aor: aor), a.logins["sip-phone"]?.state != (registered ? .loggedIn : .loggedOut) else { return nil }
                return try await saveLogin(a, system: "sip-phone", loggedIn: registered)
            }
        } catch {
            // The cache keeps the previous state (save failed before it was written): the
            // agent's sip-phone login is stale until the next registration change.
            logger.error("agent login not saved", metadata: ["aor": "\(aor)", "registered": "\(registered)", "error": "\(error)"])
            return nil
        }
    }

    /// Queues a registration change from the registrar (on the SIP loop; never waits).
    /// ``run()`` applies the queued changes one by one, in this order.
    public func noteRegistration(aor: String, registered: Bool) {
        registrations.continuation.yield((aor, registered))
    }

    /// Applies queued registration changes in order until ``finish()``.
    public func run() async {
        for await change in registrations.stream { await registrationChanged(aor: change.aor, registered: change.registered) }
    }

    /// Ends ``run()`` once the changes queued so far are applied.
    public func finish() { registrations.continuation.finish() }

    /// Agents logged in somewhere who have `skill`.
    public func available(skill: String) -> [Agent] { agents().filter { $0.available && $0.skills.contains(skill) } }

    /// The agent a call for `skill` goes to: logged in, with an AOR, free (`isFree`: not in a
    /// call), and of those the least recently chosen (never chosen first, then by id), so
    /// calls spread over the agents instead of always reaching the first. Marks it chosen.
    public func pick(skill: String, isFree: ([Agent]) async -> Set<String>) async -> Agent? {
        let candidates = available(skill: skill).filter { $0.aor != nil }
        guard !candidates.isEmpty else { return nil }
        let free = await isFree(candidates)
        return lastChosen.withLock { last in
            let ranked = candidates.filter { free.contains($0.id) }.sorted { (last[$0.id] ?? 0, $0.id) < (last[$1.id] ?? 0, $1.id) }
            guard let agent = ranked.first else { return nil }
            last[agent.id] = max(now(), (last.values.max() ?? 0) + 1e-6)
            return agent
        }
    }

    private func save(_ a: Agent) async throws(ContactCenterError) {
        do {
            try await store.save(AgentRecord(id: a.id, name: a.name, aor: a.aor, skills: Self.json(a.skills), logins: Self.json(a.logins)))
        } catch { throw .unavailable("store: \(error)") }
        cache.withLock { $0.agents[a.id] = a }
    }

    // MARK: Service categories

    public func categories() -> [ServiceCategory] { cache.withLock { $0.categories.values.sorted { $0.id < $1.id } } }
    public func category(id: String) -> ServiceCategory? { cache.withLock { $0.categories[id] } }

    public func putCategory(_ c: ServiceCategory) async throws(ContactCenterError) -> ServiceCategory {
        try Self.validID(c.id, "category id")
        guard !c.name.trimmingCharacters(in: .whitespaces).isEmpty, c.name.count <= 200 else { throw .invalid("name must be 1-200 characters") }
        guard c.description.count <= 2000, (c.hours?.count ?? 0) <= 200 else { throw .invalid("description or hours too long") }
        guard c.contacts.count <= 50, c.contacts.allSatisfy({ $0.hasPrefix("sip:") || $0.hasPrefix("sips:") || $0.hasPrefix("tel:") }) else {
            throw .invalid("contacts must be up to 50 sip:, sips: or tel: URIs")
        }
        do {
            try await store.save(CategoryRecord(id: c.id, name: c.name, description: c.description, contacts: Self.json(c.contacts), hours: c.hours))
        } catch { throw .unavailable("store: \(error)") }
        cache.withLock { $0.categories[c.id] = c }
        return c
    }

    @discardableResult
    public func deleteCategory(id: String) async throws(ContactCenterError) -> Bool {
        do { guard try await store.deleteCategory(id: id) else { return false } } catch { throw .unavailable("store: \(error)") }
        cache.withLock { $0.categories[id] = nil }
        return true
    }

    // MARK: Call data and keys

    public func callData(call: String, tenant: String) async throws(ContactCenterError) -> CallData? {
        let r: CallDataRecord?
        do { r = try await store.callData(tenant: tenant, callID: call) } catch { throw .unavailable("store: \(error)") }
        return r.flatMap { try? JSONDecoder().decode(CallData.self, from: Data($0.data.utf8)) }
    }

    /// Applies an update to a call's data (creating it) and returns the result.
    public func updateCallData(call: String, tenant: String, _ u: CallDataUpdate) async throws(ContactCenterError) -> CallData {
        let limits = [u.account?.count ?? 0, u.reason?.count ?? 0]
        guard limits.allSatisfy({ $0 <= 500 }), (u.notes?.count ?? 0) <= 10_000, (u.transcript?.count ?? 0) <= 1000,
              (u.transcript ?? []).allSatisfy({ $0.count <= 2000 }), (u.fields?.count ?? 0) <= 100,
              (u.fields ?? [:]).allSatisfy({ !$0.key.isEmpty && $0.key.count <= 64 && $0.value.count <= 2000 }) else {
            throw .invalid("call data too large (account/reason 500, notes 10000, 1000 transcript lines of 2000, 100 fields)")
        }
        var d = try await callData(call: call, tenant: tenant) ?? CallData(call: call)
        if let v = u.account { d.account = v }
        if let v = u.reason { d.reason = v }
        if let v = u.notes { d.notes = v }
        if let v = u.transcript { d.transcript.append(contentsOf: v) }
        if d.transcript.count > 5000 { d.transcript.removeFirst(d.transcript.count - 5000) }
        if let v = u.fields { d.fields.merge(v) { _, new in new } }
        d.updated = now()
        do {
            try await store.save(CallDataRecord(tenant: tenant, callID: call, data: Self.json(d), updated: d.updated))
        } catch { throw .unavailable("store: \(error)") }
        return d
    }

    /// Assigns a fresh key to a call's data: `keyDigits` random digits, unique among live
    /// keys, valid for `ttl` seconds (default `keyTTLSeconds`).
    /// `agent`: the agent it is made for (a transfer to that agent): then only that agent, or
    /// a requester that is no agent (an application, an admin), may redeem it.
    public func issueKey(call: String, tenant: String, ttl: Int? = nil, agent: String? = nil) async throws(ContactCenterError) -> CallKey {
        let ttl = ttl ?? configuration.keyTTLSeconds
        guard (1...86_400).contains(ttl) else { throw .invalid("ttl_s must be 1-86400") }
        let t = now()
        var rng = SystemRandomNumberGenerator()
        let digits = max(4, min(12, configuration.keyDigits))
        for _ in 0..<32 {
            let key = String((0..<digits).map { _ in Character(String(Int.random(in: 0...9, using: &rng))) })
            let rec = CallKeyRecord(key: key, tenant: tenant, callID: call, created: t, expires: t + Double(ttl), agent: agent)
            let inserted: Bool
            do { inserted = try await store.insertKey(rec, now: t) } catch { throw .unavailable("store: \(error)") }
            if inserted { return CallKey(key: key, call: call, created: t, expires: rec.expires) }
        }
        throw .unavailable("no free call key after 32 draws (too many live keys for \(digits) digits)")
    }

    /// The data a key stands for. A key of another tenant is unknown; an expired one says so.
    /// `agent`: the requesting agent (an agent's token or desktop session), nil for any other
    /// requester; a key made for another agent is unknown to it.
    public func redeem(key raw: String, tenant: String, agent: String? = nil) async throws(ContactCenterError) -> (key: CallKey, data: CallData) {
        let key = raw.filter { !$0.isWhitespace && $0 != "-" }
        guard !key.isEmpty, key.count <= 32, key.allSatisfy(\.isNumber) else { throw .invalid("a call key is digits only, not '\(raw.prefix(40))'") }
        let rec: CallKeyRecord?
        do { rec = try await store.callKey(key) } catch { throw .unavailable("store: \(error)") }
        guard let rec, rec.tenant == tenant else { throw .notFound("Unknown call key \(key)") }
        if let bound = rec.agent, let agent, bound.lowercased() != agent.lowercased() { throw .notFound("Unknown call key \(key)") }
        let k = CallKey(key: rec.key, call: rec.callID, created: rec.created, expires: rec.expires)
        guard rec.expires > now() else { throw .expired("Call key \(key) expired") }
        let data = try await callData(call: rec.callID, tenant: tenant) ?? CallData(call: rec.callID, updated: rec.created)
        return (k, data)
    }

    // MARK: Helpers

    static func validID(_ s: String, _ what: String) throws(ContactCenterError) {
        guard !s.isEmpty, s.count <= 64, s.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }), s.isASCII else {
            throw .invalid("\(what) must be 1-64 characters of letters, digits, '-', '_' or '.'")
        }
    }

    /// "sip:Agent1@Example.com;x=y" or "Ann <sip:Agent1@Example.com>;tag=1" -> "agent1@example.com".
    public static func normalizeAOR(_ s: String) -> String {
        var v = s.trimmingCharacters(in: .whitespaces)
        // A name-addr ("Ann <sip:ann@x>;tag=1"): what is inside the angle brackets.
        if let b = v.firstIndex(of: "<"), let e = v[b...].firstIndex(of: ">") { v = String(v[v.index(after: b)..<e]) }
        for p in ["sip:", "sips:"] where v.lowercased().hasPrefix(p) { v = String(v.dropFirst(p.count)) }
        if let semi = v.firstIndex(where: { $0 == ";" || $0 == "?" }) { v = String(v[..<semi]) }
        return v.lowercased()
    }

    /// Compact JSON with sorted keys, as the store keeps records' details.
    public static func json<T: Encodable>(_ v: T) -> String {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return (try? e.encode(v)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    static func agent(_ r: AgentRecord) -> Agent {
        Agent(id: r.id, name: r.name, aor: r.aor,
              skills: (try? JSONDecoder().decode([String].self, from: Data(r.skills.utf8))) ?? [],
              logins: (try? JSONDecoder().decode([String: Agent.Login].self, from: Data(r.logins.utf8))) ?? [:])
    }

    static func category(_ r: CategoryRecord) -> ServiceCategory {
        ServiceCategory(id: r.id, name: r.name, description: r.description,
                        contacts: (try? JSONDecoder().decode([String].self, from: Data(r.contacts.utf8))) ?? [], hours: r.hours)
    }
}

extension String {
    var isASCII: Bool { utf8.allSatisfy { $0 < 0x80 } }
}
