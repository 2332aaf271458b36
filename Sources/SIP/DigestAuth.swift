import Crypto
import Foundation
import Logging
import Metrics

/// A digest algorithm of RFC 8760 (SIP's update of RFC 3261 §22 to RFC 7616's algorithms).
/// Baton challenges with SHA-256 first and MD5 second, so a phone picks the strongest it has.
public enum DigestAlgorithm: String, Sendable, CaseIterable, Codable {
    case sha256 = "SHA-256"
    case md5 = "MD5"

    /// Lowercase hex of the hash of `text` (RFC 7616 §3.4.1: H(data)).
    public func hash(_ text: String) -> String {
        switch self {
        case .sha256: SHA256.hash(data: Data(text.utf8)).hex
        case .md5: Insecure.MD5.hash(data: Data(text.utf8)).hex
        }
    }

    /// HA1 = H(username ":" realm ":" password): what the store keeps instead of the password.
    public func ha1(user: String, realm: String, password: String) -> String { hash("\(user):\(realm):\(password)") }

    /// The `response` a client computes (RFC 7616 §3.4.1; RFC 2069 form without qop).
    public func response(ha1: String, nonce: String, method: String, uri: String,
                         qop: (qop: String, nc: String, cnonce: String)?) -> String {
        let ha2 = hash("\(method):\(uri)")
        guard let q = qop else { return hash("\(ha1):\(nonce):\(ha2)") }
        return hash("\(ha1):\(nonce):\(q.nc):\(q.cnonce):\(q.qop):\(ha2)")
    }

    /// The algorithm an `algorithm=` parameter names (absent means MD5, RFC 3261 §22.4).
    public init?(parameter: String?) {
        guard let p = parameter else { self = .md5; return }
        switch p.uppercased() {
        case "MD5": self = .md5
        case "SHA-256": self = .sha256
        default: return nil
        }
    }
}

