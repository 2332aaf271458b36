import Foundation

/// Errors of the Identity module, each with the SIP response a verifier in reject mode
/// answers (RFC 8224 §6.2.2, RFC 9410) and the STIR cause it puts in a Reason header in
/// continue mode.
public enum IdentityError: Error, Equatable, CustomStringConvertible, Sendable {
    /// No Identity header where one is required.
    case missing
    /// The header or its PASSporT is malformed.
    case invalid(String)
    /// An algorithm or PASSporT type Baton does not handle.
    case unsupported(String)
    /// The certificate could not be fetched or parsed from `info`/x5u.
    case badInfo(String)
    /// The certificate is not trusted, expired, not P-256, or lacks TNAuthList.
    case untrustedCredential(String)
    /// The signature does not verify, or orig/dest do not match the request.
    case invalidSignature(String)
    /// `iat` too old or in the future.
    case staleDate(String)

    public var description: String {
        switch self {
        case .missing: "no Identity header"
        case .invalid(let s): "invalid Identity: \(s)"
        case .unsupported(let s): "unsupported Identity: \(s)"
        case .badInfo(let s): "bad Identity info: \(s)"
        case .untrustedCredential(let s): "unsupported credential: \(s)"
        case .invalidSignature(let s): "invalid Identity header: \(s)"
        case .staleDate(let s): "stale date: \(s)"
        }
    }

    /// The SIP status of a rejection.
    public var status: (Int, String) {
        switch self {
        case .missing: (428, "Use Identity Header")
        case .badInfo: (436, "Bad Identity Info")
        case .untrustedCredential: (437, "Unsupported Credential")
        case .invalid, .unsupported, .invalidSignature: (438, "Invalid Identity Header")
        case .staleDate: (403, "Stale Date")
        }
    }
}

/// One Identity header field value (RFC 8224 §4.1) in full form:
/// `<jws>;info=<x5u>;alg=ES256;ppt=shaken`.
public struct IdentityHeader: Sendable, Equatable {
    public var jws: String
    public var info: String
    public var alg: String?
    public var ppt: String?

    public init(jws: String, info: String, alg: String? = "ES256", ppt: String?) {
        self.jws = jws; self.info = info; self.alg = alg; self.ppt = ppt
    }

    /// The header field value Baton writes.
    public var value: String {
        var v = "\(jws);info=<\(info)>"
        if let alg { v += ";alg=\(alg)" }
        if let ppt { v += ";ppt=\(ppt)" }
        return v
    }

    /// Parses a header field value; a compact form (no JWS payload) is refused (Baton
    /// never builds one and cannot rebuild one without the full claims).
    public init(parsing text: String) throws(IdentityError) {
        // Byte-wise: a header is ASCII, and Character-based splitting of a 500-byte JWS
        // costs more than verifying its signature.
        let bytes = Array(text.utf8)
        func trimmed(_ f: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
            var f = f
            while let b = f.first, b == 0x20 || b == 0x09 { f = f.dropFirst() }
            while let b = f.last, b == 0x20 || b == 0x09 { f = f.dropLast() }
            return f
        }
        let fields = bytes.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false).map(trimmed)
        guard let first = fields.first, !first.isEmpty else { throw .invalid("empty Identity header") }
        let dots = first.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard dots.count == 3 else { throw .invalid("the Identity value is not a JWS") }
        guard !dots[1].isEmpty else { throw .unsupported("compact form (no PASSporT claims in the header)") }
        jws = String(decoding: first, as: UTF8.self)
        var info: String?
        for f in fields.dropFirst() {
            guard let eq = f.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = String(decoding: f[f.startIndex..<eq], as: UTF8.self).lowercased()
            let value = String(decoding: f[(eq + 1)...], as: UTF8.self)
            switch name {
            case "info":
                guard value.hasPrefix("<"), value.hasSuffix(">"), value.utf8.count > 2 else { throw .badInfo("info must be <URI>, got \(value)") }
                info = String(value.dropFirst().dropLast())
            case "alg": alg = value
            case "ppt": ppt = value.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            default: break
            }
        }
        guard let info else { throw .badInfo("no info parameter") }
        self.info = info
    }
}

/// Telephone numbers as STIR compares them (RFC 8224 §8.3, ATIS-1000074): digits only, no
/// `+`, no visual separators, no URI parameters.
public enum TelephoneNumber {
    /// The canonical number of a SIP or tel URI, or of a name-addr header value holding one;
    /// nil when its user part is not a telephone number.
    public static func canonical(_ text: String) -> String? {
        var s = text
        if let lt = s.firstIndex(of: "<"), let gt = s[lt...].firstIndex(of: ">") { s = String(s[s.index(after: lt)..<gt]) }
        for scheme in ["sips:", "sip:", "tel:"] where s.lowercased().hasPrefix(scheme) { s = String(s.dropFirst(scheme.count)); break }
        if let at = s.firstIndex(of: "@") { s = String(s[..<at]) }
        if let semi = s.firstIndex(of: ";") { s = String(s[..<semi]) }
        let separators: Set<Character> = ["+", "-", ".", "(", ")", " "]
        let digits = s.filter { !separators.contains($0) }
        guard !digits.isEmpty, digits.count <= 15, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return digits
    }
}
