import ArgumentParser
import Foundation

/// The options shared by `serve` and `check-config`: the file, and a flag per key.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (TOML). Default: conf/baton.toml when it exists.")
    var config: String?

    @Option(name: .customLong("sip-host")) var sipHost: String?
    @Option(name: .customLong("sip-port")) var sipPort: String?
    @Option(name: .customLong("sip-udp")) var sipUDP: String?
    @Option(name: .customLong("sip-tcp")) var sipTCP: String?
    @Option(name: .customLong("sip-advertised-host")) var sipAdvertisedHost: String?
    @Option(name: .customLong("sip-max-message-size")) var sipMaxMessageSize: String?
    @Option(name: .customLong("sip-udp-receive-buffer")) var sipUDPReceiveBuffer: String?
    @Option(name: .customLong("sip-overload-percent"), help: "Refuse new INVITEs (503) while the SIP UDP receive queue is this full (percent, 0 = never)") var sipOverloadPercent: String?
    @Option(name: .customLong("media-bind")) var mediaBind: String?
    @Option(name: .customLong("media-advertised")) var mediaAdvertised: String?
    @Option(name: .customLong("media-port-min")) var mediaPortMin: String?
    @Option(name: .customLong("media-port-max")) var mediaPortMax: String?
    @Option(name: .customLong("media-threads")) var mediaThreads: String?
    @Option(name: .customLong("media-coalesce-us")) var mediaCoalesceUs: String?
    @Option(name: .customLong("media-reuse-sockets"), help: "Keep released RTP/RTCP sockets bound for reuse (true/false)") var mediaReuseSockets: String?
    @Option(name: .customLong("media-transcode"), help: "Offer Opus <-> G.711 transcoding (true/false)") var mediaTranscode: String?
    @Option(name: .customLong("media-opus-bitrate"), help: "Opus bit rate when transcoding (bit/s)") var mediaOpusBitrate: String?
    @Option(name: .customLong("stir-sign-key")) var stirSignKey: String?
    @Option(name: .customLong("stir-x5u")) var stirX5u: String?
    @Option(name: .customLong("stir-sign-numbers")) var stirSignNumbers: String?
    @Option(name: .customLong("stir-attest")) var stirAttest: String?
    @Option(name: .customLong("stir-verify"), help: "off, continue or reject") var stirVerify: String?
    @Option(name: .customLong("stir-trust-anchors")) var stirTrustAnchors: String?
    @Option(name: .customLong("stir-x5u-map")) var stirX5uMap: String?
    @Option(name: .customLong("stir-freshness")) var stirFreshness: String?
    @Option(name: .customLong("stir-keep-for")) var stirKeepFor: String?
    @Option(name: .customLong("stir-hold-s")) var stirHoldS: String?
    @Option(name: .customLong("media-opus-complexity"), help: "libopus encoder complexity 0-10 when transcoding") var mediaOpusComplexity: String?
    @Option(name: .customLong("switchover-window-ms")) var switchoverWindowMs: String?
    @Option(name: .customLong("switchover-priming-ms")) var switchoverPrimingMs: String?
    @Option(name: .customLong("switchover-no-media-timeout-ms")) var switchoverNoMediaTimeoutMs: String?
    @Option(name: .customLong("contact-center-key-ttl-s")) var keyTTL: String?
    @Option(name: .customLong("contact-center-key-digits")) var keyDigits: String?
    @Option(name: .customLong("contact-center-tenant")) var tenant: String?
    @Option(name: .customLong("http-host")) var httpHost: String?
    @Option(name: .customLong("http-port")) var httpPort: String?
    @Option(name: .customLong("ng-enabled")) var ngEnabled: String?
    @Option(name: .customLong("ng-host")) var ngHost: String?
    @Option(name: .customLong("ng-port")) var ngPort: String?
    @Option(name: .customLong("ng-receive-buffer")) var ngReceiveBuffer: String?
    @Option(name: .customLong("store-path")) var storePath: String?
    @Option(name: .customLong("store-commit-window-ms"), help: "Group commit: ms of call records per SQLite transaction (0 = commit each batch at once)")
    var storeCommitWindowMs: String?
    @Option(name: .customLong("lifecycle-drain-timeout")) var drainTimeout: String?
    @Option(name: .customLong("lifecycle-retry-after")) var retryAfter: String?
    @Option(name: .customLong("max-sessions"), help: "Most live calls, SIP and ng together (0 = no limit)") var maxSessions: String?
    @Option(name: .customLong("limits-retry-after")) var limitsRetryAfter: String?
    @Option(name: .customLong("registrar-default-expires")) var defaultExpires: String?
    @Option(name: .customLong("registrar-min-expires")) var minExpires: String?
    @Option(name: .customLong("registrar-max-expires")) var maxExpires: String?
    @Option(name: .customLong("log-level")) var logLevel: String?
    @Option(name: .customLong("route"), help: "Static route PATTERN=HOST:PORT[/udp|tcp]; repeatable; replaces the file's routes.")
    var routes: [String] = []
    @Option(name: .customLong("forward"), help: "Call forwarding NUMBER=URI[/busy|/unconditional]; repeatable; replaces the file's [[forwarding]].")
    var forwards: [String] = []

    var overrides: [(String, String)] {
        let pairs: [(String, String?)] = [
            ("sip.host", sipHost), ("sip.port", sipPort), ("sip.udp", sipUDP), ("sip.tcp", sipTCP),
            ("sip.advertised_host", sipAdvertisedHost), ("sip.max_message_size", sipMaxMessageSize),
            ("sip.udp_receive_buffer", sipUDPReceiveBuffer), ("sip.overload_percent", sipOverloadPercent),
            ("media.bind", mediaBind), ("media.advertised", mediaAdvertised), ("media.port_min", mediaPortMin),
            ("media.port_max", mediaPortMax), ("media.threads", mediaThreads), ("media.coalesce_us", mediaCoalesceUs), ("media.reuse_sockets", mediaReuseSockets), ("media.transcode", mediaTranscode), ("media.opus_bitrate", mediaOpusBitrate), ("media.opus_complexity", mediaOpusComplexity),
            ("stir.sign_key", stirSignKey), ("stir.x5u", stirX5u), ("stir.sign_numbers", stirSignNumbers), ("stir.attest", stirAttest),
            ("stir.verify", stirVerify), ("stir.trust_anchors", stirTrustAnchors), ("stir.x5u_map", stirX5uMap),
            ("stir.freshness", stirFreshness), ("stir.keep_for", stirKeepFor), ("stir.hold_s", stirHoldS), ("http.host", httpHost),
            ("http.port", httpPort), ("ng.enabled", ngEnabled), ("ng.host", ngHost), ("ng.port", ngPort), ("ng.receive_buffer", ngReceiveBuffer), ("store.path", storePath), ("store.commit_window_ms", storeCommitWindowMs), ("lifecycle.drain_timeout", drainTimeout),
            ("lifecycle.retry_after", retryAfter), ("limits.max_sessions", maxSessions), ("limits.retry_after", limitsRetryAfter), ("registrar.default_expires", defaultExpires),
            ("registrar.min_expires", minExpires), ("registrar.max_expires", maxExpires), ("log.level", logLevel),
            ("switchover.window_ms", switchoverWindowMs), ("switchover.priming_ms", switchoverPrimingMs), ("switchover.no_media_timeout_ms", switchoverNoMediaTimeoutMs),
            ("contact_center.key_ttl_s", keyTTL), ("contact_center.key_digits", keyDigits), ("contact_center.tenant", tenant),
        ]
        return pairs.compactMap { k, v in v.map { (k, $0) } }
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
        var text: String?
        let path = config ?? (FileManager.default.fileExists(atPath: "conf/baton.toml") ? "conf/baton.toml" : nil)
        if let path {
            guard let bytes = ConfigOptions.readFile(path) else {
                throw ValidationError("cannot read configuration file \(path): \(String(cString: strerror(errno)))")
            }
            text = String(decoding: bytes, as: UTF8.self)
        }
        do {
            return try BatonConfiguration.load(toml: text, environment: ProcessInfo.processInfo.environment,
                                               overrides: overrides, routes: routes, forwards: forwards)
        } catch {
            throw ValidationError("\(path.map { "\($0): " } ?? "")\(error)")
        }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate the configuration and print what serve would use.")
    @OptionGroup var options: ConfigOptions

    func run() throws {
        let c = try options.load()
        print(c.rendered)
    }
}