extension Sequence where Element == UInt8 {
    /// Lowercase hex, without Foundation's formatter (two table look-ups per byte).
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in self { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// One user's SIP credentials as the store keeps them: an HA1 per algorithm, never the password.
public struct SIPCredentials: Sendable, Equatable {
    /// The digest username, which is also the user part of the AOR it may register.
    public var user: String
    public var realm: String
    public var ha1: [DigestAlgorithm: String]
    public init(user: String, realm: String, ha1: [DigestAlgorithm: String]) {
        self.user = user; self.realm = realm; self.ha1 = ha1
    }
    /// Credentials for `password` in every algorithm.
    public init(user: String, realm: String, password: String) {
        self.init(user: user, realm: realm,
                  ha1: Dictionary(uniqueKeysWithValues: DigestAlgorithm.allCases.map { ($0, $0.ha1(user: user, realm: realm, password: password)) }))
    }
    /// Whether `password` is this user's (its SHA-256 HA1, else its MD5 one, compared in
    /// constant time): the agent desktop's login checks the agent's SIP password so.
    public func matches(password: String) -> Bool {
        for algorithm in [DigestAlgorithm.sha256, .md5] {
            guard let want = ha1[algorithm], !want.isEmpty else { continue }
            return constantTimeEqual(algorithm.ha1(user: user, realm: realm, password: password), want)
        }
        return false
    }
}

/// Where the authenticator finds a user's credentials; called on the SIP event loop, so it
/// answers from memory (the Calls layer keeps a store-backed copy).
public protocol SIPCredentialSource: AnyObject, Sendable {
    func credentials(user: String, realm: String) -> SIPCredentials?
}

/// An `Authorization` / `Proxy-Authorization` header's digest parameters (RFC 7616 §3.4).
public struct DigestResponse: Sendable, Equatable {
    public var username: String
    public var realm: String
    public var nonce: String
    public var uri: String
    public var response: String
    public var algorithm: String?
    public var cnonce: String?
    public var opaque: String?
    public var qop: String?
    public var nc: String?

    /// Parses `Digest username="alice", realm="baton", ...`; nil when it is not a digest
    /// header or a required parameter is missing. Quoted values may hold commas and escaped
    /// quotes; unknown parameters are ignored.
    public init?(header: String) {
        var s = Substring(header).drop { $0 == " " || $0 == "\t" }
        guard s.prefix(6).lowercased() == "digest", s.dropFirst(6).first.map({ $0 == " " || $0 == "\t" }) == true else { return nil }
        s = s.dropFirst(6)
        var params: [String: String] = [:]
        while true {
            s = s.drop { $0 == " " || $0 == "\t" || $0 == "," || $0 == "\r" || $0 == "\n" }
            guard !s.isEmpty else { break }
            guard let eq = s.firstIndex(of: "=") else { return nil }
            let name = s[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            s = s[s.index(after: eq)...].drop { $0 == " " || $0 == "\t" }
            var value = ""
            if s.first == "\"" {
                s = s.dropFirst()
                var closed = false
                while let c = s.first {
                    s = s.dropFirst()
                    if c == "\\", let next = s.first { value.append(next); s = s.dropFirst(); continue }
                    if c == "\"" { closed = true; break }
                    value.append(c)
                }
                guard closed else { return nil }
            } else {
                let end = s.firstIndex(of: ",") ?? s.endIndex
                value = s[..<end].trimmingCharacters(in: .whitespaces)
                s = s[end...]
            }
            guard !name.isEmpty, params[name] == nil else { return nil }   // a repeated parameter is malformed
            params[name] = value
        }
        guard let u = params["username"], let r = params["realm"], let n = params["nonce"], let uri = params["uri"],
              let resp = params["response"] else { return nil }
        username = u; realm = r; nonce = n; self.uri = uri; response = resp
        algorithm = params["algorithm"]; cnonce = params["cnonce"]; opaque = params["opaque"]
        qop = params["qop"]; nc = params["nc"]
    }
}

/// Who sent a request, as far as authentication can tell: what call-move authorization
/// (REFER, INVITE with Replaces) decides on.
public enum SIPRequester: Sendable, Equatable {
    /// Authentication is off (`auth.sip = false`: loopback, a lab): nobody is checked.
    case unchecked
    /// A source in `auth.trusted` (a proxy in front, a carrier trunk), let in without credentials.
    case trusted
    /// Digest credentials of this user.
    case user(String)
}

/// SIP digest authentication (RFC 3261 §22, RFC 8760) on the SIP event loop: challenges,
/// nonces, replay and brute-force protection.
///
/// Nonces carry their own issue time and an HMAC under a per-process key, so any nonce
/// Baton issued verifies without a table, an expired one is answered with `stale=true`
/// (the phone retries with the new nonce, no password prompt), and a forged one is refused.
/// Replay: with `qop=auth` each nonce's `nc` must grow; without qop a nonce is used once.
/// A source that fails `maxFailures` times in a row is answered after a delay and then
/// blocked for `blockSeconds` (403, no challenge).
public final class DigestAuthenticator {
    public struct Configuration: Sendable, Equatable {
        /// Require digest for REGISTER and for INVITE, REFER and SUBSCRIBE outside a dialog
        /// from every source that is not trusted (`auth.sip`).
        public var enabled = false
        /// The realm in challenges (`auth.realm`); default the advertised host.
        public var realm = ""
        /// Sources let in without credentials: a proxy in front, a carrier trunk
        /// (`auth.trusted`: addresses or CIDR blocks).
        public var trusted: [String] = []
        /// How long a nonce is good for before `stale=true` (`auth.nonce_ttl_s`).
        public var nonceSeconds = 300
        /// Failures in a row from one address before it is blocked (`auth.max_failures`).
        public var maxFailures = 5
        /// How long a blocked address is refused (`auth.block_s`).
        public var blockSeconds = 60
        /// The challenges offered, most preferred first (`auth.algorithms`). MD5 alone by
        /// default: sipp 3.6 answers only the first challenge and knows only MD5, and
        /// libre 1.1 (Debian's baresip) fails as soon as any challenge is not MD5. A network
        /// of RFC 8760 phones sets `SHA-256,MD5` (or `SHA-256`).
        public var algorithms: [DigestAlgorithm] = [.md5]
        public init() {}
    }

    /// What a request's credentials come to.
    public enum Outcome: Equatable, Sendable {
        /// Authentication is off.
        case unchecked
        /// A trusted source, let in without credentials.
        case trusted
        /// The credentials of `user` are right.
        case authenticated(user: String)
        /// Answer with this status and these challenge headers.
        case challenge(SIPStatus, [(String, String)])
        /// Refused outright (blocked source, credentials for another realm than ours).
        case refused(SIPStatus)

        public static func == (a: Outcome, b: Outcome) -> Bool {
            switch (a, b) {
            case (.trusted, .trusted), (.unchecked, .unchecked): true
            case let (.authenticated(x), .authenticated(y)): x == y
            case let (.challenge(s, h), .challenge(t, k)): s == t && h.map { "\($0.0):\($0.1)" } == k.map { "\($0.0):\($0.1)" }
            case let (.refused(s), .refused(t)): s == t
            default: false
            }
        }
    }

    public let configuration: Configuration
    weak var credentials: (any SIPCredentialSource)?
    private let key = SymmetricKey(size: .bits256)
    private let now: () -> Double
    private let trusted: [IPBlock]
    /// Highest nc seen per nonce still in its lifetime (qop=auth), or that it was used (no qop).
    private var seen: [String: (nc: UInt64, expires: Double)] = [:]
    private var failures: [String: (count: Int, blockedUntil: Double)] = [:]
    private var logLimiter = LogRateLimiter()
    private let logger: Logger
    private let failuresCounter = Counter(label: "baton_sip_auth_failures_total")
    private let blockedCounter = Counter(label: "baton_sip_auth_blocked_total")

    public init(configuration: Configuration, credentials: (any SIPCredentialSource)?, logger: Logger = Logger(label: "baton.auth"),
                now: @escaping () -> Double = { Date().timeIntervalSince1970 }) {
        self.configuration = configuration
        self.credentials = credentials
        self.logger = logger
        self.now = now
        trusted = configuration.trusted.compactMap(IPBlock.init)
    }

    /// Whether `host` is a trusted peer.
    public func isTrusted(_ host: String) -> Bool { trusted.contains { $0.contains(host) } }

    /// Checks `request` from `peer`. `proxy` chooses 407/Proxy-Authenticate (INVITE and other
    /// requests Baton routes on) over 401/WWW-Authenticate (REGISTER, RFC 3261 §22.2-22.3).
    public func check(_ request: SIPMessage, from peer: SIPPeer, proxy: Bool) -> Outcome {
        guard configuration.enabled else { return .unchecked }
        guard !isTrusted(peer.host) else { return .trusted }
        let t = now()
        if let f = failures[peer.host], f.blockedUntil > t {
            blockedCounter.increment()
            return .refused(SIPStatus(403, "Forbidden").because("Too many failed authentications"))
        }
        let headers = request.authorizations(proxy: proxy)
        // Credentials for another realm are someone else's; look for ours.
        let candidates = headers.compactMap(DigestResponse.init(header:))
        guard !headers.isEmpty else { return challenge(proxy: proxy, stale: false) }
        guard let d = candidates.first(where: { $0.realm == configuration.realm }) else {
            return fail(peer, request, why: candidates.isEmpty ? "malformed credentials" : "credentials for another realm", proxy: proxy)
        }
        guard let algorithm = DigestAlgorithm(parameter: d.algorithm), configuration.algorithms.contains(algorithm) else {
            return fail(peer, request, why: "algorithm \(d.algorithm ?? "MD5") not offered", proxy: proxy)
        }
        switch nonceState(d.nonce, at: t) {
        case .forged: return fail(peer, request, why: "a nonce Baton did not issue", proxy: proxy)
        case .expired: return challenge(proxy: proxy, stale: true)
        case .valid(let expires):
            guard let creds = credentials?.credentials(user: d.username, realm: d.realm), let ha1 = creds.ha1[algorithm] else {
                return fail(peer, request, why: "unknown user \(d.username)", proxy: proxy)
            }
            let method = request.method ?? ""
            let expected: String
            if let qop = d.qop {
                guard qop.lowercased() == "auth", let nc = d.nc, let cnonce = d.cnonce, let count = UInt64(nc, radix: 16) else {
                    return fail(peer, request, why: "qop \(qop) without nc and cnonce", proxy: proxy)
                }
                expected = algorithm.response(ha1: ha1, nonce: d.nonce, method: method, uri: d.uri, qop: (qop, nc, cnonce))
                guard constantTimeEqual(expected, d.response.lowercased()) else { return fail(peer, request, why: "wrong password for \(d.username)", proxy: proxy) }
                if let last = seen[d.nonce], count <= last.nc {
                    return fail(peer, request, why: "replayed nonce count \(nc)", proxy: proxy)
                }
                seen[d.nonce] = (count, expires)
            } else {
                expected = algorithm.response(ha1: ha1, nonce: d.nonce, method: method, uri: d.uri, qop: nil)
                guard constantTimeEqual(expected, d.response.lowercased()) else { return fail(peer, request, why: "wrong password for \(d.username)", proxy: proxy) }
                // Without nc a nonce cannot be counted: it is good for one request.
                if seen[d.nonce] != nil { return challenge(proxy: proxy, stale: true) }
                seen[d.nonce] = (0, expires)
            }
            failures[peer.host] = nil
            prune(t)
            return .authenticated(user: d.username)
        }
    }

    /// How long the next answer to `host` should wait: nothing until its failures reach half
    /// the limit, then 200 ms per failure (a guessing client slows down; a phone with a
    /// stale password is not held up).
    public func delay(for host: String) -> Int {
        guard let f = failures[host], f.count * 2 >= configuration.maxFailures else { return 0 }
        return min(2000, 200 * f.count)
    }

    private func fail(_ peer: SIPPeer, _ request: SIPMessage, why: String, proxy: Bool) -> Outcome {
        failuresCounter.increment()
        var f = failures[peer.host] ?? (0, 0)
        f.count += 1
        if f.count >= configuration.maxFailures {
            f.blockedUntil = now() + Double(configuration.blockSeconds)
            f.count = 0
        }
        failures[peer.host] = f
        if failures.count > 100_000 { failures = failures.filter { $0.value.blockedUntil > now() } }
        logLimiter.log(logger, .warning, "SIP authentication failed", metadata: [
            "source": "\(peer)", "method": "\(request.method ?? "?")", "why": "\(why)",
            "blocked": "\(f.blockedUntil > now())"])
        if f.blockedUntil > now() { return .refused(SIPStatus(403, "Forbidden").because("Too many failed authentications")) }
        return challenge(proxy: proxy, stale: false)
    }

    private func challenge(proxy: Bool, stale: Bool) -> Outcome {
        let nonce = makeNonce(at: now())
        let name = proxy ? "Proxy-Authenticate" : "WWW-Authenticate"
        let headers = configuration.algorithms.map { a in
            (name, "Digest realm=\"\(configuration.realm)\", nonce=\"\(nonce)\", algorithm=\(a.rawValue), qop=\"auth\""
                + (stale ? ", stale=true" : ""))
        }
        return .challenge(proxy ? SIPStatus(407, "Proxy Authentication Required") : SIPStatus(401, "Unauthorized"), headers)
    }

    // MARK: Nonces

    enum NonceState: Equatable { case valid(expires: Double), expired, forged }

    /// "<issued, hex>.<random, hex>.<HMAC-SHA256 of both, hex, first 16 bytes>".
    func makeNonce(at t: Double) -> String {
        let body = String(UInt64(t), radix: 16) + "." + randomToken(16)
        let mac = HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: key)
        return body + "." + Data(mac).prefix(16).hex
    }

    func nonceState(_ nonce: String, at t: Double) -> NonceState {
        let parts = nonce.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let issued = UInt64(parts[0], radix: 16) else { return .forged }
        let body = parts[0] + "." + parts[1]
        let mac = HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: key)
        guard constantTimeEqual(Data(mac).prefix(16).hex, String(parts[2])) else { return .forged }
        let expires = Double(issued) + Double(configuration.nonceSeconds)
        return t < expires ? .valid(expires: expires) : .expired
    }

    private func prune(_ t: Double) {
        guard seen.count > 10_000 else { return }
        seen = seen.filter { $0.value.expires > t }
    }
}

/// Whether two secrets' texts are equal, in time that depends only on their length (digest
/// responses, nonce MACs, HA1s, API token hashes): no early exit an attacker could time.
public func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var d: UInt8 = 0
    for i in x.indices { d |= x[i] ^ y[i] }
    return d == 0
}

/// An address or a CIDR block ("10.0.0.0/8", "::1", "2001:db8::/32").
struct IPBlock: Sendable {
    let bytes: [UInt8]
    let prefix: Int

    init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let b = IPBlock.parse(String(first)) else { return nil }
        let p = parts.count == 2 ? Int(parts[1]) : b.count * 8
        guard let p, (0...(b.count * 8)).contains(p) else { return nil }
        bytes = b; prefix = p
    }

    func contains(_ host: String) -> Bool {
        guard let h = IPBlock.parse(host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))), h.count == bytes.count else { return false }
        var left = prefix
        for i in bytes.indices where left > 0 {
            let bits = min(8, left)
            let mask: UInt8 = bits == 8 ? 0xff : ~(0xff >> UInt8(bits))
            if h[i] & mask != bytes[i] & mask { return false }
            left -= bits
        }
        return true
    }

    static func parse(_ s: String) -> [UInt8]? {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, s, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        if inet_pton(AF_INET6, s, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
