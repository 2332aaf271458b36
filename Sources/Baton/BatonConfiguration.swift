import Logging
import Calls
import ContactCenter
import Control
import Foundation
import Handoff
import Store
import PostgresStore
import Media
import SIP
import Identity
import TOMLKit
import Configuration
import Settings
import Speech

/// Everything `baton serve` needs, assembled from each module's `Configuration(reader:)`.
///
/// Read in one place, in this order, each overriding the one before:
/// defaults → the TOML file (`--config`, default `conf/baton.toml` when present) →
/// environment (`BATON_<SECTION>_<KEY>`, e.g. `BATON_SIP_PORT=5070`) → flags
/// (`--sip-port 5070`). swift-configuration's `ConfigReader` layers them; each module reads
/// its own keys through a ``SettingsReader`` (SIP `sip.*`/`registrar.*`, Media `media.*`,
/// Control `http.*`/`ng.*`, Handoff `switchover.*`, ContactCenter `contact_center.*`), and
/// the gateway's own keys (store, limits, STIR, log) are read here. Those reads are the
/// declarations: ``keyNames`` (flags, the unknown-key check), `check-config`'s listing and
/// `ConfigurationDocsTests` (docs/configuration.md) come from them.
struct BatonConfiguration: Equatable {
    var sip = SIPServer.Configuration()
    var media = MediaRelay.Configuration()
    /// Offer the codecs Baton transcodes to (Opus <-> G.711) besides the offerer's.
    var transcode = true
    /// Which packets may latch a leg's media (`media.source`).
    var mediaSource = MediaSourceRule.sdpOrSignaling
    var http = HTTPAPI.Configuration()
    var ng = NGServer.Configuration()
    var storePath = "var/baton.sqlite"
    /// `store.url`: a `postgres://` URL puts the state in PostgreSQL (several gateways on one
    /// database); empty: SQLite at `store.path`.
    var storeURL = ""
    /// `store.timeout_ms`: how long one PostgreSQL operation may take before it fails (and the
    /// database counts as gone: new calls get 503).
    var storeTimeoutMs = 2000
    /// `store.connections`: PostgreSQL connections each gateway opens at most.
    var storeConnections = 8
    /// `cluster.gateway_id`: this gateway's name in the store (default: host name and SIP port).
    var gatewayID = ""
    /// `cluster.heartbeat_ms` / `cluster.dead_after_ms`: how often a gateway beats in a shared
    /// store, and how long without a beat before another ends its calls.
    var heartbeatMs = 1000
    var deadAfterMs = 3000
    /// `cluster.http_address`: where the other gateways reach this one's HTTP API (requests
    /// about calls it anchors are forwarded there); default `http.host:http.port`.
    var clusterHTTPAddress = ""
    /// `store.commit_window_ms`: records of this long share one SQLite transaction.
    var storeCommitWindowMs = 20
    /// `store.resume_calls`: answered calls survive a restart (their sealed state is saved as
    /// they change and taken back at start); off: a restart ends them with BYE.
    var resumeCalls = true
    /// `store.state_key_file`: the key that seals calls' resume state (created, mode 0600,
    /// when missing); empty: `state.key` next to the SQLite file (`var/` by default).
    var stateKeyFile = ""
    /// `store.checkpoint_ms`: how often calls whose latched media sources changed are saved again.
    var checkpointMs = 500
    var drainTimeout = 30
    /// `limits.max_sessions`: most live calls, 0 = no limit.
    var maxSessions = 0
    var logLevel = "info"
    /// Devices from `[[devices]]` (added to the store at start; the HTTP API edits them).
    var devices: [DeviceRecord] = []
    var handoff = Handoff.Configuration()
    var moves = MoveRules.Configuration()
    var contactCenter = ContactCenter.Configuration()
    var defaultTenant = "default"
    var stir = STIRSettings()
    /// `[[forwarding]]`: call forwarding Baton does itself (docs/stir.md: with a div PASSporT).
    var forwarding: [ForwardingRule] = []
    /// `[[conversation.rules]]` and `conversation.fallback` (docs/contact-center.md).
    var conversationRules: [ConversationRule] = []
    var conversationFallback = "callback"
    /// `model.retrain_s`: seconds between retrainings of the transfer model from the stored
    /// samples (0: never).
    var modelRetrainSeconds = 3600
    /// When the configuration file was last changed (nil: no file): rules changed over the
    /// API after it win over the file's at the next start.
    var fileModified: Double?
    /// `speech.*` and `[[speech.keywords]]`: listening to bot calls (docs/contact-center.md).
    var speech = SpeechSettings()
    /// Every key with the value in force, in the order read (what `check-config` prints).
    var settings: [Setting] = []

