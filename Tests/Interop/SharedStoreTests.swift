import Foundation
import Testing

/// Two gateways on one PostgreSQL (issue 21): a private cluster (tools/pg-cluster.sh) on a
/// loopback port, two `baton serve` processes with the same `store.url`, real sipp peers.
/// What one gateway learns (a registration, a device, an agent and its logins, call data and
/// its key) the other uses at once (LISTEN/NOTIFY); while PostgreSQL is stopped a live call
/// keeps its media, new calls get 503, and the call's records land once it is back.
@Suite(.serialized) struct SharedStoreTests {
    static func cluster(_ tag: String) throws -> PostgresCluster? { try PostgresCluster.forTest(tag) }

    static func put(_ b: BatonProcess, _ path: String, _ body: [String: Any]) throws -> Int {
        try b.request("PUT", path, body: try JSONSerialization.data(withJSONObject: body)).0
    }

    @Test func twoGatewaysShareRegistrationsAgentsKeysAndOutliveAnOutage() async throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester") else { return }
        guard let pg = try Self.cluster("shared") else { return }
        defer { pg.stop() }
        let dir = try Interop.tempDir("shared-store")
        for f in ["reg-speaker.xml", "uas-speaker.xml", "uac-caller.xml", "rtp-far.pcap", "rtp-speaker.pcap"] {
            try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        // A dialog-event watcher of the speaker's user (sub-dialog.xml watches alice).
        try String(contentsOf: Interop.fixtures.appendingPathComponent("sub-dialog.xml"), encoding: .utf8)
            .replacingOccurrences(of: "alice", with: "kitchen").write(to: dir.appendingPathComponent("sub-kitchen.xml"), atomically: true, encoding: .utf8)
        var gw: [BatonProcess] = []
        for i in 0..<2 {
            let d = dir.appendingPathComponent("gw\(i)")
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            gw.append(try BatonProcess(sipPort: 27800 + i * 10, httpPort: 29800 + i * 10, rtpMin: 25800 + i * 200, dir: d,
                                       extra: ["--store-url", pg.url, "--store-timeout-ms", "1000", "--route", "^bob$=127.0.0.1:27823"]))
        }
        defer { for g in gw { _ = g.stop() } }
        let (a, b) = (gw[0], gw[1])

        // A device put on A and a speaker registered at A: B knows both.
        #expect(try Self.put(a, "/users/alice/devices/kitchen", ["aor": "kitchen@127.0.0.1", "kind": "speaker"]) == 200)
        let reg = try Child(sipp, ["-sf", "reg-speaker.xml", "-i", "127.0.0.1", "-p", "27821", "127.0.0.1:\(a.sipPort)", "-s", "kitchen",
                                   "-m", "1", "-nostdin", "-timeout", "10s"], cwd: dir, output: dir.appendingPathComponent("reg.log"))
        #expect(reg.wait(timeout: .seconds(10)) == 0, "\(reg.text)")
        let seenOnB = waitUntil(.seconds(3)) {
            let s = (try? b.json("/users/alice/speakers")) as? [[String: Any]] ?? []
            return s.contains { ($0["device"] as? [String: Any])?["id"] as? String == "kitchen" && $0["registered"] as? Bool == true }
        }
        #expect(seenOnB, "B does not see the device and registration made at A: \((try? b.json("/users/alice/speakers")) ?? "-")")

        // A call entering at B reaches the speaker registered through A, media anchored at B.
        let speaker = try Child(sipp, ["-sf", "uas-speaker.xml", "-i", "127.0.0.1", "-p", "27821", "-mi", "127.0.0.1", "-mp", "32800",
                                       "-m", "1", "-nostdin", "-timeout", "30s"], cwd: dir, output: dir.appendingPathComponent("speaker.log"))
        defer { speaker.signal(SIGKILL) }
        usleep(200_000)
        let caller = try Child(sipp, ["-sf", "uac-caller.xml", "-i", "127.0.0.1", "-p", "27822", "-mi", "127.0.0.1", "-mp", "32810",
                                      "-s", "kitchen", "-d", "6000", "-m", "1", "-nostdin", "-timeout", "30s", "127.0.0.1:\(b.sipPort)"],
                               cwd: dir, output: dir.appendingPathComponent("caller.log"))
        var callID: String?
        _ = waitUntil(.seconds(5)) {
            let live = ((try? b.json("/calls")) as? [String: Any])?["active"] as? [[String: Any]] ?? []
            callID = live.first { $0["answered"] != nil }?["id"] as? String
            return callID != nil
        }
        let id = try #require(callID, "the call through B was not answered:\n\(caller.text)")

        // Call data and its key made on B (the anchoring gateway) are redeemed on A.
        let (dataCode, _) = try b.post("/calls/\(id)/data", json: ["fields": ["account": "4711"]])
        #expect(dataCode == 200)
        let (keyCode, key) = try b.post("/calls/\(id)/keys", json: ["ttl_s": 300])
        #expect(keyCode == 201)
        let k = try #require(key["key"] as? String)
        let redeemed = try a.request("GET", "/call-keys/\(k)")
        #expect(redeemed.0 == 200, "A cannot redeem B's key: \(String(decoding: redeemed.1, as: UTF8.self))")
        #expect(String(decoding: redeemed.1, as: UTF8.self).contains("4711"))

        // Any gateway answers for any call: A forwards requests about B's call to B.
        // (The anchor is written by B's store writer, within its commit window.)
        var viaA = (0, Data())
        _ = waitUntil(.seconds(3)) { viaA = (try? a.request("GET", "/calls/\(id)")) ?? (0, Data()); return viaA.0 == 200 }
        #expect(viaA.0 == 200, "A does not answer for B's call: \(String(decoding: viaA.1, as: UTF8.self)) anchors: \((try? pg.psql("SELECT callID, gateway FROM call_anchors")) ?? "-") gateways: \((try? pg.psql("SELECT id, http, state FROM gateways")) ?? "-")")
        #expect(String(decoding: viaA.1, as: UTF8.self).contains(id))
        let (dataViaA, _) = try a.post("/calls/\(id)/data", json: ["fields": ["plan": "gold"]])
        #expect(dataViaA == 200)
        #expect(String(decoding: try b.request("GET", "/calls/\(id)/data").1, as: UTF8.self).contains("gold"))
        // A request that was forwarded once is never forwarded again (no loop): A's own 404.
        #expect(try a.request("GET", "/calls/\(id)", headers: ["X-Baton-Forwarded": "gw-test"]).0 == 404)
        #expect(try a.request("GET", "/calls/nosuchcall").0 == 404)

        // A watcher of kitchen's dialogs on A: the call B holds is in A's NOTIFYs (one global
        // state); a call of A's joined to the same shared call counts on both gateways.
        let messages = dir.appendingPathComponent("watcher-messages.log")
        let watcher = try Child(sipp, ["-sf", "sub-kitchen.xml", "-i", "127.0.0.1", "-p", "27824", "-trace_msg", "-message_file", messages.path,
                                       "-m", "1", "-nostdin", "-timeout", "40s", "127.0.0.1:\(a.sipPort)"],
                                cwd: dir, output: dir.appendingPathComponent("watcher.log"))
        defer { watcher.signal(SIGKILL) }
        let op = "uc-\(id)"
        func watched(members: Int) -> Bool {
            SharedCallTests.notifies((try? String(contentsOf: messages, encoding: .utf8)) ?? "").contains { n in
                n.dialogs[op].map { $0.1 == "active" && $0.2 == members } ?? false
            }
        }
        #expect(waitUntil(.seconds(5)) { watched(members: 1) }, "A's watcher does not see B's call as active")
        let bob = try Child(sipp, ["-sn", "uas", "-i", "127.0.0.1", "-p", "27823", "-m", "1", "-nostdin", "-timeout", "30s"],
                            cwd: dir, output: dir.appendingPathComponent("bob.log"))
        defer { bob.signal(SIGKILL) }
        usleep(200_000)
        let second = try Child(sipp, ["-sn", "uac", "-i", "127.0.0.1", "-p", "27825", "-s", "bob", "-d", "3000", "-m", "1", "-nostdin",
                                      "-timeout", "30s", "127.0.0.1:\(a.sipPort)"], cwd: dir, output: dir.appendingPathComponent("second.log"))
        defer { second.signal(SIGKILL) }
        var second_id: String?
        _ = waitUntil(.seconds(5)) {
            let live = ((try? a.json("/calls")) as? [String: Any])?["active"] as? [[String: Any]] ?? []
            second_id = live.first { $0["answered"] != nil }?["id"] as? String
            return second_id != nil
        }
        let c2 = try #require(second_id, "the call through A was not answered:\n\(second.text)")
        let (joinCode, joined) = try a.post("/shared-calls/\(op)/members", json: ["call": c2])
        #expect(joinCode == 200, "\(joined)")
        for g in [a, b] {
            let shared = (try? g.json("/shared-calls/\(op)")) as? [String: Any] ?? [:]
            let ok = waitUntil(.seconds(3)) {
                let s = (try? g.json("/shared-calls/\(op)")) as? [String: Any] ?? [:]
                return (s["members"] as? [Any])?.count == 2 && s["state"] as? String == "active"
            }
            #expect(ok, "gateway \(g.httpPort) does not see both members: \(shared)")
        }
        #expect(waitUntil(.seconds(5)) { watched(members: 2) }, "A's watcher does not count both members")

        // An agent created on A is on B; logins set at once on two systems, one per gateway, both stay.
        #expect(try Self.put(a, "/agents/ann", ["name": "Ann", "aor": "ann@127.0.0.1", "skills": ["billing"]]) == 200)
        #expect(waitUntil(.seconds(2)) { (try? b.get("/agents/ann"))?.0 == 200 }, "B does not know the agent created on A")
        let group = DispatchGroup()
        for (g, system) in [(a, "desktop"), (b, "crm")] {
            group.enter()
            DispatchQueue.global().async { _ = try? Self.put(g, "/agents/ann/logins/\(system)", ["state": "logged-in"]); group.leave() }
        }
        group.wait()
        let bothLogins = waitUntil(.seconds(2)) {
            [a, b].allSatisfy { g in
                let logins = ((try? g.json("/agents/ann")) as? [String: Any])?["logins"] as? [String: Any] ?? [:]
                return logins["desktop"] != nil && logins["crm"] != nil
            }
        }
        #expect(bothLogins, "a login was lost: A \((try? a.json("/agents/ann")) ?? "-") B \((try? b.json("/agents/ann")) ?? "-")")

        // PostgreSQL stops mid-call: the live call keeps its media and ends normally; a new call
        // at B is refused with 503; once PostgreSQL is back the call's record lands.
        pg.pause()
        let paused = ContinuousClock.now
        usleep(1_500_000)   // a store operation times out (1 s) and the gateway knows
        let s = try UDPSocket()
        var refused: String?
        for _ in 0..<5 where refused == nil {
            s.send(Raw.request("INVITE", user: "kitchen", port: b.sipPort, from: s.port, body: Raw.sdp), to: b.sipPort)
            refused = s.receive(matching: "SIP/2.0 5", timeout: .seconds(2))
            if refused == nil || refused?.contains("store unavailable") != true { refused = nil; usleep(500_000) }
        }
        #expect(Raw.status(refused) == 503, "no 503 while the store is gone: \(refused ?? "nothing")")
        #expect(caller.wait(timeout: .seconds(20)) == 0, "the live call did not survive the outage:\n\(caller.text)")
        #expect(speaker.wait(timeout: .seconds(10)) == 0, "\(speaker.text)")
        // The outage lasts 10 s (the call's end is written after it: held, then replayed).
        let outage = ContinuousClock.now - paused
        if outage < .seconds(10) { try await Task.sleep(for: .seconds(10) - outage) }
        #expect(try b.metric("baton_store_available") == 0)
        try pg.restart()
        let landed = waitUntil(.seconds(15)) { ((try? pg.psql("SELECT count(*) FROM calls WHERE id = '\(id)' AND ended IS NOT NULL")) ?? "") == "1" }
        #expect(landed, "the call's end was not written after the outage")
        // New calls are taken again.
        let back = waitUntil(.seconds(10)) {
            s.send(Raw.request("OPTIONS", user: "kitchen", port: b.sipPort, from: s.port), to: b.sipPort)
            _ = s.receive(timeout: .milliseconds(300))
            return ((try? b.metric("baton_store_available")) ?? 0) == 1
        }
        #expect(back, "gateway B did not see the store come back")
        // Both gateways' beats were 10 s old when the database came back: neither may declare
        // the other dead for it (the beat connection reconnects at once; no claim within
        // 2 x cluster.dead_after_ms of a database start).
        try await Task.sleep(for: .seconds(4))
        #expect(try pg.psql("SELECT string_agg(id || '=' || state, ',' ORDER BY id) FROM gateways").split(separator: ",").allSatisfy { $0.hasSuffix("=alive") })
        if ProcessInfo.processInfo.environment["BATON_KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: dir) }
    }
}
