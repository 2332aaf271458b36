import Settings

extension SIPServer.Configuration {
    /// The SIP stack's keys: `sip.*` (transport, advertised address), `registrar.*`, and the
    /// Retry-After of its 503s (`lifecycle.retry_after` while draining, `limits.retry_after`
    /// over the session limit). Static routes come from the file's `[[routes]]` and `--route`.
    public init(reader: SettingsReader) throws(ConfigurationError) {
        self.init()
        transport.host = reader.string("sip.host", default: transport.host)
        transport.port = try reader.port("sip.port", default: transport.port)
        transport.udp = try reader.bool("sip.udp", default: transport.udp)
        transport.tcp = try reader.bool("sip.tcp", default: transport.tcp)
        // Unset: the bound host, or loopback when bound to every address.
        b2bua.advertisedHost = reader.text("sip.advertised_host")
            ?? (transport.host == "0.0.0.0" ? "127.0.0.1" : transport.host)
        reader.show("sip.advertised_host", b2bua.advertisedHost)
        b2bua.advertisedPort = transport.port
        transport.maxMessageSize = try reader.int("sip.max_message_size", 1024...1_000_000, default: transport.maxMessageSize)
        transport.udpReceiveBuffer = try reader.int("sip.udp_receive_buffer", 65536...(256 << 20), default: transport.udpReceiveBuffer)
        transport.overloadPercent = try reader.int("sip.overload_percent", 0...100, default: transport.overloadPercent)
        transport.tlsPort = try reader.port("sip.tls_port", default: 5061)
        transport.tlsCertificate = reader.optionalString("sip.tls_cert")
        transport.tlsKey = reader.optionalString("sip.tls_key")
        transport.tlsCA = reader.optionalString("sip.tls_ca")
        transport.maxConnections = try reader.int("sip.tcp_max_connections", 1...1_000_000, default: transport.maxConnections)
        transport.maxConnectionsPerSource = try reader.int("sip.tcp_max_per_source", 1...1_000_000, default: transport.maxConnectionsPerSource)
        transport.idleTimeoutSeconds = try reader.int("sip.tcp_idle_timeout_s", 1...86400, default: transport.idleTimeoutSeconds)
        transport.messageTimeoutSeconds = try reader.int("sip.tcp_message_timeout_s", 1...3600, default: transport.messageTimeoutSeconds)
        b2bua.advertisedTLSPort = transport.tlsEnabled ? transport.tlsPort : nil
        b2bua.sdesInClear = try reader.bool("sip.sdes_in_clear", default: b2bua.sdesInClear)
        b2bua.sessionMinSE = try reader.int("sip.session_min_se", 1...86400, default: b2bua.sessionMinSE)
        b2bua.limitRetryAfter = try reader.int("limits.retry_after", 0...86400, default: b2bua.limitRetryAfter)
        b2bua.retryAfter = try reader.int("lifecycle.retry_after", 0...86400, default: b2bua.retryAfter)
        registrar.defaultExpires = try reader.int("registrar.default_expires", 1...86400, default: registrar.defaultExpires)
        registrar.minExpires = try reader.int("registrar.min_expires", 0...86400, default: registrar.minExpires)
        registrar.maxExpires = try reader.int("registrar.max_expires", 1...604800, default: registrar.maxExpires)
        auth.enabled = try reader.bool("auth.sip", default: auth.enabled)
        auth.realm = reader.string("auth.realm", default: b2bua.advertisedHost)
        auth.trusted = try reader.value("auth.trusted", default: auth.trusted, shown: { $0.joined(separator: ",") }) { v throws(ConfigurationError) in
            let list = SettingsReader.split(v)
            for item in list where IPBlock(item) == nil { throw .invalid("auth.trusted", item, "addresses or CIDR blocks (10.0.0.0/8)") }
            return list
        }
        auth.nonceSeconds = try reader.int("auth.nonce_ttl_s", 10...86400, default: auth.nonceSeconds)
        auth.maxFailures = try reader.int("auth.max_failures", 1...1000, default: auth.maxFailures)
        auth.blockSeconds = try reader.int("auth.block_s", 0...86400, default: auth.blockSeconds)
        auth.algorithms = try reader.value("auth.algorithms", default: auth.algorithms, shown: { $0.map(\.rawValue).joined(separator: ",") }) {
            v throws(ConfigurationError) in
            let names = SettingsReader.split(v)
            let list = names.compactMap { DigestAlgorithm(parameter: $0) }
            guard !names.isEmpty, list.count == names.count, Set(list).count == list.count else {
                throw .invalid("auth.algorithms", v, "SHA-256 and/or MD5, most preferred first")
            }
            return list
        }
    }

    /// What no single key can check.
    public func validate() throws(ConfigurationError) {
        guard transport.udp || transport.tcp || transport.tlsEnabled else { throw .invalid("sip.udp", "false", "at least one SIP transport") }
        if (transport.tlsCertificate == nil) != (transport.tlsKey == nil) {
            throw .invalid("sip.tls_cert", transport.tlsCertificate ?? "", "both sip.tls_cert and sip.tls_key (PEM files), or neither")
        }
        guard registrar.minExpires <= registrar.maxExpires else {
            throw .invalid("registrar.min_expires", "\(registrar.minExpires)", "at most registrar.max_expires")
        }
    }
}
