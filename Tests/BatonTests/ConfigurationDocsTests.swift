import Foundation
import Testing
import Configuration
import ContactCenter
import Control
import Handoff
import Media
import SIP
import Settings
@testable import Baton

/// docs/configuration.md is checked against the declarations, which are the reads of each
/// module's `Configuration(reader:)` (`BatonConfiguration.keyNames`): every key read has its row, the row's flag is one `baton serve` accepts and sets that key, the
/// environment variable is `BATON_<KEY>`, and the default the row shows is the one Baton uses.
@Suite struct ConfigurationDocsTests {
    struct Row { let key: String; let flag: String; let defaultText: String }

    static func rows() throws -> [Row] {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/configuration.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 5, cells[2].hasPrefix("--"), cells[1].contains(".") else { return nil }
            return Row(key: cells[1], flag: cells[2], defaultText: cells[3])
        }
    }

    @Test func everyDeclaredKeyIsDocumentedAndNothingElse() throws {
        let documented = Set(try Self.rows().map(\.key))
        let declared = Set(BatonConfiguration.keyNames)
        #expect(declared.count > 40)
        #expect(declared.subtracting(documented).isEmpty, "keys missing from docs/configuration.md: \(declared.subtracting(documented).sorted())")
        #expect(documented.subtracting(declared).isEmpty, "documented keys Baton does not read: \(documented.subtracting(declared).sorted())")
    }

    /// Each documented flag parses and overrides exactly its key (the flag list and the key
    /// table cannot drift apart), and the environment variable sets the same key.
    @Test func everyFlagAndVariableSetsItsKey() throws {
        for row in try Self.rows() {
            let set = try ConfigOptions.parse([row.flag, "x"]).overrides().map(\.0)
            #expect(set == [row.key], "\(row.flag) should set \(row.key), sets \(set)")
            let joined = try ConfigOptions.parse(["\(row.flag)=x"]).overrides().map(\.0)
            #expect(joined == [row.key], "\(row.flag)=x should set \(row.key), sets \(joined)")
            // BATON_<KEY> reaches the key: a value it accepts is shown back, one it refuses
            // is an error that names it.
            let variable = "BATON_" + row.key.uppercased().replacingOccurrences(of: ".", with: "_")
            do {
                let c = try BatonConfiguration.load(toml: nil, environment: [variable: "x"], overrides: [], routes: [])
                let shown = c.settings.first { $0.key == row.key }?.shown
                #expect(shown == "x", "\(variable) should set \(row.key), which shows \(shown ?? "nothing")")
            } catch {
                #expect("\(error)".contains(row.key), "\(variable): \(error)")
            }
        }
    }

    /// Flags are derived from the keys: a misspelt one, or one without its value, is an error
    /// that names it; the derived spelling of an aliased key works too.
    @Test func unknownFlagsAreRefusedByName() throws {
        #expect(throws: (any Error).self) { try ConfigOptions.parse(["--sip-prot", "5070"]).overrides() }
        do {
            _ = try ConfigOptions.parse(["--sip-prot", "5070"]).overrides()
        } catch { #expect("\(error)".contains("--sip-prot"), "\(error)") }
        #expect(throws: (any Error).self) { try ConfigOptions.parse(["--sip-port"]).overrides() }
        #expect(try ConfigOptions.parse(["--limits-max-sessions", "7"]).overrides().map(\.0) == ["limits.max_sessions"])
        let c = try ConfigOptions.parse(["--config", "/dev/null", "--sip-port", "5077", "--media-reuse-sockets=false", "--route", "^1=127.0.0.1:5080"]).load()
        #expect(c.sip.transport.port == 5077 && !c.media.reuseSockets && c.sip.routes.count == 1)
    }

    /// A literal default in the table is what an empty configuration shows for that key.
    @Test func documentedDefaultsAreTheRealOnes() throws {
        let c = try BatonConfiguration.load(toml: nil, environment: [:], overrides: [], routes: [])
        var checked = 0
        for row in try Self.rows() {
            guard let key = c.settings.first(where: { $0.key == row.key }) else { continue }
            // Defaults that name another key or say "none" are prose, not values.
            let text = row.defaultText.trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            guard text != "none", !text.contains("."), !text.contains(" ") || text.hasPrefix("\"") else { continue }
            #expect(key.shown == text, "\(row.key): docs say \(text), Baton uses \(key.shown)")
            checked += 1
        }
        #expect(checked > 30)
    }

    /// Each module reads its own keys (`Configuration(reader:)`), checked in the key's terms:
    /// a bad value from any layer is an error naming the key, never a silent default; a file
    /// value means the same written as a number or as a string.
    @Test func moduleConfigurationsReadTheirOwnKeys() throws {
        func reader(env: [String: String]) -> SettingsReader {
            SettingsReader(ConfigReader(providers: [EnvironmentVariablesProvider(environmentVariables: env).prefixKeys(with: "baton")]))
        }
        let sip = try SIPServer.Configuration(reader: reader(env: ["BATON_SIP_PORT": "5090", "BATON_SIP_HOST": "0.0.0.0"]))
        #expect(sip.transport.port == 5090 && sip.b2bua.advertisedPort == 5090)
        #expect(sip.b2bua.advertisedHost == "127.0.0.1", "bound to every address: advertise loopback unless told")
        #expect(throws: ConfigurationError.invalid("sip.port", "50x0", "an integer in 0...65535")) {
            try SIPServer.Configuration(reader: reader(env: ["BATON_SIP_PORT": "50x0"]))
        }
        #expect(throws: ConfigurationError.invalid("media.bind", "localhost", "an IPv4 or IPv6 address")) {
            try MediaRelay.Configuration(reader: reader(env: ["BATON_MEDIA_BIND": "localhost"]))
        }
        #expect(try Handoff.Configuration(reader: reader(env: ["BATON_SWITCHOVER_PRIMING_MS": "120"])).primingMillis == 120)
        #expect(throws: ConfigurationError.self) { try NGServer.Configuration(reader: reader(env: ["BATON_NG_ENABLED": "maybe"])) }
        #expect(try ContactCenter.Configuration(reader: reader(env: ["BATON_CONTACT_CENTER_KEY_DIGITS": "8"])).keyDigits == 8)
        let asNumber = try BatonConfiguration.load(toml: "[sip]\nport = 5071", environment: [:], overrides: [], routes: [])
        let asString = try BatonConfiguration.load(toml: "[sip]\nport = \"5071\"", environment: [:], overrides: [], routes: [])
        #expect(asNumber == asString && asNumber.sip.transport.port == 5071)
        // The listing check-config prints is the reads: every key once, in force.
        #expect(asNumber.settings.map(\.key) == BatonConfiguration.keyNames)
        #expect(asNumber.settings.first { $0.key == "sip.port" }?.shown == "5071")
    }
}
