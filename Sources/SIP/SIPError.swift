/// Errors of the SIP module. Each maps to the SIP status a server answers with.
public enum SIPError: Error, Equatable, CustomStringConvertible {
    /// libosip2 could not parse the message (`reason` says what was wrong).
    case malformed(String)
    /// A header RFC 3261 §8.1.1 requires is missing.
    case missingHeader(String)
    /// Content-Length disagrees with the bytes received.
    case badContentLength(declared: Int, received: Int)
    /// The message is over the configured maximum size.
    case tooLarge(Int)
    /// The SDP body could not be parsed or has no usable media.
    case badSDP(String)
    /// libosip2 refused to build or serialize a message.
    case serialize(String)
    /// A well-formed SDP Baton will not accept here (488), e.g. SDES keys over a leg that is not TLS.
    case notAcceptable(String)
    /// A start line with another version than SIP/2.0.
    case versionNotSupported(String)
    /// A Request-URI of a scheme Baton does not route (only sip, sips and tel).
    case unsupportedURIScheme(String)

    public var description: String {
        switch self {
        case .malformed(let r): return "malformed SIP message: \(r)"
        case .missingHeader(let h): return "missing \(h) header"
        case let .badContentLength(d, r): return "Content-Length \(d) but \(r) body bytes"
        case .tooLarge(let n): return "message of \(n) bytes is too large"
        case .badSDP(let r): return "bad SDP: \(r)"
        case .serialize(let r): return "cannot serialize: \(r)"
        case .notAcceptable(let r): return r
        case .versionNotSupported(let v): return "version \(v) is not supported"
        case .unsupportedURIScheme(let s): return "Request-URI scheme \(s) is not supported"
        }
    }

    /// The status a UAS answers a request failing this way with.
    public var status: (Int, String) {
        switch self {
        case .malformed: return (400, "Bad Request")
        case .missingHeader(let h): return (400, "Missing \(h)")
        case .badContentLength: return (400, "Bad Content-Length")
        case .tooLarge: return (513, "Message Too Large")
        case .badSDP: return (488, "Not Acceptable Here")
        case .serialize: return (500, "Server Internal Error")
        case .notAcceptable: return (488, "Not Acceptable Here")
        case .versionNotSupported: return (505, "Version Not Supported")
        case .unsupportedURIScheme: return (416, "Unsupported URI Scheme")
        }
    }
}
