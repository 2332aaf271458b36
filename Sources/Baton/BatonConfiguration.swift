import Calls
import ContactCenter
import Control
import Foundation
import Handoff
import Store
import Media
import SIP
import Identity
import TOMLKit
import Configuration

/// Everything `baton serve` needs, assembled from each module's `Configuration`.
///
/// Read in one place, in this order, each overriding the one before:
/// defaults → the TOML file (`--config`, default `conf/baton.toml` when present) →
/// environment (`BATON_<SECTION>_<KEY>`, e.g. `BATON_SIP_PORT=5070`) → flags
/// (`--sip-port 5070`). Each key is declared once, in ``keys`` (how it is set from text and
/// shown); docs/configuration.md lists them with flag, default and meaning, and
/// `ConfigurationDocsTests` fails when that table and ``keys`` (or the flags `ConfigOptions`
/// accepts, or the defaults) disagree.
struct BatonConfiguration: Equatable {
    var sip = SIPServer.Configuration()
    var media = MediaRelay.Configuration()
    /// Offer the codecs Baton transcodes to (Opus <-> G.711) besides the offerer's.
    var transcode = true
    var http = HTTPAPI.Configuration()
    var ng = NGServer.Configuration()
    var storePath = "var/baton.sqlite"
    /// `store.commit_window_ms`: records of this long share one SQLite transaction.
    var storeCommitWindowMs = 20
    var drainTimeout = 30
    /// `limits.max_sessions`: most live calls, 0 = no limit.
    var maxSessions = 0
    var logLevel = "info"
    /// Devices from `[[devices]]` (added to the store at start; the HTTP API edits them).
    var devices: [DeviceRecord] = []
    var switchoverWindow = 300
    var switchoverPriming = 300
    var switchoverNoMediaTimeout = 3000
    var contactCenter = ContactCenter.Configuration()
    var defaultTenant = "default"
    var stir = STIRSettings()
    /// `[[forwarding]]`: call forwarding Baton does itself (docs/stir.md: with a div PASSporT).
    var forwarding: [ForwardingRule] = []

    typealias ForwardingRule = Calls.ForwardingRule

    /// "NUMBER=URI[/busy|/unconditional|/no-answer[:SECONDS]]".
    static func parseForward(_ s: String) throws -> ForwardingRule {
        let form = "NUMBER=URI[/busy|/unconditional|/no-answer[:SECONDS]]"
        guard let eq = s.firstIndex(of: "=") else { throw ConfigError.invalid("forwarding", s, form) }
        var uri = String(s[s.index(after: eq)...])
        var on = ForwardReason.unconditional
        var after = 20
        if let slash = uri.lastIndex(of: "/") {
            var r = String(uri[uri.index(after: slash)...])
            if r.hasPrefix("no-answer:") {
                guard let n = Int(r.dropFirst("no-answer:".count)), (1...600).contains(n) else {
                    throw ConfigError.invalid("forwarding", s, "no-answer:SECONDS with 1-600 seconds")
                }
                after = n
                r = "no-answer"
            }
            switch r {
            case "busy": on = .busy
            case "unconditional": on = .unconditional
            case "no-answer": on = .noAnswer
            default: throw ConfigError.invalid("forwarding", s, "on busy, unconditional or no-answer")
            }
            uri = String(uri[..<slash])
        }
        guard SIPURI(parsing: uri) != nil else { throw ConfigError.invalid("forwarding", s, "a SIP URI after =") }
        return ForwardingRule(number: String(s[..<eq]), to: uri, on: on, afterSeconds: after)
    }

    static func parseForwarding(_ text: String) throws -> [ForwardingRule] {
        guard let table = try? TOMLTable(string: text), let value = table["forwarding"] else { return [] }
        guard let arr = value.array else { throw ConfigError.invalid("forwarding", "\(value)", "an array of tables [[forwarding]]") }
        return try arr.map { item in
            guard let t = item.table, let number = t["number"]?.string, let to = t["to"]?.string else {
                throw ConfigError.invalid("forwarding", "\(item)", "number and to")
            }
            var on = t["on"]?.string ?? "unconditional"
            if on == "user-busy" { on = "busy" }
            if on == "no-answer", let after = t["after_s"]?.int { on = "no-answer:\(after)" }
            return try parseForward("\(number)=\(to)/\(on)")
        }
    }

