import AsyncHTTPClient
import NIOCore
import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SwiftASN1
import Synchronization
import X509

/// The TNAuthList certificate extension (RFC 8226 §9, id-pe-TNAuthList 1.3.6.1.5.5.7.1.26):
/// what numbers a STIR certificate may sign for. SHAKEN certificates carry the provider's
/// service provider code (`spc`).
public struct TNAuthList: Sendable, Equatable {
    public static let oid: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 5, 7, 1, 26]

    public enum Entry: Sendable, Equatable {
        case spc(String)
        case range(start: String, count: Int)
        case one(String)
    }

    public var entries: [Entry]

    public init(_ entries: [Entry]) { self.entries = entries }

    /// DER of `TNAuthorizationList ::= SEQUENCE OF TNEntry` (the module uses EXPLICIT tags).
    public func derEncoded() throws -> [UInt8] {
        var s = DER.Serializer()
        try s.appendConstructedNode(identifier: .sequence) { s in
            for e in entries {
                switch e {
                case .spc(let code):
                    try s.appendConstructedNode(identifier: ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)) { s in
                        try s.serialize(ASN1IA5String(code))
                    }
                case .one(let tn):
                    try s.appendConstructedNode(identifier: ASN1Identifier(tagWithNumber: 2, tagClass: .contextSpecific)) { s in
                        try s.serialize(ASN1IA5String(tn))
                    }
                case let .range(start, count):
                    try s.appendConstructedNode(identifier: ASN1Identifier(tagWithNumber: 1, tagClass: .contextSpecific)) { s in
                        try s.appendConstructedNode(identifier: .sequence) { s in
                            try s.serialize(ASN1IA5String(start))
                            try s.serialize(count)
                        }
                    }
                }
            }
        }
        return s.serializedBytes
    }

    public init(derEncoded bytes: ArraySlice<UInt8>) throws {
        let root = try DER.parse(bytes)
        entries = try DER.sequence(root, identifier: .sequence) { nodes in
            var out: [Entry] = []
            while let node = nodes.next() {
                guard case .constructed(let inner) = node.content, let first = inner.first(where: { _ in true }) else {
                    throw ASN1Error.invalidASN1Object(reason: "TNEntry is not an explicit tag")
                }
                switch node.identifier.tagNumber {
                case 0: out.append(.spc(String(try ASN1IA5String(derEncoded: first))))
                case 2: out.append(.one(String(try ASN1IA5String(derEncoded: first))))
                case 1:
                    let (start, count) = try DER.sequence(first, identifier: .sequence) { n in
                        (String(try ASN1IA5String(derEncoded: &n)), try Int(derEncoded: &n))
                    }
                    out.append(.range(start: start, count: count))
                default: throw ASN1Error.invalidASN1Object(reason: "unknown TNEntry tag \(node.identifier.tagNumber)")
                }
            }
            return out
        }
    }

    /// The list in a certificate, if it has the extension.
    public init?(_ certificate: Certificate) {
        guard let ext = certificate.extensions[oid: TNAuthList.oid], let list = try? TNAuthList(derEncoded: ext.value) else { return nil }
        self = list
    }

    /// May a certificate with this list sign for `tn`? A service provider code covers any
    /// number of its provider (SHAKEN); numbers and ranges must contain it.
    public func authorizes(_ tn: String) -> Bool {
        entries.contains { e in
            switch e {
            case .spc: true
            case .one(let n): n == tn
            case let .range(start, count):
                start.count == tn.count && (UInt64(tn).flatMap { t in UInt64(start).map { t >= $0 && t < $0 + UInt64(count) } } ?? false)
            }
        }
    }
}

/// Certificates from PEM text (a bundle of one or more).
public enum PEMCertificates {
    public static func parse(_ text: String) throws -> [Certificate] {
        try PEMDocument.parseMultiple(pemString: text).map { try Certificate(pemDocument: $0) }
    }

    public static func load(_ path: String) throws -> [Certificate] {
        try parse(try String(contentsOfFile: path, encoding: .utf8))
    }
}

/// Where a verifier gets the certificate (and its intermediates) an `info`/x5u URL names.
/// The URL comes from the network (an INVITE's Identity header), so it is treated as
/// hostile: only `https` is fetched (`http` only when `allowHTTP`, for development), never
/// `file:` or anything else (a configured ``localMap`` maps a URL to a local file for closed
/// networks); the body is read up to `maxBytes`; a fetch times out; redirects are not
/// followed; successes are cached for `ttl` and failures for `failureTTL`, so a bad URL is
/// not fetched again for every INVITE; and one URL is fetched at most once at a time (the
/// callers waiting for it share the result).
public final class CertificateSource: Sendable {
    public struct Entry: Sendable {
        public var leaf: Certificate
        public var intermediates: [Certificate]
        public var fetched: Date
    }

    /// What may be fetched, how much and for how long.
    public struct Policy: Sendable, Equatable {
        /// Fetch `http:` too (`stir.x5u_http`, development only).
        public var allowHTTP = false
        /// Largest certificate bundle read (a SHAKEN chain is a few KB).
        public var maxBytes = 64 * 1024
        public var timeout: TimeInterval = 2
        /// How long a success is reused.
        public var ttl: TimeInterval = 3600
        /// How long a failure is remembered (and answered without fetching).
        public var failureTTL: TimeInterval = 60
        public init() {}
    }

