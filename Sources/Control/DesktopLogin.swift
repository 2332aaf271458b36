import Calls
import ContactCenter
import Foundation
import Logging
import Metrics
import SIP
import Synchronization

/// The agent desktop's login (`POST /login`): the agent id and the password of the agent's
/// SIP user (the user part of its AOR, or its id), checked against the HA1 the store keeps;
/// with `http.auth` a session token (agent role, bound to the agent) for the page's API calls
/// and its `/events` WebSocket. Failures are counted and, five in a row for one agent id,
/// block that agent's logins for a minute (429), so a password cannot be guessed through
/// the page faster than through SIP.
public final class DesktopLogin: Sendable {
    public enum Outcome: Sendable, Equatable {
        case loggedIn(Agent, token: String?, expires: Double?)
        /// Unknown agent, no SIP user for it, or a wrong password: one answer for all three.
        case refused
        case blocked(retryAfter: Int)
    }

    let users: SIPUsers?
    let tokens: APITokens?
    let sessionSeconds: Int
    let maxFailures: Int
    let blockSeconds: Int
    private let failures = Mutex<[String: (count: Int, blockedUntil: Double)]>([:])
    private let now: @Sendable () -> Double
    private let failureCounter = Counter(label: "baton_desktop_login_failures_total")
    private let limiter = Mutex(LogRateLimiter())
    private let logger = Logger(label: "baton.http")

    /// Without `tokens` (no `http.auth`) nothing is checked: the id alone logs in, as every
    /// other API call is open then.
    public init(users: SIPUsers?, tokens: APITokens?, sessionSeconds: Int = 43200, maxFailures: Int = 5, blockSeconds: Int = 60,
                now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.users = users; self.tokens = tokens; self.sessionSeconds = sessionSeconds
        self.maxFailures = maxFailures; self.blockSeconds = blockSeconds; self.now = now
    }

    public func login(agent id: String, password: String?, center: ContactCenter, tenant: String) -> Outcome {
        let key = id.lowercased(), t = now()
        if let until = failures.withLock({ $0[key]?.blockedUntil }), until > t {
            return .blocked(retryAfter: max(1, Int((until - t).rounded(.up))))
        }
        guard let agent = center.agent(id: id) else { return fail(key, id, "unknown agent") }
        guard let tokens else { return .loggedIn(agent, token: nil, expires: nil) }
        let user = agent.aor.map(DesktopLogin.userPart) ?? agent.id
        guard let users, let password, users.verify(user: user, password: password) else {
            return fail(key, id, "wrong password or no SIP user \(user)")
        }
        failures.withLock { _ = $0.removeValue(forKey: key) }
        let (token, expires) = tokens.startSession(agent: agent.id, tenant: tenant, ttl: sessionSeconds)
        logger.info("agent desktop login", metadata: ["agent": "\(agent.id)"])
        return .loggedIn(agent, token: token, expires: expires)
    }

    private func fail(_ key: String, _ id: String, _ why: String) -> Outcome {
        failureCounter.increment()
        let t = now()
        let blocked: Bool = failures.withLock { f in
            if f.count > 10_000 { f = f.filter { $0.value.blockedUntil > t } }
            var e = f[key] ?? (0, 0)
            e.count += 1
            if e.count >= maxFailures { e = (0, t + Double(blockSeconds)) }
            f[key] = e
            return e.blockedUntil > t
        }
        limiter.withLock { [logger] in
            $0.log(logger, .warning, "agent desktop login refused", metadata: ["agent": "\(id)", "why": "\(why)", "blocked": "\(blocked)"])
        }
        return .refused
    }

    /// "sip:ann@example.com" or "ann@example.com" -> "ann" (SIP users are case-insensitive).
    static func userPart(_ aor: String) -> String { String(ContactCenter.normalizeAOR(aor).prefix { $0 != "@" }) }
}
