import ArgumentParser
import Foundation

/// The options shared by `serve` and `check-config`: the file, and a flag per key.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (TOML). Default: conf/baton.toml when it exists.")
    var config: String?

    @Option(name: .customLong("route"), help: "Static route PATTERN=HOST:PORT[/udp|tcp]; repeatable; replaces the file's routes.")
    var routes: [String] = []
    @Flag(help: "Start even when a listener off loopback is unauthenticated (docs/security.md).")
    var insecure = false
    @Option(name: .customLong("forward"), help: "Call forwarding NUMBER=URI[/busy|/unconditional]; repeatable; replaces the file's [[forwarding]].")
    var forwards: [String] = []
    /// Every configuration key is also a flag, derived from its name (`sip.max_message_size`
    /// -> `--sip-max-message-size VALUE` or `--sip-max-message-size=VALUE`): not declared
    /// one by one here, so a key added to ``BatonConfiguration/keys`` is a flag at once.
    @Argument(parsing: .allUnrecognized, help: .init("Any configuration key as a flag, e.g. --sip-port 5070 (docs/configuration.md).",
                                                     valueName: "--key value"))
    var settings: [String] = []

    /// The configuration flags given, as (key, value) pairs in order; an unknown flag or a
    /// flag without its value is an error that names it.
    func overrides() throws -> [(String, String)] {
        var out: [(String, String)] = []
        var i = settings.startIndex
        while i < settings.endIndex {
            let token = settings[i]
            guard token.hasPrefix("--") else { throw ValidationError("unexpected argument '\(token)'") }
            var flag = token, value: String?
            if let eq = token.firstIndex(of: "=") {
                flag = String(token[..<eq])
                value = String(token[token.index(after: eq)...])
            } else if i + 1 < settings.endIndex {
                i += 1
                value = settings[i]
            }
            guard let key = BatonConfiguration.key(forFlag: flag) else {
                throw ValidationError("unknown option '\(flag)' (every configuration key is a flag: docs/configuration.md)")
            }
            guard let value else { throw ValidationError("missing value for '\(flag)'") }
            out.append((key, value))
            i += 1
        }
        return out
    }

    /// Reads a whole file with plain read(2), so character devices work too
    /// (`String(contentsOfFile: "/dev/null")` fails on Linux).
    static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { return out }
            out += chunk.prefix(n)
            if out.count > 4 << 20 { return nil }   // a configuration file is not megabytes
        }
    }

    func load() throws -> BatonConfiguration {
        let flags = try overrides()
        var text: String?
        let path = config ?? (FileManager.default.fileExists(atPath: "conf/baton.toml") ? "conf/baton.toml" : nil)
        if let path {
            guard let bytes = ConfigOptions.readFile(path) else {
                throw ValidationError("cannot read configuration file \(path): \(String(cString: strerror(errno)))")
            }
            text = String(decoding: bytes, as: UTF8.self)
        }
        do {
            var c = try BatonConfiguration.load(toml: text, environment: ProcessInfo.processInfo.environment,
                                                overrides: flags, routes: routes, forwards: forwards)
            if let path, let m = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date {
                c.fileModified = m.timeIntervalSince1970
            }
            return c
        } catch {
            throw ValidationError("\(path.map { "\($0): " } ?? "")\(error)")
        }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate the configuration and print what serve would use.",
        discussion: BatonConfiguration.flagSummary)
    @OptionGroup var options: ConfigOptions

    func run() throws {
        let c = try options.load()
        print(c.rendered)
    }
}