    struct Setting: Equatable { let key: String; let shown: String }

    init() {}

    /// Reads every key: each module's, then the gateway's own.
    init(reader r: SettingsReader) throws(ConfigurationError) {
        sip = try SIPServer.Configuration(reader: r)
        media = try MediaRelay.Configuration(reader: r)
        transcode = try r.bool("media.transcode", default: transcode)
        mediaSource = MediaSourceRule(rawValue: try r.choice("media.source", MediaSourceRule.allCases.map(\.rawValue),
                                                             default: mediaSource.rawValue,
                                                             expected: "sdp-or-signaling, sdp, signaling or any")) ?? .sdpOrSignaling
        http = try HTTPAPI.Configuration(reader: r)
        ng = try NGServer.Configuration(reader: r)
        storePath = r.string("store.path", default: storePath)
        storeURL = try r.value("store.url", default: storeURL, shown: { $0.isEmpty ? "(SQLite)" : PostgresStore.redacted($0) }) {
            v throws(ConfigurationError) in
            let u = v.trimmingCharacters(in: .whitespaces)
            guard !u.isEmpty else { return "" }
            do { _ = try PostgresStore.Address(url: u) } catch {
                throw .invalid("store.url", PostgresStore.redacted(u), "postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require] (\(error))")
            }
            return u
        }
        storeTimeoutMs = try r.int("store.timeout_ms", 100...60_000, default: storeTimeoutMs)
        storeConnections = try r.int("store.connections", 2...200, default: storeConnections)
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "baton"
        gatewayID = try r.value("cluster.gateway_id", default: "\(host)-\(sip.transport.port)", shown: { $0 }) { v throws(ConfigurationError) in
            let t = v.trimmingCharacters(in: .whitespaces)
            guard !t.isEmpty, t.count <= 64, t.allSatisfy({ $0.isLetter || $0.isNumber || "-_.:".contains($0) }) else {
                throw .invalid("cluster.gateway_id", v, "1-64 letters, digits, - _ . :")
            }
            return t
        }
        clusterHTTPAddress = try r.value("cluster.http_address", default: "\(http.host):\(http.port)", shown: { $0 }) {
            v throws(ConfigurationError) in
            let t = v.trimmingCharacters(in: .whitespaces)
            guard let colon = t.lastIndex(of: ":"), !t[..<colon].isEmpty, let port = Int(t[t.index(after: colon)...]), (1...65535).contains(port),
                  !t.contains("/") else {
                throw .invalid("cluster.http_address", v, "host:port the other gateways reach this one's HTTP API at")
            }
            return t
        }
        heartbeatMs = try r.int("cluster.heartbeat_ms", 100...10_000, default: heartbeatMs)
        deadAfterMs = try r.int("cluster.dead_after_ms", 300...60_000, default: deadAfterMs)
        guard deadAfterMs >= 2 * heartbeatMs else {
            throw .invalid("cluster.dead_after_ms", "\(deadAfterMs)", "at least two heartbeats (cluster.heartbeat_ms = \(heartbeatMs))")
        }
        storeCommitWindowMs = try r.int("store.commit_window_ms", 0...1000, default: storeCommitWindowMs)
        resumeCalls = try r.bool("store.resume_calls", default: resumeCalls)
        stateKeyFile = r.string("store.state_key_file", default: stateKeyFile)
        checkpointMs = try r.int("store.checkpoint_ms", 50...60_000, default: checkpointMs)
        drainTimeout = try r.int("lifecycle.drain_timeout", 0...86400, default: drainTimeout)
        maxSessions = try r.int("limits.max_sessions", 0...10_000_000, default: maxSessions)
        handoff = try Handoff.Configuration(reader: r)
        moves = try MoveRules.Configuration(reader: r)
        contactCenter = try ContactCenter.Configuration(reader: r)
        defaultTenant = try r.value("contact_center.tenant", default: defaultTenant, shown: { $0 }) { v throws(ConfigurationError) in
            let t = v.trimmingCharacters(in: .whitespaces)
            guard !t.isEmpty, t.count <= 64 else { throw .invalid("contact_center.tenant", v, "1-64 characters") }
            return t
        }
        stir = try STIRSettings(reader: r)
        conversationFallback = try r.choice("conversation.fallback", ["callback", "bot"], default: conversationFallback,
                                            expected: "callback or bot")
        modelRetrainSeconds = try r.int("model.retrain_s", 0...604_800, default: modelRetrainSeconds)
        speech.listen = try r.bool("speech.listen", default: speech.listen)
        speech.called = try r.value("speech.called", default: speech.called, shown: { $0 }) { v throws(ConfigurationError) in
            guard (try? Regex(v)) != nil else { throw .invalid("speech.called", v, "a regular expression over the called user") }
            return v
        }
        speech.maxCalls = try r.int("speech.max_calls", 0...64, default: speech.maxCalls)
        speech.modelDirectory = r.string("speech.model_dir", default: speech.modelDirectory)
        logLevel = try r.choice("log.level", ["trace", "debug", "info", "notice", "warning", "error", "critical"],
                                default: logLevel, expected: "a log level")
        settings = r.declared.map { Setting(key: $0.key, shown: $0.shown) }
    }