    /// `[stir]`: STIR/SHAKEN signing and verification (docs/stir.md).
    struct STIRSettings: Equatable {
        var signKey: String?
        var x5u: String?
        var signNumbers: [String] = []
        var attest = "A"
        var verify = "off"
        var trustAnchors: [String] = []
        var x5uMap: [String: String] = [:]
        var freshness = 60
        /// Called numbers whose devices forward on their own: their calls' Identity is kept.
        var keepFor: [String] = []
        var holdSeconds = 60
    }

    /// One configuration key: how to set it from text and how to show it.
    struct Key: Sendable {
        let name: String
        let apply: @Sendable (inout BatonConfiguration, String) throws -> Void
        let show: @Sendable (BatonConfiguration) -> String
    }

    static let keys: [Key] = [
        Key(name: "sip.host", apply: { c, v in c.sip.transport.host = v }, show: { $0.sip.transport.host }),
        Key(name: "sip.port", apply: { c, v in c.sip.transport.port = try port(v, "sip.port") }, show: { "\($0.sip.transport.port)" }),
        Key(name: "sip.udp", apply: { c, v in c.sip.transport.udp = try bool(v, "sip.udp") }, show: { "\($0.sip.transport.udp)" }),
        Key(name: "sip.tcp", apply: { c, v in c.sip.transport.tcp = try bool(v, "sip.tcp") }, show: { "\($0.sip.transport.tcp)" }),
        Key(name: "sip.advertised_host", apply: { c, v in c.sip.b2bua.advertisedHost = v }, show: { $0.sip.b2bua.advertisedHost }),
        Key(name: "sip.max_message_size", apply: { c, v in c.sip.transport.maxMessageSize = try int(v, "sip.max_message_size", 1024...1_000_000) },
            show: { "\($0.sip.transport.maxMessageSize)" }),
        Key(name: "sip.udp_receive_buffer",
            apply: { c, v in c.sip.transport.udpReceiveBuffer = try int(v, "sip.udp_receive_buffer", 65536...(256 << 20)) },
            show: { "\($0.sip.transport.udpReceiveBuffer)" }),
        Key(name: "sip.overload_percent", apply: { c, v in c.sip.transport.overloadPercent = try int(v, "sip.overload_percent", 0...100) },
            show: { "\($0.sip.transport.overloadPercent)" }),
        Key(name: "media.bind", apply: { c, v in c.media.bindAddress = try ip(v, "media.bind") }, show: { $0.media.bindAddress }),
        Key(name: "media.advertised", apply: { c, v in c.media.advertisedAddress = try ip(v, "media.advertised") }, show: { $0.media.sdpAddress }),
        Key(name: "media.port_min", apply: { c, v in c.media.portMin = try port(v, "media.port_min") }, show: { "\($0.media.portMin)" }),
        Key(name: "media.port_max", apply: { c, v in c.media.portMax = try port(v, "media.port_max") }, show: { "\($0.media.portMax)" }),
        Key(name: "media.threads", apply: { c, v in c.media.threads = try int(v, "media.threads", 0...256) }, show: { "\($0.media.threads)" }),
        Key(name: "media.coalesce_us", apply: { c, v in c.media.coalesceMicros = try int(v, "media.coalesce_us", 0...5000) }, show: { "\($0.media.coalesceMicros)" }),
        Key(name: "media.reuse_sockets", apply: { c, v in c.media.reuseSockets = try bool(v, "media.reuse_sockets") }, show: { "\($0.media.reuseSockets)" }),
        Key(name: "media.transcode", apply: { c, v in c.transcode = try bool(v, "media.transcode") }, show: { "\($0.transcode)" }),
        Key(name: "media.opus_bitrate", apply: { c, v in c.media.opusBitrate = try int(v, "media.opus_bitrate", 6000...510_000) },
            show: { "\($0.media.opusBitrate)" }),
        Key(name: "media.opus_complexity", apply: { c, v in c.media.opusComplexity = try int(v, "media.opus_complexity", 0...10) },
            show: { "\($0.media.opusComplexity)" }),
        Key(name: "http.host", apply: { c, v in c.http.host = v }, show: { $0.http.host }),
        Key(name: "http.port", apply: { c, v in c.http.port = try port(v, "http.port") }, show: { "\($0.http.port)" }),
        Key(name: "ng.enabled", apply: { c, v in c.ng.enabled = try bool(v, "ng.enabled") }, show: { "\($0.ng.enabled)" }),
        Key(name: "ng.host", apply: { c, v in c.ng.host = v }, show: { $0.ng.host }),
        Key(name: "ng.port", apply: { c, v in c.ng.port = try port(v, "ng.port") }, show: { "\($0.ng.port)" }),
        Key(name: "ng.receive_buffer", apply: { c, v in c.ng.receiveBuffer = try int(v, "ng.receive_buffer", 65536...(256 << 20)) },
            show: { "\($0.ng.receiveBuffer)" }),
        Key(name: "store.path", apply: { c, v in c.storePath = v }, show: { $0.storePath }),
        Key(name: "store.commit_window_ms", apply: { c, v in c.storeCommitWindowMs = try int(v, "store.commit_window_ms", 0...1000) },
            show: { "\($0.storeCommitWindowMs)" }),
        Key(name: "lifecycle.drain_timeout", apply: { c, v in c.drainTimeout = try int(v, "lifecycle.drain_timeout", 0...86400) },
            show: { "\($0.drainTimeout)" }),
        Key(name: "limits.max_sessions", apply: { c, v in c.maxSessions = try int(v, "limits.max_sessions", 0...10_000_000) },
            show: { "\($0.maxSessions)" }),
        Key(name: "limits.retry_after", apply: { c, v in c.sip.b2bua.limitRetryAfter = try int(v, "limits.retry_after", 0...86400) },
            show: { "\($0.sip.b2bua.limitRetryAfter)" }),
        Key(name: "lifecycle.retry_after", apply: { c, v in c.sip.b2bua.retryAfter = try int(v, "lifecycle.retry_after", 0...86400) },
            show: { "\($0.sip.b2bua.retryAfter)" }),
        Key(name: "registrar.default_expires", apply: { c, v in c.sip.registrar.defaultExpires = try int(v, "registrar.default_expires", 1...86400) },
            show: { "\($0.sip.registrar.defaultExpires)" }),
        Key(name: "registrar.min_expires", apply: { c, v in c.sip.registrar.minExpires = try int(v, "registrar.min_expires", 0...86400) },
            show: { "\($0.sip.registrar.minExpires)" }),
        Key(name: "registrar.max_expires", apply: { c, v in c.sip.registrar.maxExpires = try int(v, "registrar.max_expires", 1...604800) },
            show: { "\($0.sip.registrar.maxExpires)" }),
        Key(name: "switchover.window_ms", apply: { c, v in c.switchoverWindow = try int(v, "switchover.window_ms", 0...10_000) },
            show: { "\($0.switchoverWindow)" }),
        Key(name: "switchover.priming_ms", apply: { c, v in c.switchoverPriming = try int(v, "switchover.priming_ms", 0...10_000) },
            show: { "\($0.switchoverPriming)" }),
        Key(name: "contact_center.key_ttl_s", apply: { c, v in c.contactCenter.keyTTLSeconds = try int(v, "contact_center.key_ttl_s", 1...86_400) },
            show: { "\($0.contactCenter.keyTTLSeconds)" }),
        Key(name: "contact_center.key_digits", apply: { c, v in c.contactCenter.keyDigits = try int(v, "contact_center.key_digits", 4...12) },
            show: { "\($0.contactCenter.keyDigits)" }),
        Key(name: "contact_center.tenant", apply: { c, v in
            let t = v.trimmingCharacters(in: .whitespaces)
            guard !t.isEmpty, t.count <= 64 else { throw ConfigError.invalid("contact_center.tenant", v, "1-64 characters") }
            c.defaultTenant = t
        }, show: { $0.defaultTenant }),
        Key(name: "switchover.no_media_timeout_ms", apply: { c, v in
            c.switchoverNoMediaTimeout = try int(v, "switchover.no_media_timeout_ms", 100...60_000)
        }, show: { "\($0.switchoverNoMediaTimeout)" }),
        Key(name: "stir.sign_key", apply: { c, v in c.stir.signKey = v.isEmpty ? nil : v }, show: { $0.stir.signKey ?? "" }),
        Key(name: "stir.x5u", apply: { c, v in c.stir.x5u = v.isEmpty ? nil : v }, show: { $0.stir.x5u ?? "" }),
        Key(name: "stir.sign_numbers", apply: { c, v in c.stir.signNumbers = list(v) }, show: { $0.stir.signNumbers.joined(separator: ",") }),
        Key(name: "stir.attest", apply: { c, v in
            guard ["A", "B", "C"].contains(v.uppercased()) else { throw ConfigError.invalid("stir.attest", v, "A, B or C") }
            c.stir.attest = v.uppercased()
        }, show: { $0.stir.attest }),
        Key(name: "stir.verify", apply: { c, v in
            guard ["off", "continue", "reject"].contains(v) else { throw ConfigError.invalid("stir.verify", v, "off, continue or reject") }
            c.stir.verify = v
        }, show: { $0.stir.verify }),
        Key(name: "stir.trust_anchors", apply: { c, v in c.stir.trustAnchors = list(v) }, show: { $0.stir.trustAnchors.joined(separator: ",") }),
        Key(name: "stir.x5u_map", apply: { c, v in
            var m: [String: String] = [:]
            for item in list(v) {
                guard let eq = item.lastIndex(of: "=") else { throw ConfigError.invalid("stir.x5u_map", item, "URL=PATH") }
                m[String(item[..<eq])] = String(item[item.index(after: eq)...])
            }
            c.stir.x5uMap = m
        }, show: { $0.stir.x5uMap.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }),
        Key(name: "stir.keep_for", apply: { c, v in c.stir.keepFor = list(v) }, show: { $0.stir.keepFor.joined(separator: ",") }),
        Key(name: "stir.hold_s", apply: { c, v in c.stir.holdSeconds = try int(v, "stir.hold_s", 1...3600) }, show: { "\($0.stir.holdSeconds)" }),
        Key(name: "stir.freshness", apply: { c, v in c.stir.freshness = try int(v, "stir.freshness", 1...3600) }, show: { "\($0.stir.freshness)" }),
        Key(name: "log.level", apply: { c, v in
            guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(v) else { throw ConfigError.invalid("log.level", v, "a log level") }
            c.logLevel = v
        }, show: { $0.logLevel }),
    ]

