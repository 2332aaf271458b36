import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import SIP
import Store
import Synchronization

/// What an HTTP API token may do.
public enum APIRole: String, Sendable, CaseIterable, Codable {
    /// Everything: users, devices, forwarding, agents, categories, calls.
    case admin
    /// A bot platform or an application: reads, and acts on calls (switchover, transfer,
    /// call data, call keys), not on the gateway's configuration.
    case application
    /// One agent (the token names it): reads, and its own logins.
    case agent
    /// Monitoring: reads only.
    case readOnly = "read-only"
}

/// Who a valid token belongs to.
public struct APIPrincipal: Sendable, Equatable {
    public var id: String
    public var name: String
    public var role: APIRole
    /// The tenant every request of this token acts in (never a request header's).
    public var tenant: String
    public var agent: String?
}

/// The HTTP API's bearer tokens, kept in the store as SHA-256 hashes of their secrets and
/// checked from memory. A token reads `bt_<id>_<secret>`: the id finds the record, the
/// secret's hash is compared in constant time. `baton tokens create|list|revoke`.
public final class APITokens: Sendable {
    private let tokens = Mutex<[String: (principal: APIPrincipal, hash: String)]>([:])
    private let store: (any APITokenStore)?

    public init(store: (any APITokenStore)?, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.store = store
        self.now = now
    }

    public func load() async throws {
        guard let store else { return }
        let all = try await store.apiTokens()
        tokens.withLock { t in
            t = [:]
            for r in all {
                guard let role = APIRole(rawValue: r.role) else { continue }
                t[r.id] = (APIPrincipal(id: r.id, name: r.name, role: role, tenant: r.tenant, agent: r.agent), r.hash)
            }
        }
    }

    public var all: [APIPrincipal] { tokens.withLock { $0.values.map(\.principal) }.sorted { $0.id < $1.id } }
    public var isEmpty: Bool { tokens.withLock { $0.isEmpty } }

    /// Makes a token; the returned text is shown once and never stored.
    public func create(name: String, role: APIRole, tenant: String, agent: String? = nil) async throws -> (token: String, principal: APIPrincipal) {
        if role == .agent && agent == nil { throw APITokenError.agentNeeded }
        let id = APITokens.random(6), secret = APITokens.random(24)
        let principal = APIPrincipal(id: id, name: name, role: role, tenant: tenant, agent: agent)
        let hash = APITokens.hash(secret)
        try await store?.save(APITokenRecord(id: id, name: name, role: role.rawValue, tenant: tenant, agent: agent,
                                             hash: hash, created: Date().timeIntervalSince1970))
        tokens.withLock { $0[id] = (principal, hash) }
        return ("bt_\(id)_\(secret)", principal)
    }

    public func revoke(id: String) async throws -> Bool {
        let stored = try await store?.deleteAPIToken(id: id) ?? false
        let had = tokens.withLock { $0.removeValue(forKey: id) != nil }
        return stored || had
    }

    /// The principal of a `bt_<id>_<secret>` token, if it is valid.
    public func authenticate(_ token: String) -> APIPrincipal? {
        let parts = token.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "bt" else { return nil }
        let id = String(parts[1])
        let entry: (principal: APIPrincipal, hash: String)? = tokens.withLock { $0[id] } ?? sessions.withLock { s in
            guard let e = s[id] else { return nil }
            guard e.expires > now() else { s[id] = nil; return nil }
            return (e.principal, e.hash)
        }
        guard let entry, constantTimeEqual(APITokens.hash(String(parts[2])), entry.hash) else { return nil }
        return entry.principal
    }

    // MARK: Desktop sessions

    /// Agent desktop sessions: an agent token made at login (`POST /login`), kept in memory
    /// only (a restart logs the desktops out) until it expires or the page logs out.
    private let sessions = Mutex<[String: (principal: APIPrincipal, hash: String, expires: Double)]>([:])
    private let now: @Sendable () -> Double

    /// A session token for `agent`, valid `ttl` seconds: the agent role, bound to that agent.
    public func startSession(agent: String, tenant: String, ttl: Int) -> (token: String, expires: Double) {
        let id = "s" + APITokens.random(7), secret = APITokens.random(24)
        let principal = APIPrincipal(id: id, name: "desktop:\(agent)", role: .agent, tenant: tenant, agent: agent)
        let expires = now() + Double(ttl)
        sessions.withLock { s in
            let t = now()
            if s.count > 10_000 { s = s.filter { $0.value.expires > t } }
            s[id] = (principal, APITokens.hash(secret), expires)
        }
        return ("bt_\(id)_\(secret)", expires)
    }

    /// Ends the session of a principal (its logout); tokens from `baton tokens` stay.
    public func endSession(_ p: APIPrincipal) { _ = sessions.withLock { $0.removeValue(forKey: p.id) } }

    static func hash(_ secret: String) -> String { SHA256.hash(data: Data(secret.utf8)).hex }

    static func random(_ n: Int) -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var g = SystemRandomNumberGenerator()
        return String((0..<n).map { _ in alphabet[Int(g.next(upperBound: UInt32(alphabet.count)))] })
    }

    /// Whether `role` (and, for an agent, its agent id) may `method` on `path`.
    public static func allows(_ p: APIPrincipal, method: HTTPRequest.Method, path: String) -> Bool {
        // SIP users (their names are what a password guesser needs first): admins only.
        if path == "/users" || (path.hasPrefix("/users/") && path.split(separator: "/").count == 2) { return p.role == .admin }
        if method == .get || method == .head { return true }
        switch p.role {
        case .admin: return true
        case .readOnly: return false
        case .application:
            return path.hasPrefix("/calls/") || path.hasPrefix("/call-keys/")
        case .agent:
            if path == "/logout" { return true }
            // Its own calls' moves: the handler checks it is a party (MoveRules).
            if path.hasPrefix("/calls/") && (path.hasSuffix("/transfer") || path.hasSuffix("/switchover")) { return true }
            // Its own logins only: /agents/<id>/logins/<system>.
            let parts = path.split(separator: "/")
            return parts.count == 4 && parts[0] == "agents" && parts[2] == "logins" && String(parts[1]) == p.agent
        }
    }
}

