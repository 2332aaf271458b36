import Foundation
import Testing
import TestSupport

/// SIP that real peers send inside a call, checked on the wire of each sipp peer (its
/// -trace_msg log): what the far side received and what came back.
@Suite(.serialized) struct SIPCoverageTests {
    /// The messages of a sipp message log, split at its separator lines.
    static func messages(_ url: URL) -> [String] {
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.components(separatedBy: "\n").split { $0.hasPrefix("----------------------------------------------") }
            .map { $0.joined(separator: "\n") }
    }

    /// The m=audio port of an SDP body in a message.
    static func audioPort(_ message: String) -> Int? {
        guard let line = message.components(separatedBy: .newlines).first(where: { $0.hasPrefix("m=audio ") }) else { return nil }
        return Int(line.split(separator: " ")[1])
    }

    @Test func infoDTMFAndUpdateAreRelayedInTheCall() throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester") else { return }
        let dir = try Interop.tempDir("sip-coverage")
        for f in ["uac-info-update.xml", "uas-info-update.xml"] {
            try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        let (bobSIP, aliceSIP, aliceMedia, bobMedia) = (32800, 32802, 32810, 32820)
        let baton = try BatonProcess(sipPort: 27200, httpPort: 29200, rtpMin: 28700, dir: dir,
                                     extra: ["--route", "bob=127.0.0.1:\(bobSIP)"])
        defer { _ = baton.stop() }
        let bobLog = dir.appendingPathComponent("bob-messages.log"), aliceLog = dir.appendingPathComponent("alice-messages.log")
        let bob = try Child(sipp, ["-sf", "uas-info-update.xml", "-i", "127.0.0.1", "-p", "\(bobSIP)", "-mp", "\(bobMedia)",
                                   "-m", "1", "-nostdin", "-timeout", "20s", "-trace_msg", "-message_file", bobLog.path],
                            cwd: dir, output: dir.appendingPathComponent("bob.log"))
        defer { bob.signal(SIGKILL) }
        let alice = try Child(sipp, ["-sf", "uac-info-update.xml", "-i", "127.0.0.1", "-p", "\(aliceSIP)", "-mp", "\(aliceMedia)",
                                     "-s", "bob", "-m", "1", "-nostdin", "-timeout", "20s", "-trace_msg", "-message_file", aliceLog.path,
                                     "127.0.0.1:\(baton.sipPort)"], cwd: dir, output: dir.appendingPathComponent("alice.log"))
        defer { alice.signal(SIGKILL) }
        #expect(alice.wait(timeout: .seconds(25)) == 0, "alice's scenario failed:\n\(alice.text)\n\(baton.child.text)")
        #expect(bob.wait(timeout: .seconds(10)) == 0, "bob's scenario failed:\n\(bob.text)")

        let atBob = Self.messages(bobLog)
        // The INFO bob received: Baton's leg of the call, the digit unchanged.
        let info = try #require(atBob.first { $0.contains("INFO sip:") && $0.contains("received") }, "bob got no INFO")
        #expect(info.contains("Content-Type: application/dtmf-relay"))
        #expect(info.contains("Signal=5") && info.contains("Duration=160"))
        #expect(info.contains("Via: SIP/2.0/UDP 127.0.0.1:\(baton.sipPort)"), "sent by Baton, not passed through")
        // The UPDATE bob received: alice's hold offer, anchored at Baton's RTP port.
        let update = try #require(atBob.first { $0.contains("UPDATE sip:") && $0.contains("received") }, "bob got no UPDATE")
        #expect(update.contains("a=sendonly"))
        let offered = try #require(Self.audioPort(update))
        #expect((baton.rtpMin...(baton.rtpMin + 199)).contains(offered) && offered != aliceMedia, "offer port \(offered)")
        // The 200 alice got for it: bob's recvonly answer, anchored too.
        let atAlice = Self.messages(aliceLog)
        let answer = try #require(atAlice.first { $0.contains("SIP/2.0 200") && $0.contains("CSeq: 3 UPDATE") }, "alice got no 200 for UPDATE")
        #expect(answer.contains("a=recvonly"))
        let answered = try #require(Self.audioPort(answer))
        #expect((baton.rtpMin...(baton.rtpMin + 199)).contains(answered) && answered != bobMedia, "answer port \(answered)")
        #expect(atAlice.contains { $0.contains("SIP/2.0 200") && $0.contains("CSeq: 2 INFO") }, "alice got no 200 for INFO")
    }

