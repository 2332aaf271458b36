import Foundation

/// A minimal W3C WebDriver client for chromedriver driving headless Chromium: enough to
/// open a page, type, click and read what the page shows.
final class WebDriver: @unchecked Sendable {
    let driver: Child
    let port: Int
    let curl: String
    private(set) var session = ""

    init(chromedriver: String, chromium: String, curl: String, port: Int, dir: URL) throws {
        self.port = port
        self.curl = curl
        driver = try Child(chromedriver, ["--port=\(port)"], output: dir.appendingPathComponent("chromedriver.log"))
        let end = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < end, (try? call("GET", "/status")) == nil { usleep(100_000) }
        let caps: [String: Any] = ["capabilities": ["alwaysMatch": ["goog:chromeOptions": [
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--user-data-dir=\(dir.appendingPathComponent("chromium-profile").path)"],
        ]]]]
        let reply = try call("POST", "/session", caps)
        guard let id = (reply as? [String: Any])?["sessionId"] as? String else {
            throw InteropError.http("chromedriver gave no session: \(reply ?? "nil")")
        }
        session = id
    }

    /// One WebDriver command; returns its `value`.
    @discardableResult
    func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) throws -> Any? {
        // curl rather than URLSession: FoundationNetworking fails on chromedriver's session
        // reply ("Failed writing header").
        var args = ["-s", "-m", "30", "-X", method, "http://127.0.0.1:\(port)\(path)"]
        if let body {
            args += ["-H", "Content-Type: application/json", "--data-binary",
                     String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)]
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: curl)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExitBounded(.seconds(35))
        guard p.terminationStatus == 0, !data.isEmpty else { throw InteropError.http("chromedriver \(method) \(path): curl exit \(p.terminationStatus)") }
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        if let v = json?["value"] as? [String: Any], let e = v["error"] as? String {
            throw InteropError.http("webdriver \(method) \(path): \(e): \(v["message"] ?? "")")
        }
        return json?["value"]
    }

    func open(_ url: String) throws { try call("POST", "/session/\(session)/url", ["url": url]) }

    func element(_ css: String) throws -> String {
        let v = try call("POST", "/session/\(session)/element", ["using": "css selector", "value": css]) as? [String: Any]
        guard let id = v?.values.first as? String else { throw InteropError.http("no element \(css)") }
        return id
    }

    func type(_ css: String, _ text: String) throws {
        let e = try element(css)
        try call("POST", "/session/\(session)/element/\(e)/clear", [:])
        try call("POST", "/session/\(session)/element/\(e)/value", ["text": text])
    }

    func click(_ css: String) throws { try call("POST", "/session/\(session)/element/\(try element(css))/click", [:]) }

    func text(_ css: String) throws -> String {
        (try call("GET", "/session/\(session)/element/\(try element(css))/text") as? String) ?? ""
    }

    /// Polls an element's text until `match` holds (pages update asynchronously).
    func waitForText(_ css: String, timeout: Duration = .seconds(10), _ match: (String) -> Bool) -> String {
        let end = ContinuousClock.now + timeout
        var last = ""
        repeat {
            last = (try? text(css)) ?? ""
            if match(last) { return last }
            usleep(100_000)
        } while ContinuousClock.now < end
        return last
    }

    func quit() {
        if !session.isEmpty { _ = try? call("DELETE", "/session/\(session)") }
        driver.signal(SIGTERM)
        driver.wait(timeout: .seconds(5))
    }
}
