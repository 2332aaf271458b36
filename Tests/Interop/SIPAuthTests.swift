import Foundation
import Store
import Testing

/// SIP digest authentication with real peers (issue 19): sipp registers with digest and
/// calls through Baton (the INVITE challenged with 407 first); a wrong password is refused
/// with 401 and binds nothing; an INVITE without credentials makes no call.
@Suite(.serialized) struct SIPAuthTests {
    /// One sipp scenario run toward Baton's SIP port; exit status and output.
    static func sippRun(_ sipp: String, _ scenario: String, _ args: [String], to sipPort: Int, dir: URL, name: String) throws -> (Int32?, String) {
        let c = try Child(sipp, ["-sf", scenario, "-i", "127.0.0.1", "-m", "1", "-nostdin", "-timeout", "15s"] + args
                          + ["127.0.0.1:\(sipPort)"], cwd: dir, output: dir.appendingPathComponent("\(name).log"))
        return (c.wait(timeout: .seconds(20)), c.text)
    }

    /// `baton users add` into the store the gateway will use.
    static func addUser(_ name: String, password: String, dir: URL, store: String) throws {
        let add = try Child(Interop.batonBinary, ["users", "add", name, "--password", password, "--config", "/dev/null",
                                                   "--store-path", store, "--auth-realm", "baton.test"],
                            output: dir.appendingPathComponent("users-\(name).log"))
        let status = add.wait(timeout: .seconds(20))
        #expect(status == 0, "baton users add \(name): \(add.text)")
    }

    @Test func sippRegistersAndCallsWithDigestAndAWrongPasswordIsRefused() async throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester") else { return }
        let dir = try Interop.tempDir("sip-auth")
        for f in ["reg-auth.xml", "reg-auth-wrong.xml", "uac-auth.xml", "uas-carol.xml"] {
            try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        let store = dir.appendingPathComponent("baton.sqlite").path
        try Self.addUser("bob", password: "bob-pw-1", dir: dir, store: store)
        try Self.addUser("alice", password: "alice-pw-1", dir: dir, store: store)
        let (sipPort, bobPort, alicePort) = (26160, 26180, 26190)
        let baton = try BatonProcess(sipPort: sipPort, httpPort: 28160, rtpMin: 22400, dir: dir,
                                     extra: ["--auth-sip", "true", "--auth-realm", "baton.test", "--auth-max-failures", "20"])
        // The password is never stored: only its HA1s (MD5, SHA-256).
        let stored = try await Store(path: store).sipUsers()
        #expect(stored.map(\.user) == ["alice", "bob"])
        #expect(stored.allSatisfy { $0.ha1MD5.count == 32 && $0.ha1SHA256.count == 64 })
        let raw = try Data(contentsOf: URL(fileURLWithPath: store))
        #expect(raw.range(of: Data("bob-pw-1".utf8)) == nil, "the plain password must not be in the database")

        func sippRun(_ scenario: String, _ args: [String], name: String) throws -> (Int32?, String) {
            try Self.sippRun(sipp, scenario, args, to: sipPort, dir: dir, name: name)
        }

        // A wrong password: challenged, then refused again (401); nothing bound.
        let (wrong, wrongLog) = try sippRun("reg-auth-wrong.xml", ["-p", "\(bobPort)", "-s", "bob", "-au", "bob", "-ap", "guess"], name: "reg-wrong")
        #expect(wrong == 0, "wrong password should get 401 twice:\n\(wrongLog)")
        // The right one binds bob's AOR.
        let (right, rightLog) = try sippRun("reg-auth.xml", ["-p", "\(bobPort)", "-s", "bob", "-au", "bob", "-ap", "bob-pw-1"], name: "reg-right")
        #expect(right == 0, "digest REGISTER should succeed:\n\(rightLog)")
        // alice's credentials may not bind bob's AOR (403 after the challenge).
        let (stolen, stolenLog) = try sippRun("reg-auth.xml", ["-p", "\(alicePort)", "-s", "bob", "-au", "alice", "-ap", "alice-pw-1"], name: "reg-stolen")
        #expect(stolen != 0, "alice registering bob must be refused:\n\(stolenLog)")
        try await Task.sleep(for: .milliseconds(300))   // the store writer's commit window
        let regs = try await Store(path: store).registrations(validAt: Date().timeIntervalSince1970)
        #expect(regs.map { "\($0.aor) \($0.contact)" } == ["bob@127.0.0.1 sip:bob@127.0.0.1:\(bobPort)"], "\(regs)")

        // alice calls bob: 407, then the authenticated INVITE reaches bob's registered contact.
        let uas = try Child(sipp, ["-sf", "uas-carol.xml", "-i", "127.0.0.1", "-p", "\(bobPort)", "-m", "1", "-nostdin",
                                   "-timeout", "20s"], cwd: dir, output: dir.appendingPathComponent("uas.log"))
        usleep(300_000)
        let (call, callLog) = try sippRun("uac-auth.xml", ["-p", "\(alicePort)", "-s", "bob", "-au", "alice", "-ap", "alice-pw-1"], name: "uac")
        let uasStatus = uas.wait(timeout: .seconds(10))
        #expect(call == 0, "authenticated call should complete:\n\(callLog)")
        #expect(uasStatus == 0, "bob's UAS:\n\(uas.text)")
        let list = try #require(try baton.json("/calls") as? [String: Any])
        let ended = try #require(list["ended"] as? [[String: Any]])
        #expect(ended.count == 1, "only the authenticated INVITE made a call: \(ended.count)")
        #expect(ended.first?["answered"] != nil)
        let metrics = String(decoding: try baton.get("/metrics").1, as: UTF8.self)
        #expect(metrics.contains("baton_sip_auth_failures_total"), "failures are counted")
    }

