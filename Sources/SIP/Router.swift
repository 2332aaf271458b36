/// A static route from the configuration: INVITEs whose Request-URI user matches go to `target`.
public struct StaticRoute: Sendable, Equatable, Codable {
    /// A regular expression matched against the whole Request-URI user part ("^1[0-9]+$"; "." matches all).
    public var match: String
    /// "host:port" the INVITE is sent to.
    public var host: String
    public var port: Int
    public var transport: SIPTransportKind
    /// RTP profile offered to the callee: nil keeps the caller's (an SRTP caller gets an
    /// SRTP callee, with Baton's own keys); "RTP/AVP" or "RTP/SAVP" bridges plain and SRTP.
    public var mediaTransport: String?
    /// SDES keys may cross this route's signaling in clear (UDP/TCP): a trunk on a private
    /// network. Off: only over TLS, unless `sip.sdes_in_clear`.
    public var sdesInClear: Bool

    public init(match: String, host: String, port: Int = 5060, transport: SIPTransportKind = .udp, mediaTransport: String? = nil,
                sdesInClear: Bool = false) {
        self.match = match; self.host = host; self.port = port; self.transport = transport
        self.mediaTransport = mediaTransport
        self.sdesInClear = sdesInClear
    }
}

/// Decides where an INVITE goes: a registered contact of its AOR, else the first static
/// route that matches, else nowhere (404).
public struct Router {
    public enum Decision: Equatable {
        case registered(Registration, uri: String)
        case route(StaticRoute, uri: String)
        case notFound
    }

    private let routes: [(StaticRoute, Regex<AnyRegexOutput>)]

    public init(routes: [StaticRoute]) throws(SIPError) {
        var compiled: [(StaticRoute, Regex<AnyRegexOutput>)] = []
        for r in routes {
            do { compiled.append((r, try Regex(r.match))) } catch { throw .malformed("route pattern '\(r.match)' is not a regular expression") }
        }
        self.routes = compiled
    }

    /// Validates route patterns without keeping them (for check-config).
    public static func validate(_ routes: [StaticRoute]) throws(SIPError) { _ = try Router(routes: routes) }

    public func route(_ uri: SIPURI, registrar: Registrar) -> Decision {
        if let reg = registrar.lookup(aor: uri.aor).first {
            return .registered(reg, uri: reg.contact)
        }
        let user = uri.user ?? ""
        for (r, regex) in routes where (try? regex.firstMatch(in: user)) != nil {
            let host = r.host.contains(":" as Character) ? "[\(r.host)]" : r.host
            let t = r.transport == .tcp ? ";transport=tcp" : ""
            return .route(r, uri: "sip:\(user.isEmpty ? "" : user + "@")\(host):\(r.port)\(t)")
        }
        return .notFound
    }
}
