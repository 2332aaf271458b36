import Settings

extension HTTPAPI.Configuration {
    /// `http.host`, `http.port`.
    public init(reader: SettingsReader) throws(ConfigurationError) {
        self.init()
        host = reader.string("http.host", default: host)
        port = try reader.port("http.port", default: port)
        auth = try reader.bool("http.auth", default: auth)
        keyLookupsPerMinute = try reader.int("http.key_lookups_per_minute", 1...100_000, default: keyLookupsPerMinute)
        sessionSeconds = try reader.int("http.session_ttl_s", 60...604_800, default: sessionSeconds)
    }
}

extension NGServer.Configuration {
    /// `ng.*`: the rtpengine control protocol's socket.
    public init(reader: SettingsReader) throws(ConfigurationError) {
        self.init()
        enabled = try reader.bool("ng.enabled", default: enabled)
        host = reader.string("ng.host", default: host)
        port = try reader.port("ng.port", default: port)
        receiveBuffer = try reader.int("ng.receive_buffer", 65536...(256 << 20), default: receiveBuffer)
    }
}