    /// baresip (libre) registers and calls with digest (MD5, the default: Debian's libre 1.1
    /// fails a registration when any challenge is not MD5, so SHA-256 is opt-in); a baresip
    /// with a wrong password never gets bound and is blocked after its retries.
    @Test func baresipRegistersAndCallsWithDigest() async throws {
        guard let baresip = Interop.requirePeer("baresip", package: "baresip-core") else { return }
        let dir = try Interop.tempDir("baresip-auth")
        let store = dir.appendingPathComponent("baton.sqlite").path
        try Self.addUser("callee", password: "callee-pw", dir: dir, store: store)
        try Self.addUser("caller", password: "caller-pw", dir: dir, store: store)
        try Self.addUser("mallory", password: "right-pw", dir: dir, store: store)
        let tone = dir.appendingPathComponent("tone.wav")
        try BaresipCallTests.writeTone(tone, seconds: 30)
        let baton = try BatonProcess(sipPort: 26260, httpPort: 28260, rtpMin: 22600, dir: dir,
                                     extra: ["--auth-sip", "true", "--auth-realm", "baton.test"])
        try BaresipCallTests.configure(dir.appendingPathComponent("callee"), sip: 26270, rtp: 30200...30219, tone: tone,
                                       account: "<sip:callee@127.0.0.1:26260>;auth_pass=callee-pw;regint=60;answermode=auto;audio_codecs=PCMU")
        try BaresipCallTests.configure(dir.appendingPathComponent("mallory"), sip: 26275, rtp: 30240...30259, tone: tone,
                                       account: "<sip:mallory@127.0.0.1:26260>;auth_pass=wrong-pw;regint=60;audio_codecs=PCMU")
        try BaresipCallTests.configure(dir.appendingPathComponent("caller"), sip: 26280, rtp: 30220...30239, tone: tone,
                                       account: "<sip:caller@127.0.0.1:26260>;auth_pass=caller-pw;regint=0;audio_codecs=PCMU")
        let callee = try Child(baresip, ["-f", dir.appendingPathComponent("callee").path, "-t", "14"],
                               output: dir.appendingPathComponent("callee.log"))
        let mallory = try Child(baresip, ["-f", dir.appendingPathComponent("mallory").path, "-t", "6"],
                                output: dir.appendingPathComponent("mallory.log"))
        var bound: [String] = []
        let end = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < end, !bound.contains("callee@127.0.0.1") {
            usleep(200_000)
            bound = try await Store(path: store).registrations(validAt: Date().timeIntervalSince1970).map(\.aor)
        }
        #expect(bound.contains("callee@127.0.0.1"), "callee never registered:\n\(callee.text)")

        let caller = try Child(baresip, ["-f", dir.appendingPathComponent("caller").path, "-t", "6",
                                         "-e", "/dial sip:callee@127.0.0.1:26260"],
                               output: dir.appendingPathComponent("caller.log"))
        #expect(caller.wait(timeout: .seconds(20)) == 0)
        mallory.wait(timeout: .seconds(10))
        callee.signal(SIGTERM)
        callee.wait(timeout: .seconds(5))
        #expect(caller.text.contains("Call established"), "caller log:\n\(caller.text)")
        let calls = try #require((try baton.json("/calls") as? [String: Any])?["ended"] as? [[String: Any]])
        #expect(calls.count == 1 && calls.first?["answered"] != nil, "\(calls)")
        let regs = try await Store(path: store).registrations(validAt: Date().timeIntervalSince1970).map(\.aor)
        #expect(!regs.contains("mallory@127.0.0.1"), "a wrong password bound its AOR: \(regs)")
        // libre answers every 401 with the same wrong password: Baton blocks it after
        // auth.max_failures (5) and says so.
        #expect(mallory.text.contains("403 Too many failed authentications"), "mallory log:\n\(mallory.text)")
        let metrics = String(decoding: try baton.get("/metrics").1, as: UTF8.self)
        #expect(metrics.contains("baton_sip_auth_blocked_total"), "the block is counted")
    }