    private let cache = Mutex<[String: Entry]>([:])
    private let failures = Mutex<[String: (error: IdentityError, at: Date)]>([:])
    private let inFlight = Mutex<[String: Task<Entry, any Error>]>([:])
    private let localMap: [String: String]
    public let policy: Policy
    private let now: @Sendable () -> Date
    private let fetchCount = Atomic<Int>(0)
    private let attemptCount = Atomic<Int>(0)
    /// How many times a certificate was loaded (not served from the cache).
    public var fetches: Int { fetchCount.load(ordering: .relaxed) }
    /// How many loads were started (successful or not): the network cost of a URL.
    public var attempts: Int { attemptCount.load(ordering: .relaxed) }

    /// One client for every fetch: no redirects, the policy's timeout on connect and read.
    private static let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
        redirectConfiguration: .disallow, timeout: .init(connect: .seconds(2), read: .seconds(2))))

    public init(localMap: [String: String] = [:], policy: Policy = Policy(), now: @escaping @Sendable () -> Date = Date.init) {
        self.localMap = localMap
        self.policy = policy
        self.now = now
    }

    /// Kept for callers that only set the timeout and cache lifetime.
    public convenience init(localMap: [String: String] = [:], timeout: TimeInterval, ttl: TimeInterval = 3600,
                            now: @escaping @Sendable () -> Date = Date.init) {
        var p = Policy()
        p.timeout = timeout
        p.ttl = ttl
        self.init(localMap: localMap, policy: p, now: now)
    }

    /// The cached certificates of `url`, if still fresh (no suspension: the per-call path).
    public func cached(_ url: String) -> Entry? {
        let t = now()
        return cache.withLock { c in c[url].flatMap { t.timeIntervalSince($0.fetched) < policy.ttl ? $0 : nil } }
    }

    /// The leaf (first certificate of the PEM bundle) and the rest as intermediates.
    public func certificates(for url: String) async throws(IdentityError) -> Entry {
        if let e = cached(url) { return e }
        let t = now()
        if let f = failures.withLock({ $0[url] }), t.timeIntervalSince(f.at) < policy.failureTTL { throw f.error }
        let task = inFlight.withLock { running -> Task<Entry, any Error> in
            if let existing = running[url] { return existing }
            let task = Task { try await self.fetch(url) }
            running[url] = task
            return task
        }
        do {
            let e = try await task.value
            inFlight.withLock { _ = $0.removeValue(forKey: url) }
            return e
        } catch {
            inFlight.withLock { _ = $0.removeValue(forKey: url) }
            let e = error as? IdentityError ?? .badInfo("\(url): \(error)")
            failures.withLock { f in
                f[url] = (e, now())
                if f.count > 10_000 { f = f.filter { now().timeIntervalSince($0.value.at) < policy.failureTTL } }
            }
            throw e
        }
    }

    private func fetch(_ url: String) async throws(IdentityError) -> Entry {
        attemptCount.wrappingAdd(1, ordering: .relaxed)
        let pem = try await load(url)
        let certs: [Certificate]
        do { certs = try PEMCertificates.parse(pem) } catch {
            throw .badInfo("\(url) does not hold PEM certificates: \(error)")
        }
        guard let leaf = certs.first else { throw .badInfo("\(url) holds no certificate") }
        let e = Entry(leaf: leaf, intermediates: Array(certs.dropFirst()), fetched: now())
        cache.withLock { $0[url] = e }
        fetchCount.wrappingAdd(1, ordering: .relaxed)
        return e
    }

    private func load(_ url: String) async throws(IdentityError) -> String {
        if let path = localMap[url] { return try readFile(path, url) }
        guard let u = URL(string: url), let scheme = u.scheme?.lowercased(), u.host?.isEmpty == false else {
            throw .badInfo("not a URL Baton fetches: \(url)")
        }
        switch scheme {
        case "https": break
        case "http" where policy.allowHTTP: break
        case "http": throw .badInfo("\(url): http x5u is refused (https only; stir.x5u_http for development)")
        default: throw .badInfo("\(url): only https x5u URLs are fetched (a local file needs stir.x5u_map)")
        }
        var req = HTTPClientRequest(url: url)
        req.method = .GET
        do {
            let resp = try await CertificateSource.client.execute(req, timeout: .milliseconds(Int64(policy.timeout * 1000)))
            guard resp.status == .ok else { throw IdentityError.badInfo("\(url): HTTP \(resp.status.code)") }
            let body = try await resp.body.collect(upTo: policy.maxBytes)
            return String(buffer: body)
        } catch let e as IdentityError {
            throw e
        } catch is NIOTooManyBytesError {
            throw .badInfo("\(url): larger than \(policy.maxBytes) bytes")
        } catch {
            throw .badInfo("\(url): \(error)")
        }
    }

    private func readFile(_ path: String, _ url: String) throws(IdentityError) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw .badInfo("\(url): cannot read \(path)") }
        return text
    }
}
