import Crypto
import Foundation

/// A PASSporT (RFC 8225): a JWS over a JOSE header and claims naming the caller (`orig`)
/// and the called (`dest`) telephone numbers, signed ES256 by the caller's provider.
/// `shaken` (RFC 8588) adds `attest` and `origid`; `div` (RFC 8946) adds the diverting
/// number, keeps `orig` and names the new `dest`.
///
/// ```swift
/// let p = PASSporT.shaken(orig: "12025550101", dest: ["12025550102"], attest: .a, x5u: "https://cert.example/sp.pem")
/// let jws = try p.sign(with: key)     // "eyJ...header.eyJ...claims.signature"
/// ```
/// JSON is written with sorted keys and no whitespace (RFC 8225 §9 canonical form); a
/// received PASSporT is verified over the bytes as received, never re-serialized.
public struct PASSporT: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable { case shaken, div }
    /// SHAKEN attestation level (ATIS-1000074 §5.2.3).
    public enum Attestation: String, Sendable, Codable, CaseIterable { case a = "A", b = "B", c = "C" }

    public struct Header: Codable, Sendable, Equatable {
        public var alg: String
        public var ppt: String?
        public var typ: String
        public var x5u: String
    }

    /// A telephone-number identity (`{"tn": "..."}`); `dest` carries an array.
    public struct TN: Codable, Sendable, Equatable { public var tn: String }
    public struct TNs: Codable, Sendable, Equatable { public var tn: [String] }

    public struct Claims: Codable, Sendable, Equatable {
        public var attest: Attestation?
        public var dest: TNs
        public var div: TN?
        public var iat: Int
        public var orig: TN
        public var origid: String?
    }

    public var header: Header
    public var claims: Claims

    public var kind: Kind? { header.ppt.flatMap(Kind.init(rawValue:)) }

    public init(header: Header, claims: Claims) {
        self.header = header
        self.claims = claims
    }

    /// A SHAKEN PASSporT for a call from `orig` to `dest` (canonical numbers).
    public static func shaken(orig: String, dest: [String], attest: Attestation, x5u: String,
                              iat: Int = Int(Date().timeIntervalSince1970), origid: String = UUID().uuidString.lowercased()) -> PASSporT {
        PASSporT(header: Header(alg: "ES256", ppt: "shaken", typ: "passport", x5u: x5u),
                 claims: Claims(attest: attest, dest: TNs(tn: dest), div: nil, iat: iat, orig: TN(tn: orig), origid: origid))
    }

    /// A `div` PASSporT (RFC 8946): the call from `orig` to `diverted` now goes to `dest`.
    public static func div(orig: String, diverted: String, dest: [String], x5u: String,
                           iat: Int = Int(Date().timeIntervalSince1970)) -> PASSporT {
        PASSporT(header: Header(alg: "ES256", ppt: "div", typ: "passport", x5u: x5u),
                 claims: Claims(attest: nil, dest: TNs(tn: dest), div: TN(tn: diverted), iat: iat, orig: TN(tn: orig), origid: nil))
    }

    // One encoder and decoder for all (they are not reconfigured after this, and encode/
    // decode on them is thread-safe); making them per call costs more than the JSON.
    nonisolated(unsafe) static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()
    nonisolated(unsafe) static let decoder = JSONDecoder()

    static func json<T: Encodable>(_ value: T) throws -> Data { try encoder.encode(value) }

    /// The compact JWS: base64url(header) "." base64url(claims) "." base64url(R||S).
    public func sign(with key: P256.Signing.PrivateKey) throws -> String {
        let input = Base64URL.encode(try PASSporT.json(header)) + "." + Base64URL.encode(try PASSporT.json(claims))
        let signature = try key.signature(for: Data(input.utf8))
        return input + "." + Base64URL.encode(signature.rawRepresentation)
    }

    /// A JWS as received: its parts decoded, the signing input kept byte for byte.
    public struct Signed: Sendable, Equatable {
        public var passport: PASSporT
        /// "header.claims" exactly as received: what the signature covers.
        public var signingInput: [UInt8]
        /// 64 bytes, R || S.
        public var signature: [UInt8]
        public var compact: String
    }

    /// Parses a compact JWS; throws ``IdentityError/invalid(_:)`` when it is not one.
    public static func parse(_ compact: String) throws(IdentityError) -> Signed {
        let bytes = Array(compact.utf8)
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .invalid("a PASSporT has 3 dot-separated parts, this has \(parts.count)") }
        guard let h = Base64URL.decode(bytes: parts[0]), let c = Base64URL.decode(bytes: parts[1]),
              let s = Base64URL.decode(bytes: parts[2]) else {
            throw .invalid("a PASSporT part is not base64url")
        }
        let header = try Header(json: h)
        let claims = try Claims(json: c)
        guard header.alg == "ES256" else { throw .unsupported("alg \(header.alg) (only ES256)") }
        guard s.count == 64 else { throw .invalid("an ES256 signature is 64 bytes, this is \(s.count)") }
        return Signed(passport: PASSporT(header: header, claims: claims),
                      signingInput: Array(bytes[bytes.startIndex..<parts[1].endIndex]), signature: s, compact: compact)
    }
}

