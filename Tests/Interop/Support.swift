import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
@_exported import TestSupport

/// Helpers for interop tests: real peers and the real `baton` executable on loopback.
enum Interop {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = packageRoot.appendingPathComponent("Tests/Interop/fixtures")
    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// The baton binary the suite was built with (BATON_BIN overrides).
    static var batonBinary: String {
        if let p = ProcessInfo.processInfo.environment["BATON_BIN"] { return p }
        // The test bundle sits next to the executable in the build folder.
        let bundleDir = Bundle.main.bundleURL.deletingLastPathComponent()
        for dir in [bundleDir, bundleDir.deletingLastPathComponent(), packageRoot.appendingPathComponent(".build/debug")] {
            let c = dir.appendingPathComponent("baton").path
            if FileManager.default.isExecutableFile(atPath: c) { return c }
        }
        return packageRoot.appendingPathComponent(".build/debug/baton").path
    }

    /// The demo voicebot built beside baton (tools/demobot).
    static var demoBotBinary: String {
        (batonBinary as NSString).deletingLastPathComponent + "/baton-demobot"
    }

    static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let dirs: [String] = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
        for dir in dirs {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// The peer's path, or nil after recording why: a failure under CI=true, a skip note elsewhere.
    static func requirePeer(_ name: String, package: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        if let p = which(name) { return p }
        let msg = "interop peer '\(name)' is missing (Debian package \(package)); install it with tools/install-deps.sh --test"
        if isCI {
            Issue.record(Comment(rawValue: msg), sourceLocation: sourceLocation)
        } else {
            print("SKIPPED: \(msg)")
        }
        return nil
    }

    static func tempDir(_ tag: String) throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("baton-\(tag)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }
}

/// A child process, bounded in time and stopped by PID.
final class Child: @unchecked Sendable {
    let process = Process()
    let output: URL

    init(_ path: String, _ args: [String], cwd: URL? = nil, output: URL) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        if let cwd { process.currentDirectoryURL = cwd }
        // Create the log with open(2), never FileManager.createFile: that writes a temporary
        // file and renames it over the path, which would replace a device such as /dev/null.
        let fd = open(output.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw InteropError.http("cannot open \(output.path)") }
        let h = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        process.standardOutput = h
        process.standardError = h
        process.standardInput = FileHandle.nullDevice
        self.output = output
        try process.run()
    }

    /// A child started with every signal unblocked. Foundation's Process hands its child the
    /// spawning thread's signal mask, and the test runner's threads block almost all signals:
    /// a server that runs its timers on SIGALRM (Kamailio: retransmissions, fr_timer, the
    /// dispatcher's probes) would never see them. python3 clears the mask, then execs.
    static func unblocked(_ path: String, _ args: [String], cwd: URL? = nil, output: URL) throws -> Child {
        let clear = "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, set()); os.execv(sys.argv[1], sys.argv[1:])"
        return try Child("/usr/bin/python3", ["-c", clear, path] + args, cwd: cwd, output: output)
    }

    var pid: Int32 { process.processIdentifier }
    var text: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    /// Waits up to `timeout` for exit; kills it (SIGKILL) past that. Returns the exit status, nil if killed.
    @discardableResult
    func wait(timeout: Duration) -> Int32? {
        let end = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < end { usleep(20_000) }
        if process.isRunning {
            // Never Process.waitUntilExit(): on Linux it spins forever if Foundation does not
            // see the exit. Kill, then poll for a bounded time.
            kill(pid, SIGKILL)
            let killEnd = ContinuousClock.now + .seconds(2)
            while process.isRunning && ContinuousClock.now < killEnd { usleep(20_000) }
            return nil
        }
        return process.terminationStatus
    }

    func signal(_ s: Int32) { if process.isRunning { kill(pid, s) } }

    deinit { if process.isRunning { kill(pid, SIGKILL) } }
}

/// `baton serve` on loopback with its own ports, store and drain timeout.
final class BatonProcess: @unchecked Sendable {
    let sipPort: Int
    let httpPort: Int
    let rtpMin: Int
    let dir: URL
    let child: Child
    var storePath: String { dir.appendingPathComponent("baton.sqlite").path }
    /// The ng control port (sipPort + 5).
    var ngPort: Int { sipPort + 5 }

