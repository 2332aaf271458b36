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
}
