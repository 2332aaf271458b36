import Settings

extension MediaRelay.Configuration {
    /// The relay's keys, `media.*` (`media.transcode` is the call controller's).
    public init(reader: SettingsReader) throws(ConfigurationError) {
        self.init()
        bindAddress = try reader.ipAddress("media.bind") ?? bindAddress
        reader.show("media.bind", bindAddress)
        advertisedAddress = try reader.ipAddress("media.advertised")
        reader.show("media.advertised", sdpAddress)
        portMin = try reader.port("media.port_min", default: portMin)
        portMax = try reader.port("media.port_max", default: portMax)
        threads = try reader.int("media.threads", 0...256, default: threads)
        coalesceMicros = try reader.int("media.coalesce_us", 0...5000, default: coalesceMicros)
        reuseSockets = try reader.bool("media.reuse_sockets", default: reuseSockets)
        opusBitrate = try reader.int("media.opus_bitrate", 6000...510_000, default: opusBitrate)
        opusComplexity = try reader.int("media.opus_complexity", 0...10, default: opusComplexity)
    }

    /// What no single key can check.
    public func validate() throws(ConfigurationError) {
        guard portMin < portMax, portMax - portMin >= 3 else {
            throw .invalid("media.port_min", "\(portMin)", "a range of at least 4 ports below media.port_max (\(portMax))")
        }
    }
}
