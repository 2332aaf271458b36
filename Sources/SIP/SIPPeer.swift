/// Transport of a SIP hop.
public enum SIPTransportKind: String, Sendable, Codable, CaseIterable {
    case udp, tcp
    /// TCP with TLS (RFC 3261 §26.2, `sips:` and `transport=tls`).
    case tls
    /// The Via transport token ("UDP", "TCP").
    public var viaToken: String { rawValue.uppercased() }

    /// The transport a URI asks for: `sips:` or `transport=tls` is TLS, `transport=tcp` TCP,
    /// anything else UDP.
    public init(uri: SIPURI) {
        let t = uri.transport?.lowercased()
        if uri.text.lowercased().hasPrefix("sips:") || t == "tls" { self = .tls } else if t == "tcp" { self = .tcp } else { self = .udp }
    }
}

/// The far end of one hop: where a message came from or goes to.
///
/// ```swift
/// let peer = SIPPeer(transport: .udp, host: "127.0.0.1", port: 5062)
/// ```
public struct SIPPeer: Sendable, Hashable, CustomStringConvertible {
    public var transport: SIPTransportKind
    public var host: String
    public var port: Int
    public init(transport: SIPTransportKind, host: String, port: Int) {
        self.transport = transport
        self.host = host
        self.port = port
    }
    public var description: String { "\(transport.rawValue):\(host.contains(":" as Character) ? "[\(host)]" : host):\(port)" }
    var isReliable: Bool { transport != .udp }
}