    /// `serve` on a public address without authentication refuses to start, naming why; with
    /// `--insecure` it starts (and warns).
    @Test func anUnauthenticatedPublicListenerRefusesToStart() throws {
        let dir = try Interop.tempDir("exposed")
        let args = ["serve", "--config", "/dev/null", "--sip-host", "0.0.0.0", "--sip-port", "26360", "--http-port", "28360",
                    "--ng-port", "26365", "--media-port-min", "22800", "--media-port-max", "22999",
                    "--store-path", dir.appendingPathComponent("baton.sqlite").path]
        let refused = try Child(Interop.batonBinary, args, output: dir.appendingPathComponent("refused.log"))
        let status = refused.wait(timeout: .seconds(15))
        #expect(status != nil && status != 0, "serve should refuse: \(refused.text)")
        #expect(refused.text.contains("refusing to start") && refused.text.contains("auth.sip"), "\(refused.text)")
        let insecure = try Child(Interop.batonBinary, args + ["--insecure"], output: dir.appendingPathComponent("insecure.log"))
        let end = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < end && !insecure.text.contains("SIP listening") && insecure.process.isRunning { usleep(100_000) }
        #expect(insecure.text.contains("unauthenticated listeners off loopback"), "\(insecure.text)")
        insecure.signal(SIGTERM)
        #expect(insecure.wait(timeout: .seconds(15)) == 0, "\(insecure.text)")
    }