    /// Every key Baton reads, from the reads themselves (a reader with no values).
    static let keyNames: [String] = {
        let r = SettingsReader(ConfigReader(provider: InMemoryProvider(values: [:])))
        _ = try? BatonConfiguration(reader: r)
        return r.declared.map(\.key)
    }()

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

    /// `[[speech.keywords]]`: keyword, phrases (default: the keyword), threshold.
    static func parseKeywords(_ text: String) throws -> [KeywordSpec]? {
        guard let table = try? TOMLTable(string: text), let value = table["speech"]?.table?["keywords"] else { return nil }
        guard let arr = value.array else { throw ConfigError.invalid("speech.keywords", "\(value)", "an array of tables [[speech.keywords]]") }
        return try arr.map { item in
            guard let t = item.table, let keyword = t["keyword"]?.string else {
                throw ConfigError.invalid("speech.keywords", "\(item)", "keyword, phrases (an array of strings) and threshold (e.g. 1e-20)")
            }
            let threshold = t["threshold"]?.double ?? t["threshold"]?.int.map(Double.init) ?? 1e-20
            return KeywordSpec(keyword: keyword, phrases: t["phrases"]?.array?.compactMap(\.string), threshold: threshold)
        }
    }

    /// `[[conversation.rules]]`: name, type, when (conditions), channel (docs/contact-center.md).
    static func parseConversation(_ text: String) throws -> [ConversationRule] {
        guard let table = try? TOMLTable(string: text), let value = table["conversation"]?.table?["rules"] else { return [] }
        guard let arr = value.array else { throw ConfigError.invalid("conversation.rules", "\(value)", "an array of tables [[conversation.rules]]") }
        let rules = try arr.map { item in
            guard let t = item.table, let name = t["name"]?.string, let type = t["type"]?.string, let channel = t["channel"]?.string,
                  let when = t["when"]?.array?.compactMap(\.string) else {
                throw ConfigError.invalid("conversation.rules", "\(item)", "name, type, when (an array of conditions) and channel")
            }
            return ConversationRule(name: name, type: type, when: when, channel: channel)
        }
        do { _ = try ConversationRules(rules) } catch { throw ConfigError.invalid("conversation.rules", "\(error)", "valid rules (docs/contact-center.md)") }
        return rules
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
        /// `stir.x5u_http`: fetch http x5u URLs too (development; https only otherwise).
        var x5uHTTP = false
        /// Called numbers whose devices forward on their own: their calls' Identity is kept.
        var keepFor: [String] = []
        var holdSeconds = 60
        /// `stir.forward_likely_percent`: a number whose own history shows it forwards at
        /// least this share of its calls is likely to forward (its calls' Identity is kept).
        var forwardLikelyPercent = 20

        init() {}

        init(reader r: SettingsReader) throws(ConfigurationError) {
            signKey = r.optionalString("stir.sign_key")
            x5u = r.optionalString("stir.x5u")
            signNumbers = r.list("stir.sign_numbers")
            attest = try r.choice("stir.attest", ["A", "B", "C"], default: attest, expected: "A, B or C") { $0.uppercased() }
            verify = try r.choice("stir.verify", ["off", "continue", "reject"], default: verify, expected: "off, continue or reject")
            trustAnchors = r.list("stir.trust_anchors")
            x5uMap = try r.value("stir.x5u_map", default: x5uMap, shown: { m in
                m.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            }) { v throws(ConfigurationError) in
                var m: [String: String] = [:]
                for item in SettingsReader.split(v) {
                    guard let eq = item.lastIndex(of: "=") else { throw .invalid("stir.x5u_map", item, "URL=PATH") }
                    m[String(item[..<eq])] = String(item[item.index(after: eq)...])
                }
                return m
            }
            keepFor = r.list("stir.keep_for")
            holdSeconds = try r.int("stir.hold_s", 1...3600, default: holdSeconds)
            forwardLikelyPercent = try r.int("stir.forward_likely_percent", 1...100, default: forwardLikelyPercent)
            freshness = try r.int("stir.freshness", 1...3600, default: freshness)
            x5uHTTP = try r.bool("stir.x5u_http", default: x5uHTTP)
        }
    }

