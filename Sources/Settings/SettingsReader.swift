import Configuration
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What each module's `Configuration(reader:)` reads its keys through: swift-configuration's
/// ``ConfigReader`` (flags > environment > file, layered by the caller), with every value
/// checked in the key's own terms and every read recorded.
///
/// ```swift
/// extension HTTPAPI.Configuration {
///     public init(reader: SettingsReader) throws {
///         self.init()
///         host = reader.string("http.host", default: host)
///         port = try reader.port("http.port", default: port)
///     }
/// }
/// ```
///
/// The reads *are* the declarations: the keys a gateway understands are the keys its
/// modules read (``declared``), so flags, the unknown-key check, `check-config`'s listing
/// and the documentation check all come from them and nothing is written twice.
///
/// Values are read as text (a file's `port = 5070` and `port = "5070"`, `BATON_SIP_PORT=5070`
/// and `--sip-port 5070` all mean the same) and converted here, so a bad value is an error
/// that names its key and what it wants instead of the silent fallback to the default that
/// a typed `ConfigReader` read gives.
public final class SettingsReader: Sendable {
    private let reader: ConfigReader
    private let reads = Mutex<[(key: String, shown: String)]>([])

    public init(_ reader: ConfigReader) { self.reader = reader }

    /// Every key read so far with the value in force, in the order read (later reads of
    /// the same key replace the shown value in place).
    public var declared: [(key: String, shown: String)] { reads.withLock { $0 } }

    /// Records `key` as read with `shown` as its effective value (for a value derived after
    /// reading, e.g. an address that defaults to another key's).
    public func show(_ key: String, _ shown: String) {
        reads.withLock { r in
            if let i = r.firstIndex(where: { $0.key == key }) { r[i].shown = shown } else { r.append((key, shown)) }
        }
    }

    /// The text a provider gives for `key`, if any provider has it.
    public func text(_ key: String) -> String? { reader.string(forKey: ConfigKey(key)) }

    /// Reads a key through `parse`, which gets the text when one is set; `shown` renders the result.
    public func value<T>(_ key: String, default d: T, shown: (T) -> String,
                         parse: (String) throws(ConfigurationError) -> T) throws(ConfigurationError) -> T {
        let v = try text(key).map { t throws(ConfigurationError) in try parse(t) } ?? d
        show(key, shown(v))
        return v
    }

    public func string(_ key: String, default d: String) -> String {
        let v = text(key) ?? d
        show(key, v)
        return v
    }

    /// An optional text value: unset or empty is nil.
    public func optionalString(_ key: String) -> String? {
        let v = text(key).flatMap { $0.isEmpty ? nil : $0 }
        show(key, v ?? "")
        return v
    }

    public func int(_ key: String, _ range: ClosedRange<Int>, default d: Int) throws(ConfigurationError) -> Int {
        try value(key, default: d, shown: { "\($0)" }) { t throws(ConfigurationError) in
            guard let i = Int(t), range.contains(i) else {
                throw .invalid(key, t, "an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return i
        }
    }

    public func port(_ key: String, default d: Int) throws(ConfigurationError) -> Int { try int(key, 0...65535, default: d) }

    public func bool(_ key: String, default d: Bool) throws(ConfigurationError) -> Bool {
        try value(key, default: d, shown: { "\($0)" }) { t throws(ConfigurationError) in
            switch t.lowercased() {
            case "true", "1", "yes", "on": return true
            case "false", "0", "no", "off": return false
            default: throw .invalid(key, t, "true or false")
            }
        }
    }

    /// One of `allowed` (compared after `normalize`).
    public func choice(_ key: String, _ allowed: [String], default d: String, expected: String,
                       normalize: (String) -> String = { $0 }) throws(ConfigurationError) -> String {
        try value(key, default: d, shown: { $0 }) { t throws(ConfigurationError) in
            let n = normalize(t)
            guard allowed.contains(n) else { throw .invalid(key, t, expected) }
            return n
        }
    }

    /// A comma-separated list (a file's array of strings arrives joined by commas).
    public func list(_ key: String, default d: [String] = []) -> [String] {
        let v = text(key).map(SettingsReader.split) ?? d
        show(key, v.joined(separator: ","))
        return v
    }

    /// An IPv4 or IPv6 address; unset is nil.
    public func ipAddress(_ key: String) throws(ConfigurationError) -> String? {
        guard let t = text(key) else { show(key, ""); return nil }
        guard SettingsReader.isIPAddress(t) else { throw .invalid(key, t, "an IPv4 or IPv6 address") }
        show(key, t)
        return t
    }

    public static func split(_ v: String) -> [String] {
        v.split(separator: ",").map { part in
            String(part.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
        }.filter { !$0.isEmpty }
    }

    public static func isIPAddress(_ s: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, s, &v4) == 1 || inet_pton(AF_INET6, s, &v6) == 1
    }
}

/// A configuration problem, said in the terms of the key at fault.
public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
    case unknownKey(String)
    /// key, value as given, what the key wants.
    case invalid(String, String, String)
    case file(String)
    public var description: String {
        switch self {
        case .unknownKey(let k): return "unknown configuration key '\(k)'"
        case let .invalid(k, v, want): return "\(k) = '\(v)' is invalid: expected \(want)"
        case .file(let why): return "configuration file: \(why)"
        }
    }
}