    /// The far party (authenticated as itself) REFERs the call to a premium number: 403, the
    /// call goes on untouched and ends with the caller's BYE; nothing is dialled.
    @Test func aFarPartysReferToAnOutsideNumberIsRefused() async throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester") else { return }
        let dir = try Interop.tempDir("refer-auth")
        for f in ["reg-auth.xml", "uac-auth-refer.xml", "uas-carol.xml"] {
            try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        let store = dir.appendingPathComponent("baton.sqlite").path
        try Self.addUser("bob", password: "bob-pw-1", dir: dir, store: store)
        try Self.addUser("alice", password: "alice-pw-1", dir: dir, store: store)
        let (sipPort, bobPort, alicePort) = (26460, 26480, 26490)
        let baton = try BatonProcess(sipPort: sipPort, httpPort: 28460, rtpMin: 23000, dir: dir,
                                     extra: ["--auth-sip", "true", "--auth-realm", "baton.test"])
        func sippRun(_ scenario: String, _ args: [String], name: String) throws -> (Int32?, String) {
            try Self.sippRun(sipp, scenario, args, to: sipPort, dir: dir, name: name)
        }
        let (reg, regLog) = try sippRun("reg-auth.xml", ["-p", "\(bobPort)", "-s", "bob", "-au", "bob", "-ap", "bob-pw-1"], name: "reg")
        #expect(reg == 0, "\(regLog)")
        let uas = try Child(sipp, ["-sf", "uas-carol.xml", "-i", "127.0.0.1", "-p", "\(bobPort)", "-m", "1", "-nostdin",
                                   "-timeout", "20s"], cwd: dir, output: dir.appendingPathComponent("uas.log"))
        usleep(300_000)
        let (call, callLog) = try sippRun("uac-auth-refer.xml", ["-p", "\(alicePort)", "-s", "bob", "-au", "alice", "-ap", "alice-pw-1"], name: "uac")
        let uasStatus = uas.wait(timeout: .seconds(10))
        #expect(call == 0, "the REFER should get 403 and the call end normally:\n\(callLog)")
        #expect(uasStatus == 0, "bob's call went on to the caller's BYE:\n\(uas.text)")
        let ended = try #require((try baton.json("/calls") as? [String: Any])?["ended"] as? [[String: Any]])
        #expect(ended.count == 1, "no call was placed to the REFER target: \(ended.count)")
        #expect(ended.first?["hungUpBy"] as? String == "caller")
        let metrics = String(decoding: try baton.get("/metrics").1, as: UTF8.self)
        #expect(metrics.contains("baton_call_moves_refused_total 1"), "the refusal is counted")
        #expect(baton.child.text.contains("call move refused"), "and logged")
    }
}