    /// Runs one sipp pair (caller `uac`, callee `uas`) through a Baton routing "bob" to the
    /// callee; returns Baton, both message logs and both scenarios' exit codes.
    static func pair(_ tag: String, uac: String, uas: String, baton ports: (sip: Int, http: Int, rtpMin: Int),
                     sipp: String, peers: (bob: Int, alice: Int, bobMedia: Int, aliceMedia: Int), extra: [String] = [],
                     during: ((BatonProcess) -> Void)? = nil) throws
        -> (baton: BatonProcess, alice: [String], bob: [String], aliceRC: Int32?, bobRC: Int32?, dir: URL, elapsed: Duration) {
        let dir = try Interop.tempDir(tag)
        for f in [uac, uas, "rtp-phone.pcap"] {
            try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        let baton = try BatonProcess(sipPort: ports.sip, httpPort: ports.http, rtpMin: ports.rtpMin, dir: dir,
                                     extra: ["--route", "bob=127.0.0.1:\(peers.bob)"] + extra)
        let bobLog = dir.appendingPathComponent("bob-messages.log"), aliceLog = dir.appendingPathComponent("alice-messages.log")
        let bob = try Child(sipp, ["-sf", uas, "-i", "127.0.0.1", "-p", "\(peers.bob)", "-mi", "127.0.0.1", "-mp", "\(peers.bobMedia)",
                                   "-m", "1", "-nostdin", "-timeout", "30s", "-trace_msg", "-message_file", bobLog.path, "-trace_logs"],
                            cwd: dir, output: dir.appendingPathComponent("bob.log"))
        defer { bob.signal(SIGKILL) }
        let start = ContinuousClock.now
        let alice = try Child(sipp, ["-sf", uac, "-i", "127.0.0.1", "-p", "\(peers.alice)", "-mi", "127.0.0.1", "-mp", "\(peers.aliceMedia)",
                                     "-s", "bob", "-m", "1", "-nostdin", "-timeout", "30s", "-trace_msg", "-message_file", aliceLog.path,
                                     "-trace_logs", "127.0.0.1:\(baton.sipPort)"], cwd: dir, output: dir.appendingPathComponent("alice.log"))
        defer { alice.signal(SIGKILL) }
        during?(baton)
        let aliceRC = alice.wait(timeout: .seconds(30))
        let elapsed = ContinuousClock.now - start
        let bobRC = bob.wait(timeout: .seconds(10))
        if aliceRC != 0 || bobRC != 0 { print("alice:\n\(alice.text)\nbob:\n\(bob.text)\nbaton:\n\(baton.child.text.suffix(4000))") }
        return (baton, messages(aliceLog), messages(bobLog), aliceRC, bobRC, dir, elapsed)
    }

    /// 183 with early media, anchored; the callee requires reliable provisionals (RFC 3262):
    /// Baton PRACKs them on its leg and relays an ordinary 183 to the caller.
    @Test func earlyMediaIsAnchoredAndAReliable183IsPRACKed() throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester") else { return }
        let early = EarlyCounters()
        let run = try Self.pair("early-prack", uac: "uac-early-prack.xml", uas: "uas-early-prack.xml", baton: (27220, 29220, 20200),
                                sipp: sipp, peers: (32900, 32902, 32910, 32920)) { baton in
            // While the call is not answered yet: bob's tone reaches Baton and goes on to alice.
            _ = waitUntil(.seconds(6)) {
                guard let list = (try? baton.json("/calls")) as? [String: Any],
                      let call = (list["active"] as? [[String: Any]])?.first, call["state"] as? String != "answered",
                      let legs = call["legs"] as? [[String: Any]] else { return false }
                func rtp(_ side: String, _ key: String) -> Int {
                    let leg = legs.first { $0["side"] as? String == side }
                    return ((leg?["media"] as? [[String: Any]])?.first?["rtp"] as? [String: Any])?[key] as? Int ?? 0
                }
                early.set(fromBob: rtp("callee", "rxPackets"), toAlice: rtp("caller", "txPackets"))
                return early.fromBob > 10 && early.toAlice > 10
            }
        }
        defer { _ = run.baton.stop() }
        #expect(run.aliceRC == 0 && run.bobRC == 0, "the scenarios (bob checks the PRACK's RAck)")
        #expect(early.fromBob > 10 && early.toAlice > 10,
                "early media relayed before the answer: \(early.fromBob) packets from bob, \(early.toAlice) to alice")
        // The PRACK bob got: Baton's, on the early dialog.
        let prack = try #require(run.bob.first { $0.contains("PRACK sip:") && $0.contains("received") }, "bob got no PRACK")
        #expect(prack.contains("RAck: 1 1 INVITE") && prack.contains("Via: SIP/2.0/UDP 127.0.0.1:27220"))
        // The 183 alice got: anchored SDP, and not reliable (her leg never asked for it).
        let ringing = try #require(run.alice.first { $0.contains("SIP/2.0 183") && $0.contains("received") }, "alice got no 183")
        let port = try #require(Self.audioPort(ringing))
        #expect((20200...20399).contains(port), "early media anchored at Baton: \(port)")
        #expect(!ringing.contains("RSeq") && !ringing.contains("100rel"))
    }

    final class EarlyCounters: @unchecked Sendable {
        private let lock = NSLock()
        private var values = (0, 0)
        func set(fromBob: Int, toAlice: Int) { lock.withLock { values = (fromBob, toAlice) } }
        var fromBob: Int { lock.withLock { values.0 } }
        var toAlice: Int { lock.withLock { values.1 } }
    }

    /// A late offer (INVITE without SDP: the offer in the 200, the answer in the ACK) with a
    /// session timer (RFC 4028): refreshed once by UPDATE, then the caller vanishes and Baton
    /// ends the call when the session expires, BYE to both.
    @Test func lateOfferAndSessionTimerRefreshThenExpiry() throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester") else { return }
        let run = try Self.pair("late-timer", uac: "uac-late-timer.xml", uas: "uas-late-timer.xml", baton: (27240, 29240, 20000),
                                sipp: sipp, peers: (32930, 32932, 32940, 32950), extra: ["--sip-session-min-se", "2"])
        defer { _ = run.baton.stop() }
        #expect(run.aliceRC == 0 && run.bobRC == 0, "the scenarios (alice checks the 200's Session-Expires)")
        // Bob got an INVITE without SDP, then Baton's ACK with alice's answer, anchored.
        let invite = try #require(run.bob.first { $0.contains("INVITE sip:") && $0.contains("received") })
        #expect(invite.contains("Content-Length: 0") && !invite.contains("m=audio"), "the INVITE bob got carries no offer")
        #expect(invite.lowercased().contains("session-expires: 4;refresher=uac"))
        let ack = try #require(run.bob.first { $0.contains("ACK sip:") && $0.contains("received") })
        let answered = try #require(Self.audioPort(ack), "the ACK bob got carries the answer")
        #expect((20000...20199).contains(answered) && answered != 32950, "answer anchored at Baton: \(answered)")
        // Alice got bob's offer, anchored, with the agreed interval.
        let ok = try #require(run.alice.first { $0.contains("SIP/2.0 200") && $0.contains("CSeq: 1 INVITE") && $0.contains("received") })
        let offered = try #require(Self.audioPort(ok))
        #expect((20000...20199).contains(offered) && ok.lowercased().contains("require: timer"))
        // The refresh reached bob; the expiry ended the call for both, 3 s after the refresh
        // (4 - min(32, 4/3)), so not before ~5 s after the answer.
        #expect(run.bob.contains { $0.contains("UPDATE sip:") && $0.contains("received") && $0.lowercased().contains("session-expires: 4") })
        let bye = try #require(run.bob.first { $0.contains("BYE sip:") && $0.contains("received") }, "bob got no BYE")
        #expect(bye.contains("session expired"))
        #expect(run.alice.contains { $0.contains("BYE sip:") && $0.contains("received") })
        #expect(run.elapsed > .milliseconds(4500), "the refresh moved the expiry: the call lasted \(run.elapsed)")
        #expect(try run.baton.metric("baton_calls_active") == 0)
    }
}