    /// `--sip-max-message-size` for `sip.max_message_size`.
    static func flagName(_ key: String) -> String {
        "--" + key.replacingOccurrences(of: ".", with: "-").replacingOccurrences(of: "_", with: "-")
    }

    /// For `--help`: every configuration flag, from the declarations.
    static var flagSummary: String {
        "Configuration flags (file key, environment BATON_<KEY>, meaning and default: docs/configuration.md): "
            + keyNames.map { flagName($0) }.joined(separator: ", ") + " (also --max-sessions)."
    }

    /// Older spellings kept working.
    static let flagAliases = ["--max-sessions": "limits.max_sessions"]

    /// The key a flag sets (`--sip-port` -> `sip.port`), if it is one.
    static func key(forFlag flag: String) -> String? {
        let alias = flagAliases[flag]
        return keyNames.first { $0 == alias || flagName($0) == flag }
    }

    /// Builds the configuration from file text (TOML), environment and flag overrides.
    static func load(toml: String?, environment: [String: String], overrides: [(String, String)], routes: [String],
                     forwards: [String] = []) throws -> BatonConfiguration {
        func declared(_ name: String) throws(ConfigurationError) -> AbsoluteConfigKey {
            guard keyNames.contains(name) else { throw .unknownKey(name) }
            return AbsoluteConfigKey(ConfigKey(name))
        }
        // The file's keys (scalars as written; arrays joined by commas, as the flags take them).
        var fileValues: [AbsoluteConfigKey: ConfigValue] = [:]
        var fileRoutes: [StaticRoute] = [], fileDevices: [DeviceRecord] = [], fileForwarding: [ForwardingRule] = []
        var fileConversation: [ConversationRule] = []
        var fileKeywords: [KeywordSpec]?
        // An empty file is no configuration (TOMLKit reads past an empty buffer).
        if let toml, !toml.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            let flat: [(String, String)]
            (flat, fileRoutes, fileDevices) = try parseFile(toml)
            for (k, v) in flat { fileValues[try declared(k)] = ConfigValue(.string(v), isSecret: false) }
            fileForwarding = try parseForwarding(toml)
            fileConversation = try parseConversation(toml)
            fileKeywords = try parseKeywords(toml)
        }
        var flagValues: [AbsoluteConfigKey: ConfigValue] = [:]
        for (k, v) in overrides { flagValues[try declared(k)] = ConfigValue(.string(v), isSecret: false) }
        // swift-configuration does the layering: the first provider with a value wins.
        let reader = ConfigReader(providers: [
            InMemoryProvider(name: "flags", values: flagValues),
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: "baton"),
            InMemoryProvider(name: "file", values: fileValues),
        ])
        var c = try BatonConfiguration(reader: SettingsReader(reader))
        c.sip.routes = fileRoutes
        c.devices = fileDevices
        c.forwarding = fileForwarding
        c.conversationRules = fileConversation
        if let fileKeywords { c.speech.keywords = fileKeywords }
        if let v = environment["BATON_ROUTES"] {
            c.sip.routes = try v.split(separator: ";").map { s in try parseRoute(String(s)) }
        }
        if !routes.isEmpty { c.sip.routes = try routes.map { s in try parseRoute(s) } }
        if !forwards.isEmpty { c.forwarding = try forwards.map { s in try parseForward(s) } }
        try c.validate()
        return c
    }

    /// Listeners on an address other than loopback that nothing authenticates: SIP without
    /// `auth.sip`, the HTTP API without `http.auth`, ng (the rtpengine protocol has
    /// none). `serve` refuses to start with any of them unless `--insecure` is given.
    var exposedListeners: [String] {
        var out: [String] = []
        if !Self.isLoopback(sip.transport.host) && !sip.auth.enabled {
            out.append("SIP on \(sip.transport.host) without auth.sip")
        }
        if !Self.isLoopback(http.host) && !http.auth { out.append("the HTTP API on \(http.host) without http.auth") }
        if ng.enabled && !Self.isLoopback(ng.host) { out.append("ng on \(ng.host) (the ng protocol has no authentication)") }
        return out
    }

    static func isLoopback(_ host: String) -> Bool {
        let h = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        return h == "localhost" || h == "::1" || h.hasPrefix("127.")
    }

    func validate() throws {
        _ = try MoveRules(configuration: moves)
        try media.validate()
        try sip.validate()
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
                throw ConfigError.invalid("routes", s, "transport udp, tcp or tls")
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
                    guard let kind = SIPTransportKind(rawValue: tr.lowercased()) else { throw ConfigError.invalid("routes.transport", tr, "udp, tcp or tls") }
                    var mediaTransport: String?
                    if let mt = t["media_transport"]?.string {
                        guard ["RTP/AVP", "RTP/SAVP", "RTP/AVPF", "RTP/SAVPF"].contains(mt) else {
                            throw ConfigError.invalid("routes.media_transport", mt, "RTP/AVP, RTP/SAVP, RTP/AVPF or RTP/SAVPF")
                        }
                        mediaTransport = mt
                    }
                    routes.append(StaticRoute(match: match, host: host, port: port, transport: kind, mediaTransport: mediaTransport,
                                              sdesInClear: t["sdes_in_clear"]?.bool ?? false))
                }
                continue
            }
            guard let t = value.table else { throw ConfigError.unknownKey(section) }
            for (k, v) in t {
                if section == "conversation" && k == "rules" { continue }   // parseConversation
                if section == "speech" && k == "keywords" { continue }      // parseKeywords
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
        var lines = settings.map { "\($0.key) = \($0.shown)" }
        for r in sip.routes {
            lines.append("route \(r.match) -> \(r.transport.rawValue):\(r.host):\(r.port)" + (r.sdesInClear ? " sdes_in_clear" : ""))
        }
        for f in forwarding { lines.append("forward \(f.number) -> \(f.to) on \(f.on.rawValue)") }
        for d in devices { lines.append("device \(d.user)/\(d.id) \(d.kind) \(d.aor) priority \(d.priority)") }
        for k in speech.keywords { lines.append("keyword \(k.keyword): \(k.phrases.joined(separator: " | ")) threshold \(k.threshold)") }
        for r in conversationRules { lines.append("conversation rule \(r.name): \(r.when.joined(separator: " and ")) -> \(r.type), \(r.channel)") }
        return lines.joined(separator: "\n")
    }

}