/// A stranger's INVITE with Replaces (issue 19): mallory has credentials of its own and
/// learnt the dialog of alice's call to bob; its INVITE with Replaces naming bob's leg gets
/// 403, and the call goes on untouched to alice's normal hang-up.
@Suite(.serialized) struct ReplacesAuthTests {
    @Test func aStrangersInviteWithReplacesIsRefused() async throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester") else { return }
        let dir = try Interop.tempDir("replaces-auth")
        for f in ["reg-auth.xml", "uac-auth-long.xml", "uac-auth-replaces.xml", "uas-carol.xml"] {
            try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        let store = dir.appendingPathComponent("baton.sqlite").path
        for (u, p) in [("bob", "bob-pw-1"), ("alice", "alice-pw-1"), ("mallory", "mallory-pw-1")] {
            try SIPAuthTests.addUser(u, password: p, dir: dir, store: store)
        }
        let (sipPort, bobPort, alicePort, malloryPort) = (27110, 27120, 27130, 27140)
        let baton = try BatonProcess(sipPort: sipPort, httpPort: 29110, rtpMin: 28100, dir: dir,
                                     extra: ["--auth-sip", "true", "--auth-realm", "baton.test"])
        defer { _ = baton.stop() }
        let (reg, regLog) = try SIPAuthTests.sippRun(sipp, "reg-auth.xml", ["-p", "\(bobPort)", "-s", "bob", "-au", "bob", "-ap", "bob-pw-1"],
                                                     to: sipPort, dir: dir, name: "reg")
        #expect(reg == 0, "\(regLog)")
        let uas = try Child(sipp, ["-sf", "uas-carol.xml", "-i", "127.0.0.1", "-p", "\(bobPort)", "-m", "1", "-nostdin",
                                   "-timeout", "25s"], cwd: dir, output: dir.appendingPathComponent("uas.log"))
        defer { uas.signal(SIGKILL) }
        usleep(300_000)
        let alice = try Child(sipp, ["-sf", "uac-auth-long.xml", "-i", "127.0.0.1", "-p", "\(alicePort)", "-m", "1", "-nostdin",
                                     "-timeout", "25s", "-s", "bob", "-au", "alice", "-ap", "alice-pw-1", "127.0.0.1:\(sipPort)"],
                              cwd: dir, output: dir.appendingPathComponent("alice.log"))
        defer { alice.signal(SIGKILL) }
        // The answered call's leg toward bob, as the API shows it.
        var dialog: [String: Any]?
        let end = ContinuousClock.now + .seconds(8)
        while ContinuousClock.now < end, dialog == nil {
            let active = (try? baton.json("/calls") as? [String: Any])?["active"] as? [[String: Any]]
            let leg = (active?.first?["legs"] as? [[String: Any]])?.first { $0["side"] as? String == "callee" }
            dialog = leg?["dialog"] as? [String: Any]
            if dialog == nil { usleep(100_000) }
        }
        let d = try #require(dialog, "the call was never answered:\n\(alice.text)")
        let callID = try #require(d["callID"] as? String), local = try #require(d["localTag"] as? String)
        let remote = try #require(d["remoteTag"] as? String)
        let (stranger, strangerLog) = try SIPAuthTests.sippRun(sipp, "uac-auth-replaces.xml",
                                                               ["-p", "\(malloryPort)", "-s", "bob", "-au", "mallory", "-ap", "mallory-pw-1",
                                                                "-key", "rcallid", callID, "-key", "rtotag", local, "-key", "rfromtag", remote],
                                                               to: sipPort, dir: dir, name: "mallory")
        #expect(stranger == 0, "the Replaces should get 403:\n\(strangerLog)")
        #expect(alice.wait(timeout: .seconds(15)) == 0, "alice's call went on to her own BYE:\n\(alice.text)")
        #expect(uas.wait(timeout: .seconds(10)) == 0, "bob kept the call until alice's BYE:\n\(uas.text)")
        let ended = try #require((try baton.json("/calls") as? [String: Any])?["ended"] as? [[String: Any]])
        #expect(ended.count == 1 && ended.first?["hungUpBy"] as? String == "caller", "\(ended)")
        let metrics = String(decoding: try baton.get("/metrics").1, as: UTF8.self)
        #expect(metrics.contains("baton_call_moves_refused_total 1"), "the refusal is counted")
    }
}

/// `baton tokens` and `baton users` against a running gateway: a new token works, a revoked
/// one stops, a new user can register, all within seconds and without a restart.
@Suite(.serialized) struct CredentialChangeTests {
    static func run(_ args: [String], dir: URL, name: String) throws -> (Int32?, String) {
        let c = try Child(Interop.batonBinary, args, output: dir.appendingPathComponent("\(name).log"))
        return (c.wait(timeout: .seconds(20)), c.text)
    }

