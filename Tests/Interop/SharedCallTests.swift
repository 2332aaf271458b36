import Foundation
import Testing

/// Shared call state over SIP: sipp subscribes to alice's dialog events (RFC 4235) while
/// alice's call rings, is answered, held, joined by a consultation call that rings, is
/// answered and ends, resumed, switched over to a speaker, and ended; every step must show
/// in the NOTIFY bodies as the expected global state, in order.
@Suite(.serialized) struct SharedCallTests {
    /// One NOTIFY as the watcher received it.
    struct Notify {
        var version: Int
        /// Shared call id -> (RFC 4235 state, Baton's global state, live members).
        var dialogs: [String: (state: String, global: String, members: Int)]
    }

    static func notifies(_ log: String) -> [Notify] {
        var out: [Notify] = []
        for chunk in log.components(separatedBy: "-----------------------------------------------") where chunk.contains("received") {
            guard let start = chunk.range(of: "NOTIFY sip:"), let body = chunk[start.lowerBound...].range(of: "<dialog-info") else { continue }
            let doc = String(chunk[body.lowerBound...])
            let version = doc.firstMatch(of: /version="(\d+)"/).flatMap { Int($0.1) } ?? -1
            var dialogs: [String: (String, String, Int)] = [:]
            for m in doc.matches(of: /<dialog id="([^"]+)"[^>]*>([\s\S]*?)<\/dialog>/) {
                let inner = String(m.2)
                let state = inner.firstMatch(of: /<state>(\w+)<\/state>/).map { String($0.1) } ?? "?"
                let sc = inner.firstMatch(of: /<sc:shared-call members="(\d+)" state="(\w+)"\/>/)
                dialogs[String(m.1)] = (state, sc.map { String($0.2) } ?? "?", sc.flatMap { Int($0.1) } ?? -1)
            }
            // A retransmitted NOTIFY shows up twice in the log; keep one.
            if out.last?.version != version { out.append(Notify(version: version, dialogs: dialogs)) }
        }
        return out
    }

    @Test func dialogEventsFollowTheGlobalState() throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester") else { return }
        let dir = try Interop.tempDir("shared")
        for f in ["uac-alice-hold.xml", "uac-consult.xml", "uas-bob-reinvite.xml", "uas-carol.xml", "uas-speaker.xml",
                  "sub-dialog.xml", "rtp-speaker.pcap"] {
            try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        let (bobSIP, carolSIP, speakerSIP, watcherSIP, aliceSIP, consultSIP) = (32710, 32712, 32714, 32716, 32718, 32720)
        let baton = try BatonProcess(sipPort: 27010, httpPort: 29010, rtpMin: 27100, dir: dir, extra: [
            "--route", "bob=127.0.0.1:\(bobSIP)", "--route", "carol=127.0.0.1:\(carolSIP)",
            "--route", "speaker=127.0.0.1:\(speakerSIP)"])
        defer { _ = baton.stop() }
        func sippChild(_ name: String, _ args: [String]) throws -> Child {
            try Child(sipp, args + ["-i", "127.0.0.1", "-m", "1", "-nostdin", "-timeout", "40s"], cwd: dir,
                      output: dir.appendingPathComponent("\(name).log"))
        }
        let bob = try sippChild("bob", ["-sf", "uas-bob-reinvite.xml", "-p", "\(bobSIP)", "-mp", "32730"])
        let carol = try sippChild("carol", ["-sf", "uas-carol.xml", "-p", "\(carolSIP)", "-mp", "32740"])
        let speaker = try sippChild("speaker", ["-sf", "uas-speaker.xml", "-p", "\(speakerSIP)", "-mp", "32750"])
        let messages = dir.appendingPathComponent("watcher-messages.log")
        let watcher = try sippChild("watcher", ["-sf", "sub-dialog.xml", "-p", "\(watcherSIP)", "-trace_msg", "-message_file", messages.path,
                                                "127.0.0.1:\(baton.sipPort)"])
        defer { [bob, carol, speaker, watcher].forEach { $0.signal(SIGKILL) } }
        func log() -> String { (try? String(contentsOf: messages, encoding: .utf8)) ?? "" }

        /// Waits for a NOTIFY after the `from`-th whose dialog `id` matches; returns its index.
        func expect(_ id: @autoclosure () -> String, global: String, members: Int? = nil, after from: Int,
                    timeout: Duration = .seconds(12), _ what: String) -> Int {
            let end = ContinuousClock.now + timeout
            repeat {
                let n = Self.notifies(log())
                if n.count > from, let i = n[from...].firstIndex(where: { note in
                    note.dialogs[id()].map { $0.global == global && (members == nil || $0.members == members) } ?? false
                }) { return i + 1 }
                usleep(50_000)
            } while ContinuousClock.now < end
            Issue.record("no NOTIFY showed \(what) (\(id()) \(global)); got: \(Self.notifies(log()).map { "v\($0.version) \($0.dialogs.mapValues { "\($0.global)/\($0.members)" })" })")
            return from
        }

        // The watcher's first NOTIFY: alice has no calls yet.
        var seen = 0
        let end0 = ContinuousClock.now + .seconds(5)
        while Self.notifies(log()).isEmpty && ContinuousClock.now < end0 { usleep(50_000) }
        let first = try #require(Self.notifies(log()).first, "no initial NOTIFY:\n\(baton.child.text)")
        #expect(first.dialogs.isEmpty)
        seen = 1

        let alice = try sippChild("alice", ["-sf", "uac-alice-hold.xml", "-p", "\(aliceSIP)", "-mp", "32760", "-s", "bob",
                                            "127.0.0.1:\(baton.sipPort)"])
        defer { alice.signal(SIGKILL) }
        var c1 = ""
        let endCall = ContinuousClock.now + .seconds(5)
        while c1.isEmpty && ContinuousClock.now < endCall {
            if let list = try? baton.json("/calls") as? [String: Any], let a = (list["active"] as? [[String: Any]])?.first,
               let id = a["id"] as? String { c1 = id }
            usleep(20_000)
        }
        try #require(!c1.isEmpty, "alice's call did not start:\n\(baton.child.text)")
        let uc = "uc-" + c1
        seen = expect(uc, global: "ringing", after: seen, "bob ringing")
        seen = expect(uc, global: "active", after: seen, "bob answered")
        seen = expect(uc, global: "held", after: seen, "alice held")

        // A consultation (alice -> carol) joins alice's shared call over the API.
        let consult = try sippChild("consult", ["-sf", "uac-consult.xml", "-p", "\(consultSIP)", "-mp", "32770", "-s", "carol",
                                                "127.0.0.1:\(baton.sipPort)"])
        defer { consult.signal(SIGKILL) }
        var c2 = ""
        let endC2 = ContinuousClock.now + .seconds(5)
        while c2.isEmpty && ContinuousClock.now < endC2 {
            if let list = try? baton.json("/calls") as? [String: Any],
               let other = (list["active"] as? [[String: Any]])?.first(where: { $0["id"] as? String != c1 }) {
                c2 = other["id"] as? String ?? ""
            }
            usleep(20_000)
        }
        try #require(!c2.isEmpty, "the consultation did not start")
        let (joinCode, joined) = try baton.post("/shared-calls/\(uc)/members", json: ["call": c2])
        #expect(joinCode == 200 && (joined["members"] as? [[String: Any]])?.count == 2, "\(joined)")
        seen = expect(uc, global: "ringing", members: 2, after: seen, "the consultation ringing beside the held call")
        seen = expect(uc, global: "active", members: 2, after: seen, "the consultation answered")
        seen = expect(uc, global: "held", members: 1, after: seen, "the consultation ended, alice's call still held")
        seen = expect(uc, global: "active", members: 1, after: seen, "alice resumed")

        // Switchover of bob's side to the speaker: its leg joins automatically.
        let (swCode, op) = try baton.post("/calls/\(c1)/switchover", json: ["target": "speaker", "mode": "now"])
        #expect(swCode == 202, "\(op)")
        seen = expect(uc, global: "active", members: 2, after: seen, "the speaker's leg active")
        seen = expect(uc, global: "ended", after: seen, timeout: .seconds(15), "alice hung up")
        let last = Self.notifies(log())[seen - 1]
        #expect(last.dialogs[uc]?.state == "terminated")

        // Versions increase by one per NOTIFY (RFC 4235 §4.1).
        let versions = Self.notifies(log()).map(\.version)
        #expect(versions == Array(1...versions.count), "\(versions)")

        let shared = try #require(try baton.json("/shared-calls/\(uc)") as? [String: Any])
        #expect(shared["state"] as? String == "ended")
        let members = (shared["members"] as? [[String: Any]]) ?? []
        #expect(Set(members.compactMap { $0["kind"] as? String }) == ["call", "related", "switchover"], "\(members)")
        #expect(members.allSatisfy { $0["status"] as? String == "ended" })
        #expect(((shared["users"] as? [String]) ?? []).contains("alice"))
        #expect(alice.wait(timeout: .seconds(10)) == 0, "alice:\n\(alice.text)")
        #expect(consult.wait(timeout: .seconds(5)) == 0, "consult:\n\(consult.text)")
        #expect(bob.wait(timeout: .seconds(5)) == 0, "bob:\n\(bob.text)")
    }
}