typealias ConfigError = ConfigurationError

/// Listening to bot calls: which calls, how many at once, the keyword list and its model.
struct SpeechSettings: Equatable {
    var listen = true
    /// Calls whose called user (To) matches are listened to.
    var called = "^bot"
    var maxCalls = 4
    var modelDirectory = KeywordModel.defaultDirectory
    var keywords = KeywordModel.defaults
}

extension BatonConfiguration {
    /// Where the state lives, for messages: the SQLite path or the PostgreSQL URL without its password.
    var storeLocation: String { storeURL.isEmpty ? storePath : PostgresStore.redacted(storeURL) }

    /// Where the state key lives: `store.state_key_file`, else next to the SQLite file.
    var stateKeyPath: String {
        if !stateKeyFile.isEmpty { return stateKeyFile }
        return URL(fileURLWithPath: storePath).deletingLastPathComponent().appendingPathComponent("state.key").path
    }

    /// The store the configuration names: PostgreSQL when `store.url` is set, else SQLite at
    /// `store.path`. An unreachable database is an error (the command exits non-zero).
    func openStore(logger: Logger = Logger(label: "baton.store")) async throws -> any BatonStore {
        if storeURL.isEmpty { return try Store(path: storePath) }
        return try await PostgresStore.open(url: storeURL, logger: logger, queryTimeout: .milliseconds(storeTimeoutMs),
                                            maxConnections: storeConnections)
    }
}
