import Settings

extension Handoff.Configuration {
    /// `switchover.*`: the splice window, priming, and how long a new device's first RTP may take.
    public init(reader: SettingsReader) throws(ConfigurationError) {
        self.init()
        windowMillis = try reader.int("switchover.window_ms", 0...10_000, default: windowMillis)
        primingMillis = try reader.int("switchover.priming_ms", 0...10_000, default: primingMillis)
        noMediaTimeoutMillis = try reader.int("switchover.no_media_timeout_ms", 100...60_000, default: noMediaTimeoutMillis)
    }
}