// Decoding through JSONSerialization: on Linux it takes about half the time of
// JSONDecoder here, and a verifier decodes two objects per PASSporT.
extension PASSporT.Header {
    init(json bytes: [UInt8]) throws(IdentityError) {
        guard let o = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw .invalid("the JOSE header is not a JSON object")
        }
        guard let alg = o["alg"] as? String, let typ = o["typ"] as? String, let x5u = o["x5u"] as? String else {
            throw .invalid("the JOSE header needs alg, typ and x5u strings")
        }
        guard o["ppt"] == nil || o["ppt"] is String else { throw .invalid("ppt is not a string") }
        self.init(alg: alg, ppt: o["ppt"] as? String, typ: typ, x5u: x5u)
    }
}

extension PASSporT.Claims {
    init(json bytes: [UInt8]) throws(IdentityError) {
        guard let o = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw .invalid("the PASSporT claims are not a JSON object")
        }
        func tn(_ key: String) -> String? { (o[key] as? [String: Any])?["tn"] as? String }
        guard let orig = tn("orig") else { throw .invalid("claims need orig.tn") }
        guard let dest = (o["dest"] as? [String: Any])?["tn"] as? [String], !dest.isEmpty else {
            throw .invalid("claims need dest.tn as a non-empty array")
        }
        // iat is an integer (NumericDate); a fraction or a string is malformed.
        guard let n = o["iat"] as? NSNumber, !(o["iat"] is String), let iat = Int(exactly: n.doubleValue) else {
            throw .invalid("iat must be an integer")
        }
        var attest: PASSporT.Attestation?
        if let a = o["attest"] {
            guard let s = a as? String, let level = PASSporT.Attestation(rawValue: s) else { throw .invalid("attest must be A, B or C") }
            attest = level
        }
        self.init(attest: attest, dest: .init(tn: dest), div: tn("div").map { .init(tn: $0) }, iat: iat,
                  orig: .init(tn: orig), origid: o["origid"] as? String)
    }
}

/// base64url without padding (RFC 7515 §2).
public enum Base64URL {
    /// Foundation's base64 with the two URL-safe letters swapped and the padding dropped,
    /// in one pass over the bytes.
    public static func encode<D: DataProtocol>(_ data: D) -> String {
        var out: [UInt8] = []
        let std = Data(data).base64EncodedData()
        out.reserveCapacity(std.count)
        for b in std {
            switch b {
            case UInt8(ascii: "+"): out.append(UInt8(ascii: "-"))
            case UInt8(ascii: "/"): out.append(UInt8(ascii: "_"))
            case UInt8(ascii: "="): continue
            default: out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode<S: StringProtocol>(_ text: S) -> [UInt8]? { decode(bytes: Array(text.utf8)[...]) }

    public static func decode(bytes text: ArraySlice<UInt8>) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count + 3)
        for b in text {
            switch b {
            case UInt8(ascii: "-"): bytes.append(UInt8(ascii: "+"))
            case UInt8(ascii: "_"): bytes.append(UInt8(ascii: "/"))
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                bytes.append(b)
            default: return nil   // '+', '/', '=' and anything else are not base64url
            }
        }
        while bytes.count % 4 != 0 { bytes.append(UInt8(ascii: "=")) }
        return Data(base64Encoded: Data(bytes)).map { [UInt8]($0) }
    }
}