    /// `--sip-max-message-size` for `sip.max_message_size`.
    static func flagName(_ key: String) -> String {
        "--" + key.replacingOccurrences(of: ".", with: "-").replacingOccurrences(of: "_", with: "-")
    }

    /// For `--help`: every configuration flag, from the declarations.
    static var flagSummary: String {
        "Configuration flags (file key, environment BATON_<KEY>, meaning and default: docs/configuration.md): "
            + keys.map { flagName($0.name) }.joined(separator: ", ") + " (also --max-sessions)."
    }

    /// Older spellings kept working.
    static let flagAliases = ["--max-sessions": "limits.max_sessions"]

    static func key(forFlag flag: String) -> Key? {
        let name = flagAliases[flag]
        return keys.first { $0.name == name || flagName($0.name) == flag }
    }

    /// Builds the configuration from file text (TOML), environment and flag overrides.
    static func load(toml: String?, environment: [String: String], overrides: [(String, String)], routes: [String],
                     forwards: [String] = []) throws -> BatonConfiguration {
        var c = BatonConfiguration()
        func declared(_ name: String) throws -> AbsoluteConfigKey {
            guard keys.contains(where: { $0.name == name }) else { throw ConfigError.unknownKey(name) }
            return AbsoluteConfigKey(ConfigKey(name))
        }
        // The file's keys (scalars as written; arrays joined by commas, as the flags take them).
        var fileValues: [AbsoluteConfigKey: ConfigValue] = [:]
        // An empty file is no configuration (TOMLKit reads past an empty buffer).
        if let toml, !toml.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            let (flat, fileRoutes, fileDevices) = try parseFile(toml)
            for (k, v) in flat { fileValues[try declared(k)] = ConfigValue(.string(v), isSecret: false) }
            c.sip.routes = fileRoutes
            c.devices = fileDevices
            c.forwarding = try parseForwarding(toml)
        }
        var flagValues: [AbsoluteConfigKey: ConfigValue] = [:]
        for (k, v) in overrides { flagValues[try declared(k)] = ConfigValue(.string(v), isSecret: false) }
        // swift-configuration does the layering: the first provider with a value wins.
        let reader = ConfigReader(providers: [
            InMemoryProvider(name: "flags", values: flagValues),
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: "baton"),
            InMemoryProvider(name: "file", values: fileValues),
        ])
        var advertisedSet = false, sipAdvertisedSet = false
        for key in keys {
            guard let value = reader.string(forKey: ConfigKey(key.name)) else { continue }
            try key.apply(&c, value)
            if key.name == "media.advertised" { advertisedSet = true }
            if key.name == "sip.advertised_host" { sipAdvertisedSet = true }
        }
        if let v = environment["BATON_ROUTES"] {
            c.sip.routes = try v.split(separator: ";").map { s in try parseRoute(String(s)) }
        }
        if !routes.isEmpty { c.sip.routes = try routes.map { s in try parseRoute(s) } }
        if !forwards.isEmpty { c.forwarding = try forwards.map { s in try parseForward(s) } }
        if !sipAdvertisedSet { c.sip.b2bua.advertisedHost = c.sip.transport.host == "0.0.0.0" ? "127.0.0.1" : c.sip.transport.host }
        c.sip.b2bua.advertisedPort = c.sip.transport.port
        if !advertisedSet { c.media.advertisedAddress = nil }
        try c.validate()
        return c
    }

    func validate() throws {
        guard media.portMin < media.portMax, media.portMax - media.portMin >= 3 else {
            throw ConfigError.invalid("media.port_min", "\(media.portMin)", "a range of at least 4 ports below media.port_max (\(media.portMax))")
        }
        guard sip.transport.udp || sip.transport.tcp else { throw ConfigError.invalid("sip.udp", "false", "at least one SIP transport") }
        guard sip.registrar.minExpires <= sip.registrar.maxExpires else {
            throw ConfigError.invalid("registrar.min_expires", "\(sip.registrar.minExpires)", "at most registrar.max_expires")
        }
        do { try Router.validate(sip.routes) } catch { throw ConfigError.invalid("routes", "\(error)", "valid regular expressions") }
        if stir.signKey != nil && stir.x5u == nil { throw ConfigError.invalid("stir.x5u", "", "the URL of the signing certificate (with stir.sign_key)") }
        if stir.verify != "off" && stir.trustAnchors.isEmpty {
            throw ConfigError.invalid("stir.trust_anchors", "", "at least one PEM file when stir.verify is \(stir.verify)")
        }
    }

    /// "PATTERN=HOST:PORT[/udp|tcp]", e.g. "^1=127.0.0.1:5080/udp".
    static func parseRoute(_ s: String) throws -> StaticRoute {
        guard let eq = s.lastIndex(of: "=") else { throw ConfigError.invalid("routes", s, "PATTERN=HOST:PORT[/udp|tcp]") }
        let pattern = String(s[..<eq])
        var target = String(s[s.index(after: eq)...])
        var transport = SIPTransportKind.udp
        if let slash = target.lastIndex(of: "/") {
            guard let t = SIPTransportKind(rawValue: target[target.index(after: slash)...].lowercased()) else {
                throw ConfigError.invalid("routes", s, "transport udp or tcp")
            }
            transport = t
            target = String(target[..<slash])
        }
        guard let colon = target.lastIndex(of: ":"), let p = Int(target[target.index(after: colon)...]), (1...65535).contains(p) else {
            throw ConfigError.invalid("routes", s, "PATTERN=HOST:PORT[/udp|tcp]")
        }
        let host = target[..<colon].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return StaticRoute(match: pattern, host: host, port: p, transport: transport)
    }

    static func flatten(_ text: String) throws -> ([(String, String)], [StaticRoute]) {
        let (flat, routes, _) = try parseFile(text)
        return (flat, routes)
    }

    static func parseFile(_ text: String) throws -> ([(String, String)], [StaticRoute], [DeviceRecord]) {
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let e as TOMLParseError {
            throw ConfigError.file("line \(e.source.begin.line): \(e.description)")
        } catch { throw ConfigError.file("\(error)") }
        var out: [(String, String)] = []
        var routes: [StaticRoute] = []
        var devices: [DeviceRecord] = []
        for (section, value) in table {
            if section == "forwarding" { continue }   // parseForwarding
            if section == "devices" {
                guard let arr = value.array else { throw ConfigError.invalid("devices", "\(value)", "an array of tables [[devices]]") }
                for item in arr {
                    guard let t = item.table, let user = t["user"]?.string, let id = t["id"]?.string, let aor = t["aor"]?.string else {
                        throw ConfigError.invalid("devices", "\(item)", "user, id and aor")
                    }
                    let kind = t["kind"]?.string ?? "phone"
                    guard Devices.kinds.contains(kind) else {
                        throw ConfigError.invalid("devices.kind", kind, Devices.kinds.sorted().joined(separator: ", "))
                    }
                    devices.append(DeviceRecord(user: user, id: id, aor: aor, kind: kind, priority: t["priority"]?.int ?? 0))
                }
                continue
            }
            if section == "routes" {
                guard let arr = value.array else { throw ConfigError.invalid("routes", "\(value)", "an array of tables [[routes]]") }
                for item in arr {
                    guard let t = item.table, let match = t["match"]?.string, let host = t["host"]?.string else {
                        throw ConfigError.invalid("routes", "\(item)", "match and host")
                    }
                    let port = t["port"]?.int ?? 5060
                    let tr = t["transport"]?.string ?? "udp"
                    guard let kind = SIPTransportKind(rawValue: tr.lowercased()) else { throw ConfigError.invalid("routes.transport", tr, "udp or tcp") }
                    var mediaTransport: String?
                    if let mt = t["media_transport"]?.string {
                        guard ["RTP/AVP", "RTP/SAVP", "RTP/AVPF", "RTP/SAVPF"].contains(mt) else {
                            throw ConfigError.invalid("routes.media_transport", mt, "RTP/AVP, RTP/SAVP, RTP/AVPF or RTP/SAVPF")
                        }
                        mediaTransport = mt
                    }
                    routes.append(StaticRoute(match: match, host: host, port: port, transport: kind, mediaTransport: mediaTransport))
                }
                continue
            }
            guard let t = value.table else { throw ConfigError.unknownKey(section) }
            for (k, v) in t {
                let text: String
                if let s = v.string { text = s }
                else if let i = v.int { text = "\(i)" }
                else if let b = v.bool { text = "\(b)" }
                else if let d = v.double { text = "\(d)" }
                else if let a = v.array, a.allSatisfy({ $0.string != nil }) { text = a.compactMap(\.string).joined(separator: ",") }
                else { throw ConfigError.invalid("\(section).\(k)", "\(v)", "a string, number, boolean or array of strings") }
                out.append(("\(section).\(k)", text))
            }
        }
        return (out, routes, devices)
    }

    /// What `check-config` prints: every key with its effective value.
    var rendered: String {
        var lines = BatonConfiguration.keys.map { "\($0.name) = \($0.show(self))" }
        for r in sip.routes { lines.append("route \(r.match) -> \(r.transport.rawValue):\(r.host):\(r.port)") }
        for f in forwarding { lines.append("forward \(f.number) -> \(f.to) on \(f.on.rawValue)") }
        for d in devices { lines.append("device \(d.user)/\(d.id) \(d.kind) \(d.aor) priority \(d.priority)") }
        return lines.joined(separator: "\n")
    }

    static func port(_ v: String, _ k: String) throws -> Int { try int(v, k, 0...65535) }
    static func list(_ v: String) -> [String] {
        v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
    static func int(_ v: String, _ k: String, _ range: ClosedRange<Int>) throws -> Int {
        guard let i = Int(v), range.contains(i) else { throw ConfigError.invalid(k, v, "an integer in \(range.lowerBound)...\(range.upperBound)") }
        return i
    }
    static func bool(_ v: String, _ k: String) throws -> Bool {
        switch v.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigError.invalid(k, v, "true or false")
        }
    }
    static func ip(_ v: String, _ k: String) throws -> String {
        guard SessionDescription.isIPAddress(v) else { throw ConfigError.invalid(k, v, "an IPv4 or IPv6 address") }
        return v
    }
}

/// A configuration problem, said in the terms of the key at fault.
enum ConfigError: Error, Equatable, CustomStringConvertible {
    case unknownKey(String)
    case invalid(String, String, String)
    case file(String)
    var description: String {
        switch self {
        case .unknownKey(let k): return "unknown configuration key '\(k)'"
        case let .invalid(k, v, want): return "\(k) = '\(v)' is invalid: expected \(want)"
        case .file(let why): return "configuration file: \(why)"
        }
    }
}
