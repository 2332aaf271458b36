import Identity
import SIP
import Store
import Synchronization

/// One call-forwarding rule Baton applies itself: calls to `number` go to `to`
/// unconditionally, when the device is busy, or when it rings `afterSeconds` unanswered.
public struct ForwardingRule: Sendable, Codable, Equatable {
    public var number: String
    public var to: String
    public var on: ForwardReason
    public var afterSeconds: Int

    public init(number: String, to: String, on: ForwardReason, afterSeconds: Int = 20) {
        self.number = number; self.to = to; self.on = on; self.afterSeconds = afterSeconds
    }

    /// Does a call to `uri` match? Its user part, as a canonical number or as written.
    public func matches(_ uri: String) -> Bool {
        let user = SIPURI(parsing: uri)?.user ?? uri
        return (TelephoneNumber.canonical(user) ?? user) == (TelephoneNumber.canonical(number) ?? number)
    }

    var key: String { (TelephoneNumber.canonical(number) ?? number) + "/" + on.rawValue }
}


/// The forwarding rules in force: from the configuration at start, edited over the HTTP API
/// (`PUT/DELETE /forwarding/{number}/{on}`), kept in the store. The B2BUA reads it per call.
public final class ForwardingTable: Sendable {
    private let rules: Mutex<[String: ForwardingRule]>
    private let store: (any ForwardingStore)?

    public init(_ initial: [ForwardingRule] = [], store: (any ForwardingStore)? = nil) {
        rules = Mutex(Dictionary(initial.map { ($0.key, $0) }, uniquingKeysWith: { _, b in b }))
        self.store = store
    }

    /// Rules saved over the API before a restart come back on top of the configured ones.
    public func restore() async throws {
        guard let store else { return }
        for r in try await store.forwardingRules() {
            guard let on = ForwardReason(rawValue: r.on) else { continue }
            let rule = ForwardingRule(number: r.number, to: r.to, on: on, afterSeconds: r.afterSeconds)
            rules.withLock { $0[rule.key] = rule }
        }
    }

    public var all: [ForwardingRule] { rules.withLock { Array($0.values) }.sorted { $0.key < $1.key } }

    public func target(called: String, reason: ForwardReason) -> String? {
        rules.withLock { r in r.values.first { $0.on == reason && $0.matches(called) }?.to }
    }

    public func noAnswer(called: String) -> (target: String, seconds: Int)? {
        rules.withLock { r in r.values.first { $0.on == .noAnswer && $0.matches(called) }.map { ($0.to, $0.afterSeconds) } }
    }

    /// Is `number` (canonical) forwarded by some rule? (Its calls' Identity is then kept.)
    public func forwards(_ number: String) -> Bool {
        rules.withLock { r in r.values.contains { (TelephoneNumber.canonical($0.number) ?? $0.number) == number } }
    }

    public func put(_ rule: ForwardingRule) async throws {
        rules.withLock { $0[rule.key] = rule }
        try await store?.save(ForwardingRecord(number: TelephoneNumber.canonical(rule.number) ?? rule.number, on: rule.on.rawValue,
                                               to: rule.to, afterSeconds: rule.afterSeconds))
    }

    @discardableResult
    public func delete(number: String, on: ForwardReason) async throws -> Bool {
        let key = (TelephoneNumber.canonical(number) ?? number) + "/" + on.rawValue
        let removed = rules.withLock { $0.removeValue(forKey: key) } != nil
        _ = try await store?.deleteForwarding(number: TelephoneNumber.canonical(number) ?? number, on: on.rawValue)
        return removed
    }
}