    /// `config`: TOML for settings that have no flag (e.g. `[[routes]]` with `media_transport`).
    /// `configFile`: an existing file to read instead (a restart that must not rewrite it).
    init(sipPort: Int, httpPort: Int, rtpMin: Int, dir: URL, config: String? = nil, configFile: URL? = nil, extra: [String] = []) throws {
        self.sipPort = sipPort
        self.httpPort = httpPort
        self.rtpMin = rtpMin
        self.dir = dir
        var configPath = configFile?.path ?? "/dev/null"
        if let config {
            let url = dir.appendingPathComponent("baton-\(sipPort).toml")
            try config.write(to: url, atomically: true, encoding: .utf8)
            configPath = url.path
        }
        child = try Child(Interop.batonBinary, ["serve", "--config", configPath,
            "--sip-port", "\(sipPort)", "--http-port", "\(httpPort)",
            "--media-port-min", "\(rtpMin)", "--media-port-max", "\(rtpMin + 199)",
            "--store-path", dir.appendingPathComponent("baton.sqlite").path,
            "--lifecycle-drain-timeout", "5", "--ng-port", "\(sipPort + 5)"] + extra,
            output: dir.appendingPathComponent("baton-\(sipPort)-\(UUID().uuidString.prefix(4)).log"))
        let end = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < end {
            if (try? get("/healthz")) != nil { return }
            guard child.process.isRunning else { break }
            usleep(100_000)
        }
        throw InteropError.notStarted(child.text)
    }

    func get(_ path: String) throws -> (Int, Data) { try request("GET", path) }

    /// POST a JSON body; returns the status and the decoded JSON reply.
    func post(_ path: String, json body: [String: Any]) throws -> (Int, [String: Any]) {
        let (code, data) = try request("POST", path, body: try JSONSerialization.data(withJSONObject: body))
        return (code, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
    }

    func request(_ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:]) throws -> (Int, Data) {
        let url = URL(string: "http://127.0.0.1:\(httpPort)\(path)")!
        let sem = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<(Int, Data), any Error> = .failure(InteropError.http("no answer"))
        var req = URLRequest(url: url)
        req.httpMethod = method
        if let body {
            req.httpBody = body
            req.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        req.timeoutInterval = 5
        for (k, v) in headers { req.setValue(v, forHTTPHeaderField: k) }
        URLSession.shared.dataTask(with: req) { data, resp, err in
            if let err { result = .failure(err) } else {
                result = .success(((resp as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data()))
            }
            sem.signal()
        }.resume()
        _ = sem.wait(timeout: .now() + 6)
        return try result.get()
    }

    func json(_ path: String) throws -> Any {
        try JSONSerialization.jsonObject(with: try get(path).1)
    }

    /// The id of the first live call in state `answered`, polling `/calls` up to `timeout`.
    func answeredCall(timeout: Duration = .seconds(5)) throws -> String? {
        let end = ContinuousClock.now + timeout
        repeat {
            let list = try json("/calls") as? [String: Any]
            if let id = (list?["active"] as? [[String: Any]])?.first(where: { $0["state"] as? String == "answered" })?["id"] as? String {
                return id
            }
            usleep(50_000)
        } while ContinuousClock.now < end
        return nil
    }

    /// One Prometheus sample value ("name{labels}" exactly as printed).
    func metric(_ sample: String) throws -> Double? {
        let text = String(decoding: try get("/metrics").1, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.split(separator: " ").last!)
        }
        return nil
    }

    /// SIGTERM and wait: returns the exit status.
    func stop(timeout: Duration = .seconds(15)) -> Int32? {
        child.signal(SIGTERM)
        return child.wait(timeout: timeout)
    }
}

enum InteropError: Error, CustomStringConvertible {
    case notStarted(String)
    case http(String)
    var description: String {
        switch self {
        case .notStarted(let log): return "baton did not become healthy:\n\(log)"
        case .http(let s): return "HTTP: \(s)"
        }
    }
}

/// Packets in a pcap (Ethernet or Linux cooked) file, as (src port, dst port) UDP pairs.
enum PcapReader {
    static func udpFlows(_ url: URL) throws -> [String: Int] {
        try packets(url).reduce(into: [:]) { $0["\($1.src)>\($1.dst)", default: 0] += 1 }
    }