public enum APITokenError: Error, CustomStringConvertible {
    case agentNeeded
    public var description: String { "an agent token names its agent (--agent ID)" }
}

/// Bearer authentication of the HTTP API (`http.auth`): every operation but `/healthz`,
/// `/metrics` and `/openapi.json` needs `Authorization: Bearer <token>` (401 with
/// `WWW-Authenticate: Bearer` otherwise), the token's role must allow it (403), and the
/// request acts in the token's tenant: an `X-Baton-Tenant` header it sent is replaced.
struct APIAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let tokens: APITokens
    /// Also accept `?token=` (the `/events` WebSocket: browsers cannot set its headers).
    var queryToken = false
    static var agentHeader: HTTPField.Name { HTTPField.Name("X-Baton-Agent")! }
    static var openPaths: Set<String> { ["/healthz", "/metrics", "/openapi.json", "/desktop", "/login"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if Self.openPaths.contains(path) { return try await next(request, context) }
        let header = request.headers[.authorization] ?? ""
        var token = header.hasPrefix("Bearer ") ? String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces) : nil
        if token == nil, queryToken { token = request.uri.queryParameters.get("token") }
        guard let token, let principal = tokens.authenticate(token) else {
            apiAuthFailures.increment()
            apiAuthLimiter.withLock { $0.log(context.logger, .warning, "HTTP API request without a valid token", metadata: ["path": "\(path)"]) }
            throw HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer realm=\"baton\""],
                            message: header.isEmpty ? "this API needs Authorization: Bearer <token> (baton tokens create)" : "invalid or revoked token")
        }
        if path == "/logout", request.method == .post {
            tokens.endSession(principal)
            return Response(status: .noContent)
        }
        guard APITokens.allows(principal, method: request.method, path: path) else {
            throw HTTPError(.forbidden, message: "a \(principal.role.rawValue) token may not \(request.method.rawValue) \(path)")
        }
        var head = request.head
        head.headerFields[HTTPField.Name("X-Baton-Tenant")!] = principal.tenant
        // Who asks, for keys bound to an agent: set from the token, never the client's.
        head.headerFields[APIAuthMiddleware.agentHeader] = nil
        if principal.role == .agent, let agent = principal.agent { head.headerFields[APIAuthMiddleware.agentHeader] = agent }
        return try await next(Request(head: head, body: request.body), context)
    }
}

private let apiAuthFailures = Counter(label: "baton_http_auth_failures_total")
/// The SIP layer's log limiter (rtpengine's LOG_FLAG_LIMIT), shared by requests under a lock.
private let apiAuthLimiter = Mutex(LogRateLimiter())

/// Limits call-key look-ups (`GET /call-keys/{key}`): a key is a few digits, so trying
/// them is the attack. At most `perMinute` look-ups per client address and, with `http.auth`,
/// per token (per `bt_<id>`) in each minute: a client with many tokens is held by its
/// address, many clients behind one proxy by their tokens. Beyond either, 429 with
/// Retry-After. Counted in `baton_call_key_lookups_limited_total`.
struct KeyLookupLimitMiddleware<Context: RemoteAddressRequestContext>: RouterMiddleware {
    let limiter: KeyLookupLimiter
    /// With `http.auth` each (validated) token has its own budget; without it, a header is
    /// the client's to invent, so only the address counts.
    let perToken: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get, request.uri.path.hasPrefix("/call-keys/") else { return try await next(request, context) }
        let header = request.headers[.authorization] ?? ""
        var budgets = ["address:" + (context.remoteAddress?.ipAddress ?? "unknown")]
        if perToken && header.hasPrefix("Bearer bt_") { budgets.append("token:" + String(header.dropFirst(10).prefix { $0 != "_" })) }
        if let retry = limiter.take(budgets) {
            throw HTTPError(.tooManyRequests, headers: [.retryAfter: "\(retry)"],
                            message: "too many call-key look-ups; try again in \(retry) s")
        }
        return try await next(request, context)
    }
}

/// Fixed one-minute windows per caller.
public final class KeyLookupLimiter: Sendable {
    public let perMinute: Int
    private let windows = Mutex<[String: (minute: Int, count: Int)]>([:])
    private let now: @Sendable () -> Double
    private let limited = Counter(label: "baton_call_key_lookups_limited_total")

    public init(perMinute: Int, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.perMinute = perMinute
        self.now = now
    }

    /// nil when every one of `budgets` (an address, a token) may look up a key now; else the
    /// seconds until they may. Each look-up counts against all of them.
    func take(_ budgets: [String]) -> Int? {
        let t = now()
        let minute = Int(t / 60)
        let over: Bool = windows.withLock { w in
            if w.count > 10_000 { w = w.filter { $0.value.minute == minute } }
            var over = false
            for who in budgets {
                var e = w[who] ?? (minute, 0)
                if e.minute != minute { e = (minute, 0) }
                e.count += 1
                w[who] = e
                over = over || e.count > perMinute
            }
            return over
        }
        guard over else { return nil }
        limited.increment()
        return max(1, 60 - Int(t) % 60)
    }
}