    @Test func tokensAndUsersTakeEffectInARunningGateway() async throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester") else { return }
        let dir = try Interop.tempDir("credentials")
        try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent("reg-auth.xml"), to: dir.appendingPathComponent("reg-auth.xml"))
        let baton = try BatonProcess(sipPort: 26660, httpPort: 28660, rtpMin: 23400, dir: dir,
                                     extra: ["--auth-sip", "true", "--auth-realm", "baton.test", "--http-auth", "true"])
        let common = ["--config", "/dev/null", "--store-path", baton.storePath, "--auth-realm", "baton.test"]
        #expect(try baton.request("GET", "/calls").0 == 401, "no token, no API")
        #expect(try baton.request("GET", "/healthz").0 == 200)
        let (made, out) = try Self.run(["tokens", "create", "--name", "grafana", "--role", "read-only"] + common, dir: dir, name: "create")
        #expect(made == 0, "\(out)")
        let token = try #require(out.split(separator: "\n").first { $0.hasPrefix("bt_") }.map(String.init), "\(out)")
        func status(_ t: String) throws -> Int { try baton.request("GET", "/calls", headers: ["Authorization": "Bearer \(t)"]).0 }
        func within(_ seconds: Int, _ check: () throws -> Bool) rethrows -> Bool {
            let end = ContinuousClock.now + .seconds(seconds)
            while ContinuousClock.now < end { if try check() { return true }; usleep(200_000) }
            return try check()
        }
        #expect(try within(5) { try status(token) == 200 }, "the new token works without a restart")
        #expect(try baton.request("POST", "/calls/x/data", body: Data("{}".utf8), headers: ["Authorization": "Bearer \(token)"]).0 == 403,
                "read-only may not write")
        let id = try #require(token.split(separator: "_").dropFirst().first.map(String.init))
        #expect(try Self.run(["tokens", "revoke", id] + common, dir: dir, name: "revoke").0 == 0)
        #expect(try within(5) { try status(token) == 401 }, "the revoked token stops working")
        // A user added while the gateway runs can register.
        #expect(try Self.run(["users", "add", "carol", "--password", "carol-pw"] + common, dir: dir, name: "users").0 == 0)
        let registered = try await Task { () -> Bool in
            let end = ContinuousClock.now + .seconds(8)
            while ContinuousClock.now < end {
                let c = try Child(sipp, ["-sf", "reg-auth.xml", "-i", "127.0.0.1", "-p", "26680", "-m", "1", "-nostdin", "-timeout", "5s",
                                         "-s", "carol", "-au", "carol", "-ap", "carol-pw", "127.0.0.1:26660"],
                                  cwd: dir, output: dir.appendingPathComponent("reg.log"))
                if c.wait(timeout: .seconds(8)) == 0 { return true }
                try await Task.sleep(for: .milliseconds(500))
            }
            return false
        }.value
        #expect(registered, "carol registers without a restart")
    }
}

