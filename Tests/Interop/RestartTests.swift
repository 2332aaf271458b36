import Foundation
import Media
import Synchronization
import Testing

/// Live calls survive a restart (issue 22): 20 sipp calls whose media the test's own RTP
/// endpoints send and receive (each party one SSRC, one sequence), kill -9 of Baton
/// mid-call, `baton serve` again on the same store. Asserted per party: the media flows again
/// within 1 s of the new process answering, it keeps one SSRC, and the only sequence
/// numbers it misses are those sent while Baton was down; then every call ends with the
/// caller's BYE through the new process (sipp counts 20 successful calls). Plain RTP, and
/// SRTP on both legs (SDES keys in the sipp SDP; the endpoints protect with libsrtp under
/// their own keys, so Baton must unprotect and protect again after the restart with the keys
/// it sealed; the receivers read SSRC and sequence from the header, which SRTP leaves clear).
@Suite(.serialized) struct RestartTests {
    struct Ports {
        let sip: Int, http: Int, rtpMin: Int, uas: Int, uac: Int, uasMedia: Int, uacMedia: Int
    }

    @Test func twentyPlainCallsSurviveKill9() throws {
        try restart(srtp: false, ports: Ports(sip: 27600, http: 29600, rtpMin: 21200, uas: 33600, uac: 33610,
                                              uasMedia: 33700, uacMedia: 33720))
    }

    @Test func twentySRTPCallsSurviveKill9() throws {
        try restart(srtp: true, ports: Ports(sip: 27620, http: 29620, rtpMin: 26600, uas: 33630, uac: 33640,
                                             uasMedia: 33740, uacMedia: 33760))
    }

    final class Flag: Sendable { let value = Atomic<Bool>(false) }

    /// One RTP party: sends a 20 ms PCMU packet per tick to Baton's port for it (SRTP with its
    /// own announced key), and records what it receives.
    final class Party: @unchecked Sendable {
        let socket: UDPSocket
        let ssrc: UInt32
        let key: [UInt8]
        let srtp: SRTPSession?
        var target = 0
        var seq: UInt16
        var timestamp: UInt32
        var sent: [(seq: UInt16, at: ContinuousClock.Instant)] = []
        var received: [(ssrc: UInt32, seq: UInt16, at: ContinuousClock.Instant)] = []

        init(srtp: Bool) throws {
            // A port the kernel picks: a fixed one in the ephemeral range may be held by any
            // other socket on the machine.
            socket = try UDPSocket(receiveTimeout: .milliseconds(1))
            ssrc = UInt32.random(in: 1...UInt32.max)
            seq = UInt16.random(in: 0...30000)
            timestamp = UInt32.random(in: 0...1_000_000)
            key = SRTPSession.generateKey(.aesCM128HmacSHA1_80)
            self.srtp = srtp ? try SRTPSession(suite: .aesCM128HmacSHA1_80, key: key, direction: .outbound) : nil
        }

        func tick(_ now: ContinuousClock.Instant) {
            var p = [UInt8](repeating: 0xD5, count: 172)
            p[0] = 0x80; p[1] = 0
            p[2] = UInt8(seq >> 8); p[3] = UInt8(truncatingIfNeeded: seq)
            for k in 0..<4 { p[4 + k] = UInt8(truncatingIfNeeded: timestamp >> (24 - 8 * UInt32(k))) }
            for k in 0..<4 { p[8 + k] = UInt8(truncatingIfNeeded: ssrc >> (24 - 8 * UInt32(k))) }
            if let srtp { try? srtp.protect(&p) }
            socket.send(p, to: target)
            sent.append((seq, now))
            seq &+= 1
            timestamp &+= 160
        }

        func drain(_ now: ContinuousClock.Instant) {
            while let b = socket.receiveNow() {
                guard b.count >= 12, b[0] >> 6 == 2 else { continue }
                let s = UInt32(b[8]) << 24 | UInt32(b[9]) << 16 | UInt32(b[10]) << 8 | UInt32(b[11])
                received.append((s, UInt16(b[2]) << 8 | UInt16(b[3]), now))
            }
        }
    }