    /// Every UDP datagram: ports and payload.
    static func packets(_ url: URL) throws -> [(src: Int, dst: Int, payload: [UInt8])] {
        try timedPackets(url).map { ($0.src, $0.dst, $0.payload) }
    }

    /// Every UDP datagram with its capture time (seconds).
    static func timedPackets(_ url: URL) throws -> [(time: Double, src: Int, dst: Int, payload: [UInt8])] {
        let d = [UInt8](try Data(contentsOf: url))
        guard d.count >= 24 else { return [] }
        let linkType = Int(d[20]) | Int(d[21]) << 8
        var i = 24
        var out: [(time: Double, src: Int, dst: Int, payload: [UInt8])] = []
        func u32(_ k: Int) -> Int { Int(d[k]) | Int(d[k + 1]) << 8 | Int(d[k + 2]) << 16 | Int(d[k + 3]) << 24 }
        while i + 16 <= d.count {
            let time = Double(u32(i)) + Double(u32(i + 4)) / 1e6
            let caplen = Int(d[i + 8]) | Int(d[i + 9]) << 8 | Int(d[i + 10]) << 16 | Int(d[i + 11]) << 24
            let frame = i + 16
            i = frame + caplen
            guard i <= d.count else { break }
            let ip = frame + (linkType == 113 ? 16 : 14)
            guard ip + 28 <= d.count, d[ip] >> 4 == 4, d[ip + 9] == 17 else { continue }
            let udp = ip + Int(d[ip] & 0x0F) * 4
            let sp = Int(d[udp]) << 8 | Int(d[udp + 1]), dp = Int(d[udp + 2]) << 8 | Int(d[udp + 3])
            out.append((time, sp, dp, Array(d[min(udp + 8, i)..<i])))
        }
        return out
    }
}

/// A TCP connection to send raw bytes.
func tcpSend(_ bytes: [UInt8], port: Int, readTimeout: Duration = .seconds(2)) -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_addr.s_addr = inet_addr("127.0.0.1")
    a.sin_port = UInt16(port).bigEndian
    let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard r == 0 else { return "" }
    _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
    var tv = timeval(tv_sec: 0, tv_usec: 200_000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var out = [UInt8]()
    var buf = [UInt8](repeating: 0, count: 65536)
    let end = ContinuousClock.now + readTimeout
    while ContinuousClock.now < end {
        let n = recv(fd, &buf, buf.count, 0)
        if n > 0 { out += buf.prefix(n) } else if n == 0 { break }
    }
    return String(decoding: out, as: UTF8.self)
}

/// Kamailio from a configuration template, in a test folder: `@KEY@` placeholders replaced,
/// started with every signal unblocked (its timers run on SIGALRM), stopped with its workers
/// (found by the configuration's path). One helper for every suite that drives Kamailio.
final class KamailioProcess: @unchecked Sendable {
    let child: Child
    let config: URL

    init(_ kamailio: String, template: URL, values: [String: String], dir: URL) throws {
        var cfg = try String(contentsOf: template, encoding: .utf8)
        for (k, v) in values { cfg = cfg.replacingOccurrences(of: "@\(k)@", with: v) }
        config = dir.appendingPathComponent("kamailio.cfg")
        try cfg.write(to: config, atomically: true, encoding: .utf8)
        child = try Child.unblocked(kamailio, ["-f", config.path, "-DD", "-E", "-m", "64", "-M", "8",
                                               "-P", dir.appendingPathComponent("kamailio.pid").path, "-Y", dir.path],
                                    output: dir.appendingPathComponent("kamailio.log"))
    }

    var text: String { child.text }
    var isRunning: Bool { child.process.isRunning }

    func stop() {
        child.signal(SIGTERM)
        child.wait(timeout: .seconds(5))
        // (Output to /dev/null: the test folder may be gone by now.)
        _ = try? Child("/usr/bin/pkill", ["-KILL", "-f", config.path], output: URL(fileURLWithPath: "/dev/null")).wait(timeout: .seconds(5))
    }
}
