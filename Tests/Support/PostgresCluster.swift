import Foundation

/// A private PostgreSQL cluster for a test (tools/pg-cluster.sh): its own folder under the
/// temporary directory, a loopback port, database and role `baton`. `stop()` ends it; the
/// folder is removed.
///
/// ```swift
/// guard let pg = try PostgresCluster.start(tag: "store") else { return }   // nil: PostgreSQL missing
/// defer { pg.stop() }
/// let store = try await PostgresStore.open(url: pg.url, logger: logger)
/// ```
public final class PostgresCluster: Sendable {
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    public let dir: URL
    public let port: Int
    public let url: String

    /// Whether Debian's PostgreSQL server is installed.
    public static var isInstalled: Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).contains {
            FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\($0)/bin/pg_ctl")
        }
    }

    /// A started cluster, or nil when PostgreSQL is not installed.
    public static func start(tag: String, port: Int? = nil) throws -> PostgresCluster? {
        guard isInstalled else { return nil }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("baton-pg-\(tag)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let port = port ?? TestPorts.base(2)
        let out = try script(["start", dir.appendingPathComponent("c").path, "\(port)"])
        guard out.status == 0, let url = out.text.split(separator: "\n").last.map(String.init), url.hasPrefix("postgres://") else {
            throw PostgresClusterError(message: "tools/pg-cluster.sh start failed: \(out.text)")
        }
        return PostgresCluster(dir: dir, port: port, url: url)
    }

    /// A started cluster for a test, or nil after saying why not: PostgreSQL missing is an
    /// error under CI=true (the test fails) and a `SKIPPED:` line elsewhere.
    public static func forTest(_ tag: String) throws -> PostgresCluster? {
        if let pg = try start(tag: tag) { return pg }
        let msg = "interop peer 'postgres' is missing (Debian package postgresql); install it with tools/install-deps.sh --test"
        if ProcessInfo.processInfo.environment["CI"] == "true" { throw PostgresClusterError(message: msg) }
        print("SKIPPED: \(msg)")
        return nil
    }

    init(dir: URL, port: Int, url: String) { self.dir = dir; self.port = port; self.url = url }

    /// Stops the server (fast shutdown) and removes the folder.
    public func stop() {
        _ = try? Self.script(["stop", dir.appendingPathComponent("c").path])
        try? FileManager.default.removeItem(at: dir)
    }

    /// Stops the server, keeping its data (an outage); `restart()` brings it back.
    public func pause(immediate: Bool = false) {
        _ = try? Self.script([immediate ? "kill" : "stop", dir.appendingPathComponent("c").path])
    }

    public func restart() throws {
        let out = try Self.script(["start", dir.appendingPathComponent("c").path, "\(port)"])
        guard out.status == 0 else { throw PostgresClusterError(message: "restart failed: \(out.text)") }
    }

    /// Runs a statement with psql as the superuser; its output.
    public func psql(_ sql: String) throws -> String {
        let out = try Self.run("/usr/bin/psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "baton", "-d", "baton", "-tAc", sql])
        guard out.status == 0 else { throw PostgresClusterError(message: "psql: \(out.text)") }
        return out.text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// tools/pg-cluster.sh, with every signal unblocked (the test runner's threads block
    /// SIGALRM and others, and a child inherits the mask; PostgreSQL times its work with them).
    static func script(_ args: [String]) throws -> (status: Int32, text: String) {
        try run(packageRoot.appendingPathComponent("tools/pg-cluster.sh").path, args)
    }

    /// posix_spawn with an empty signal mask and default handlers, output to a file, reaped
    /// with waitpid (Foundation's Process did not always see this script exit). Bounded: 60 s.
    static func run(_ path: String, _ args: [String]) throws -> (status: Int32, text: String) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("baton-pgrun-\(UUID().uuidString.prefix(8)).log")
        defer { try? FileManager.default.removeItem(at: log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t(); sigemptyset(&none)
        var all = sigset_t(); sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([path] + args).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attr, argv, environ)
        guard rc == 0 else { throw PostgresClusterError(message: "cannot run \(path): errno \(rc)") }
        var status: Int32 = 0
        let end = Date().addingTimeInterval(60)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > end { kill(pid, SIGKILL); _ = waitpid(pid, &status, 0); return (-1, "timed out") }
            usleep(20_000)
        }
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let exited = status & 0x7f == 0
        return (exited ? (status >> 8) & 0xff : -1, text)
    }
}

public struct PostgresClusterError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
