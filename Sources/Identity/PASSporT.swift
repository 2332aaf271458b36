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

    static func json<T: Encodable>(_ value: T) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try e.encode(value)
    }

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
        let parts = compact.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .invalid("a PASSporT has 3 dot-separated parts, this has \(parts.count)") }
        guard let h = Base64URL.decode(parts[0]), let c = Base64URL.decode(parts[1]), let s = Base64URL.decode(parts[2]) else {
            throw .invalid("a PASSporT part is not base64url")
        }
        let d = JSONDecoder()
        let header: Header, claims: Claims
        do { header = try d.decode(Header.self, from: Data(h)) } catch { throw .invalid("JOSE header: \(error)") }
        do { claims = try d.decode(Claims.self, from: Data(c)) } catch { throw .invalid("PASSporT claims: \(error)") }
        guard header.alg == "ES256" else { throw .unsupported("alg \(header.alg) (only ES256)") }
        guard s.count == 64 else { throw .invalid("an ES256 signature is 64 bytes, this is \(s.count)") }
        return Signed(passport: PASSporT(header: header, claims: claims),
                      signingInput: Array((parts[0] + "." + parts[1]).utf8), signature: s, compact: compact)
    }
}

/// base64url without padding (RFC 7515 §2).
public enum Base64URL {
    public static func encode<D: DataProtocol>(_ data: D) -> String {
        Data(data).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode<S: StringProtocol>(_ text: S) -> [UInt8]? {
        guard text.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else { return nil }
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map { [UInt8]($0) }
    }
}