    func restart(srtp: Bool, ports p: Ports) throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester") else { return }
        let dir = try Interop.tempDir(srtp ? "restart-srtp" : "restart-rtp")
        for f in ["uac-restart.xml", "uas-restart.xml"] {
            try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent(f), to: dir.appendingPathComponent(f))
        }
        let calls = 20
        // Party i of call k: caller 2k, callee 2k+1.
        var parties: [Party] = []
        for _ in 0..<(2 * calls) { parties.append(try Party(srtp: srtp)) }
        let profile = srtp ? "RTP/SAVP" : "RTP/AVP"
        let tag = (SRTPSuite.offerOrder.firstIndex(of: .aesCM128HmacSHA1_80) ?? 0) + 1
        func crypto(_ party: Party, tag: Int) -> String {
            srtp ? "a=crypto:\(tag) AES_CM_128_HMAC_SHA1_80 inline:\(Data(party.key).base64EncodedString())" : "a=sendrecv"
        }
        let uacInf = dir.appendingPathComponent("uac.csv"), uasInf = dir.appendingPathComponent("uas.csv")
        try (["SEQUENTIAL"] + (0..<calls).map { k in "\(parties[2 * k].socket.port);\(profile);\(crypto(parties[2 * k], tag: 1));14000" })
            .joined(separator: "\n").appending("\n").write(to: uacInf, atomically: true, encoding: .utf8)
        try (["SEQUENTIAL"] + (0..<calls).map { k in "\(parties[2 * k + 1].socket.port);\(profile);\(crypto(parties[2 * k + 1], tag: tag))" })
            .joined(separator: "\n").appending("\n").write(to: uasInf, atomically: true, encoding: .utf8)

        var args = ["--route", ".=127.0.0.1:\(p.uas)"]
        if srtp { args += ["--sip-sdes-in-clear", "true"] }
        var baton = try BatonProcess(sipPort: p.sip, httpPort: p.http, rtpMin: p.rtpMin, dir: dir, extra: args)
        defer { _ = baton.stop() }
        let callee = try Child(sipp, ["-sf", "uas-restart.xml", "-inf", uasInf.path, "-i", "127.0.0.1", "-p", "\(p.uas)",
                                      "-mi", "127.0.0.1", "-mp", "\(p.uasMedia)", "-m", "\(calls)", "-trace_err", "-nostdin",
                                      "-timeout", "60s"], cwd: dir, output: dir.appendingPathComponent("callee.log"))
        defer { callee.signal(SIGKILL) }
        usleep(300_000)
        let stats = dir.appendingPathComponent("caller-stats.csv")
        let caller = try Child(sipp, ["-sf", "uac-restart.xml", "-inf", uacInf.path, "-i", "127.0.0.1", "-p", "\(p.uac)",
                                      "-mi", "127.0.0.1", "-mp", "\(p.uacMedia)", "-s", "callee", "-r", "20", "-m", "\(calls)",
                                      "-l", "\(calls)", "-trace_err", "-trace_stat", "-stf", stats.path, "-fd", "1", "-nostdin",
                                      "-timeout", "60s", "127.0.0.1:\(p.sip)"],
                               cwd: dir, output: dir.appendingPathComponent("caller.log"))
        defer { caller.signal(SIGKILL) }

        // Every call answered; each party's Baton port from the API (the port Baton gave it).
        var live: [[String: Any]] = []
        let up = waitUntil(.seconds(10)) {
            live = ((try? baton.json("/calls")) as? [String: Any])?["active"] as? [[String: Any]] ?? []
            return live.count == calls && live.allSatisfy { $0["state"] as? String == "answered" }
        }
        try #require(up, "20 calls answered: \(live.count)\n\(baton.child.text.suffix(3000))")
        for call in live {
            for leg in call["legs"] as? [[String: Any]] ?? [] {
                guard let media = (leg["media"] as? [[String: Any]])?.first, let local = media["localPort"] as? Int,
                      let advertised = media["advertised"] as? String, let port = Int(advertised.split(separator: ":").last ?? ""),
                      let party = parties.first(where: { $0.socket.port == port }) else { continue }
                party.target = local
            }
        }
        try #require(parties.allSatisfy { $0.target != 0 }, "every party's Baton port is known")

        // The media: every party sends every 20 ms and records what it receives.
        let stop = Flag()
        let mediaDone = DispatchSemaphore(value: 0)
        let runner = Thread { [parties] in
            var next = ContinuousClock.now
            let end = next + .seconds(30)   // bounded even if the test never says stop
            while !stop.value.load(ordering: .relaxed) && ContinuousClock.now < end {
                let now = ContinuousClock.now
                if now >= next {
                    for party in parties { party.tick(now) }
                    next += .milliseconds(20)
                }
                for party in parties { party.drain(ContinuousClock.now) }
                usleep(1000)
            }
            mediaDone.signal()
        }
        runner.start()
        defer { stop.value.store(true, ordering: .relaxed) }
        usleep(2_000_000)   // media flowing; latches and resume state saved (store.checkpoint_ms 500)

        let killedAt = ContinuousClock.now
        baton.child.signal(SIGKILL)
        baton.child.wait(timeout: .seconds(5))
        usleep(300_000)
        baton = try BatonProcess(sipPort: p.sip, httpPort: p.http, rtpMin: p.rtpMin, dir: dir, extra: args)
        let readyAt = ContinuousClock.now
        usleep(2_500_000)
        stop.value.store(true, ordering: .relaxed)
        _ = mediaDone.wait(timeout: .now() + 5)

        #expect(try baton.metric("baton_calls_resumed_total") == Double(calls), "\(baton.child.text.suffix(3000))")
        // Per party: one SSRC, one gap at most, made only of packets sent while Baton was down.
        for (i, party) in parties.enumerated() {
            let peer = parties[i ^ 1]
            let rx = party.received
            let name = "call \(i / 2) \(i % 2 == 0 ? "caller" : "callee")"
            #expect(!rx.isEmpty, "\(name) received nothing")
            guard !rx.isEmpty else { continue }
            #expect(Set(rx.map(\.ssrc)) == [peer.ssrc], "\(name): one SSRC, the far party's: \(Set(rx.map(\.ssrc))) vs \(peer.ssrc)")
            let firstAfter = rx.first { $0.at > killedAt }
            #expect(firstAfter.map { $0.at - readyAt < .seconds(1) } == true,
                    "\(name): media again within 1 s of the new process answering: \(firstAfter.map { "\($0.at - readyAt)" } ?? "never")")
            let sentAt = Dictionary(peer.sent.map { ($0.seq, $0.at) }, uniquingKeysWith: { a, _ in a })
            var gaps = 0
            for k in 1..<rx.count {
                let d = rx[k].seq &- rx[k - 1].seq
                if d == 1 { continue }
                #expect(d > 1 && d < 1000, "\(name): sequence went back or repeated: \(rx[k - 1].seq) -> \(rx[k].seq)")
                gaps += 1
                for m in 1..<max(1, Int(d)) {
                    let missing = rx[k - 1].seq &+ UInt16(m)
                    if let t = sentAt[missing] {
                        #expect(t > killedAt - .milliseconds(60) && t < readyAt + .seconds(1),
                                "\(name): packet \(missing) lost though sent \(t - killedAt) after the kill (ready at \(readyAt - killedAt))")
                    }
                }
            }
            #expect(gaps == 1, "\(name): \(gaps) sequence breaks (exactly the restart's: Baton was down for a while)")
        }

        // The calls end with the callers' BYEs through the restarted gateway.
        #expect(caller.wait(timeout: .seconds(30)) == 0, "callers' scenario:\n\(caller.text.suffix(3000))")
        #expect(callee.wait(timeout: .seconds(10)) == 0, "callees' scenario:\n\(callee.text.suffix(3000))")
        #expect(GatewayLossTests.stat(stats, "SuccessfulCall(C)") == calls)
        #expect(GatewayLossTests.stat(stats, "FailedCall(C)") == 0)
        let ended = waitUntil(.seconds(3)) { (try? baton.metric("baton_calls_active")) == 0 }
        #expect(ended, "no call left live after the BYEs")
        if ProcessInfo.processInfo.environment["BATON_KEEP_TEST_DIRS"] == nil { try? FileManager.default.removeItem(at: dir) }
    }
}
