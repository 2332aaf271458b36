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

/// Where a verifier gets the certificate (and its intermediates) an `info`/x5u URL names:
/// HTTPS (or HTTP) with a timeout, `file:` URLs, and a configured map from URL to local file
/// for closed networks. Results are cached per URL for `ttl` seconds.
public final class CertificateSource: Sendable {
    public struct Entry: Sendable {
        public var leaf: Certificate
        public var intermediates: [Certificate]
        public var fetched: Date
    }

    private let cache = Mutex<[String: Entry]>([:])
    private let localMap: [String: String]
    private let timeout: TimeInterval
    private let ttl: TimeInterval
    private let now: @Sendable () -> Date
    private let fetchCount = Atomic<Int>(0)
    /// How many times a certificate was loaded (not served from the cache).
    public var fetches: Int { fetchCount.load(ordering: .relaxed) }

    public init(localMap: [String: String] = [:], timeout: TimeInterval = 2, ttl: TimeInterval = 3600,
                now: @escaping @Sendable () -> Date = Date.init) {
        self.localMap = localMap
        self.timeout = timeout
        self.ttl = ttl
        self.now = now
    }

    /// The cached certificates of `url`, if still fresh (no suspension: the per-call path).
    public func cached(_ url: String) -> Entry? {
        let t = now()
        return cache.withLock { c in c[url].flatMap { t.timeIntervalSince($0.fetched) < ttl ? $0 : nil } }
    }

    /// The leaf (first certificate of the PEM bundle) and the rest as intermediates.
    public func certificates(for url: String) async throws(IdentityError) -> Entry {
        if let e = cached(url) { return e }
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
        guard let u = URL(string: url), let scheme = u.scheme?.lowercased() else { throw .badInfo("not a URL: \(url)") }
        switch scheme {
        case "file": return try readFile(u.path, url)
        case "https", "http":
            var req = URLRequest(url: u)
            req.timeoutInterval = timeout
            do {
                let (data, resp) = try await URLSession.shared.data(for: req)
                guard let http = resp as? HTTPURLResponse, http.statusCode == 200 else {
                    throw IdentityError.badInfo("\(url): HTTP \((resp as? HTTPURLResponse)?.statusCode ?? 0)")
                }
                return String(decoding: data, as: UTF8.self)
            } catch let e as IdentityError {
                throw e
            } catch {
                throw .badInfo("\(url): \(error.localizedDescription)")
            }
        default: throw .badInfo("unsupported scheme in \(url)")
        }
    }

    private func readFile(_ path: String, _ url: String) throws(IdentityError) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw .badInfo("\(url): cannot read \(path)") }
        return text
    }
}
