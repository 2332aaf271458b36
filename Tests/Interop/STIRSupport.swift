import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// Runs a command to its end (bounded) and returns its exit status and output.
func runProcess(_ args: [String], stdin: String? = nil) throws -> (status: Int32, out: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: args[0])
    p.arguments = Array(args.dropFirst())
    let out = Pipe(), inp = Pipe()
    p.standardOutput = out
    p.standardError = out
    p.standardInput = inp
    try p.run()
    if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
    try inp.fileHandleForWriting.close()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExitBounded()
    return (p.isRunning ? -1 : p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// POSTs `body` and returns the reply's body, trimmed ("" when none came in 6 s).
func httpPost(_ body: String, to url: String) -> String {
    var req = URLRequest(url: URL(string: url)!)
    req.httpMethod = "POST"
    req.httpBody = Data(body.utf8)
    req.timeoutInterval = 5
    let sem = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var text = ""
    URLSession.shared.dataTask(with: req) { d, _, _ in text = String(decoding: d ?? Data(), as: UTF8.self); sem.signal() }.resume()
    _ = sem.wait(timeout: .now() + 6)
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// The Identity header values of a SIP message as captured.
func identityFields(of message: String) -> [String] {
    message.split(separator: "\r\n").filter { $0.lowercased().hasPrefix("identity:") }
        .map { String($0.dropFirst("identity:".count)).trimmingCharacters(in: .whitespaces) }
}

/// A development PKI from `baton keys`, its chain served over HTTP on loopback (python3's
/// http.server) at the x5u the provider key signs with.
struct ServedPKI {
    let dir: URL
    let x5u: String
    let server: Child

    init(_ parent: URL, port: Int, python: String, name: String = "pki", spc: String = "1234") throws {
        dir = parent.appendingPathComponent(name)
        x5u = "http://127.0.0.1:\(port)/chain.pem"
        let made = try runProcess([Interop.batonBinary, "keys", "--dir", dir.path, "--x5u", x5u, "--spc", spc])
        #expect(made.status == 0, "baton keys: \(made.out)")
        server = try Child(python, ["-m", "http.server", "\(port)", "--bind", "127.0.0.1", "--directory", dir.path],
                           output: parent.appendingPathComponent("http-\(port).log"))
        let end = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < end, (try? Data(contentsOf: URL(string: x5u)!)) == nil { usleep(100_000) }
    }

    func path(_ file: String) -> String { dir.appendingPathComponent(file).path }

    /// An Identity value secsipidx signs with the provider key (attest A).
    func secsipidxSign(_ secsipidx: String, orig: String = "12025550101", dest: String = "12025550102",
                       x5u: String? = nil) throws -> String {
        let r = try runProcess([secsipidx, "-sign-full", "-k", path("sp-key.pem"), "-x5u", x5u ?? self.x5u,
                                "-o", orig, "-d", dest, "-a", "A"])
        #expect(r.status == 0, "secsipidx: \(r.out)")
        return r.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `baton identity verify` of these values against this PKI's root (or `root`).
    func batonVerify(_ values: [String], orig: String = "12025550101", dest: String, root: String? = nil) throws -> (status: Int32, out: String) {
        try runProcess([Interop.batonBinary, "identity", "verify", "--allow-http", "--trust", root ?? path("root.pem"),
                        "--orig", orig, "--dest", dest] + values.flatMap { ["--header", $0] })
    }
}

extension Process {
    /// Waits (polling, bounded) for a process whose output was already read to its end.
    func waitUntilExitBounded(_ timeout: Duration = .seconds(20)) {
        let end = ContinuousClock.now + timeout
        while isRunning && ContinuousClock.now < end { usleep(10_000) }
        if isRunning { terminate() }
    }
}
