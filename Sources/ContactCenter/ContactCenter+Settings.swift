import Settings

extension ContactCenter.Configuration {
    /// `contact_center.key_ttl_s`, `contact_center.key_digits` (the default tenant is the HTTP
    /// API's, read by the gateway).
    public init(reader: SettingsReader) throws(ConfigurationError) {
        self.init()
        keyTTLSeconds = try reader.int("contact_center.key_ttl_s", 1...86_400, default: keyTTLSeconds)
        keyDigits = try reader.int("contact_center.key_digits", 4...12, default: keyDigits)
    }
}