/// SIP over TLS (issue 19): two baresips register and call through Baton over TLS with
/// SRTP (SDES keys inside the encrypted signaling); a capture of the TLS port holds no SIP
/// text and no key.
@Suite(.serialized) struct SIPTLSTests {
    @Test func baresipCallsOverTLSWithSRTPAndNothingCrossesInClear() async throws {
        guard let baresip = Interop.requirePeer("baresip", package: "baresip-core"),
              let tcpdump = Interop.requirePeer("tcpdump", package: "tcpdump") else { return }
        let dir = try Interop.tempDir("sip-tls")
        let keys = try Child(Interop.batonBinary, ["keys", "--tls", "--dir", dir.appendingPathComponent("pki").path],
                             output: dir.appendingPathComponent("keys.log"))
        #expect(keys.wait(timeout: .seconds(20)) == 0, "\(keys.text)")
        let cert = dir.appendingPathComponent("pki/tls-cert.pem").path, key = dir.appendingPathComponent("pki/tls-key.pem").path
        let tlsPort = 26561
        let baton = try BatonProcess(sipPort: 26560, httpPort: 28560, rtpMin: 23200, dir: dir,
                                     extra: ["--sip-tls-port", "\(tlsPort)", "--sip-tls-cert", cert, "--sip-tls-key", key])
        let capture = dir.appendingPathComponent("tls.pcap")
        let dump = try Child(tcpdump, ["-i", "lo", "-n", "-U", "-s", "0", "-w", capture.path, "tcp port \(tlsPort)"],
                             output: dir.appendingPathComponent("tcpdump.log"))
        let ready = ContinuousClock.now + .seconds(5)
        while !dump.text.contains("listening on") && ContinuousClock.now < ready { usleep(50_000) }
        // A client hello of garbage: that connection is dropped, the listener goes on.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET); addr.sin_port = UInt16(tlsPort).bigEndian; addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(connected == 0)
        let garbage = [UInt8](repeating: 0x16, count: 5) + Array("INVITE sip:x SIP/2.0\r\n\r\n".utf8) + [UInt8](repeating: 0xff, count: 4000)
        _ = garbage.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var tv = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buf = [UInt8](repeating: 0, count: 512)
        var n = 1
        let closedBy = ContinuousClock.now + .seconds(3)
        while n > 0 && ContinuousClock.now < closedBy { n = read(fd, &buf, buf.count) }
        #expect(n <= 0, "Baton closes a connection whose TLS is garbage")
        close(fd)
        let tone = dir.appendingPathComponent("tone.wav")
        try BaresipCallTests.writeTone(tone, seconds: 30)
        for (name, sip, rtp) in [("callee", 26570, 30300...30319), ("caller", 26580, 30320...30339)] {
            let d = dir.appendingPathComponent(name)
            let reg = name == "callee" ? "regint=60;answermode=auto" : "regint=0"
            try BaresipCallTests.configure(d, sip: sip, rtp: rtp, tone: tone,
                                           account: "<sip:\(name)@127.0.0.1:\(tlsPort);transport=tls>;\(reg);audio_codecs=PCMU;mediaenc=srtp-mand")
            let config = try String(contentsOf: d.appendingPathComponent("config"), encoding: .utf8)
            try (config + "sip_cafile \(cert)\nmodule srtp.so\n").write(to: d.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        }
        let callee = try Child(baresip, ["-f", dir.appendingPathComponent("callee").path, "-t", "14"], output: dir.appendingPathComponent("callee.log"))
        var bound: [String] = []
        let end = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < end, bound.isEmpty {
            usleep(200_000)
            bound = try await Store(path: baton.storePath).registrations(validAt: Date().timeIntervalSince1970)
                .filter { $0.transport == "tls" }.map(\.aor)
        }
        #expect(bound == ["callee@127.0.0.1"], "callee never registered over TLS:\n\(callee.text)")
        let caller = try Child(baresip, ["-f", dir.appendingPathComponent("caller").path, "-t", "6",
                                         "-e", "/dial sip:callee@127.0.0.1:\(tlsPort);transport=tls"],
                               output: dir.appendingPathComponent("caller.log"))
        #expect(caller.wait(timeout: .seconds(20)) == 0)
        let sumEnd = ContinuousClock.now + .seconds(5)
        while BaresipCallTests.packets(callee.text) == nil && ContinuousClock.now < sumEnd { usleep(100_000) }
        callee.signal(SIGTERM)
        callee.wait(timeout: .seconds(5))
        dump.signal(SIGINT)
        dump.wait(timeout: .seconds(5))
        #expect(caller.text.contains("Call established"), "caller log:\n\(caller.text)")
        let callerCount = try #require(BaresipCallTests.packets(caller.text), "no RTP summary from the caller:\n\(caller.text)")
        #expect(callerCount.tx > 100 && callerCount.rx > 100, "media flowed both ways: \(callerCount)")
        let calls = try #require((try baton.json("/calls") as? [String: Any])?["ended"] as? [[String: Any]])
        let legs = try #require(calls.first?["legs"] as? [[String: Any]])
        #expect(legs.allSatisfy { ($0["signaling"] as? String)?.hasPrefix("tls:") == true }, "both legs signalled over TLS: \(legs)")
        // What crossed the TLS port: encrypted, no SIP text, no SDES key.
        let raw = try Data(contentsOf: capture)
        #expect(raw.count > 2000, "the capture saw the TLS traffic (\(raw.count) bytes)")
        // (The garbage probe above wrote "INVITE sip:x" itself: look for Baton's and the phones' text.)
        for clear in ["INVITE sip:callee", "REGISTER sip:", "a=crypto:", "SIP/2.0 200"] {
            #expect(raw.range(of: Data(clear.utf8)) == nil, "'\(clear)' crossed the TLS port in clear")
        }
    }
}
