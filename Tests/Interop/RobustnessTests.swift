import Foundation
import Testing

/// Hand-made SIP over UDP, as a misbehaving peer would send it.
enum Raw {
    static let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"

    static func request(_ method: String, user: String = "bob", port: Int, from: Int, branch: String = "z9hG4bK" + UUID().uuidString.prefix(8),
                        callID: String = UUID().uuidString, omit: String? = nil, contentLength: Int? = nil,
                        body: String = "", extra: String = "") -> String {
        var headers = [
            "Via: SIP/2.0/UDP 127.0.0.1:\(from);branch=\(branch)",
            "From: <sip:alice@127.0.0.1>;tag=abc",
            "To: <sip:\(user)@127.0.0.1>",
            "Call-ID: \(callID)",
            "CSeq: 1 \(method)",
            "Contact: <sip:alice@127.0.0.1:\(from)>",
            "Max-Forwards: 70",
        ]
        if let omit { headers.removeAll { $0.hasPrefix(omit + ":") } }
        if !body.isEmpty { headers.append("Content-Type: application/sdp") }
        headers.append("Content-Length: \(contentLength ?? body.utf8.count)")
        return "\(method) sip:\(user)@127.0.0.1:\(port) SIP/2.0\r\n" + headers.joined(separator: "\r\n") + "\r\n" + extra + "\r\n" + body
    }

    static func status(_ response: String?) -> Int? {
        response?.split(separator: "\r\n").first?.split(separator: " ").dropFirst().first.flatMap { Int($0) }
    }
}

@Suite(.serialized) struct RobustnessTests {
    @Test func badInputGetsSIPErrorsAndANormalCallStillWorks() throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester") else { return }
        let dir = try Interop.tempDir("bad")
        let baton = try BatonProcess(sipPort: 26260, httpPort: 28260, rtpMin: 22400, dir: dir,
                                     extra: ["--route", "^9=127.0.0.1:26280", "--sip-max-message-size", "4096"])
        let s = try UDPSocket()
        let port = 26260
        func ask(_ text: String) -> Int? { s.send(text, to: port); return Raw.status(s.receive(matching: "SIP/2.0")) }

        // Unparsable datagrams: nothing to answer, but counted and survived.
        s.send([0x00, 0xFF, 0x13, 0x37, 0x42], to: port)
        s.send("hello\r\n\r\n", to: port)
        s.send("INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKt\r\nFrom: <sip:a@b>;ta", to: port) // truncated
        #expect(s.receive(timeout: .milliseconds(500)) == nil)
        // Missing mandatory headers, bad Content-Length, oversized, unknown method: a status each.
        #expect(ask(Raw.request("INVITE", port: port, from: s.port, omit: "Call-ID", body: Raw.sdp)) == 400)
        #expect(ask(Raw.request("INVITE", port: port, from: s.port, omit: "CSeq", body: Raw.sdp)) == 400)
        #expect(ask(Raw.request("INVITE", port: port, from: s.port, omit: "From", body: Raw.sdp)) == 400)
        #expect(ask(Raw.request("INVITE", port: port, from: s.port, contentLength: 5000, body: Raw.sdp)) == 400)
        #expect(ask(Raw.request("OPTIONS", port: port, from: s.port, extra: "X-Pad: " + String(repeating: "x", count: 6000) + "\r\n")) == 513)
        #expect(ask(Raw.request("FROBNICATE", port: port, from: s.port)) == 501)
        // SDP without media, with a bad address, or none at all.
        let noMedia = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        s.send(Raw.request("INVITE", user: "900", port: port, from: s.port, body: noMedia), to: port)
        #expect(s.receive(matching: "488") != nil)
        let badAddr = Raw.sdp.replacingOccurrences(of: "c=IN IP4 127.0.0.1", with: "c=IN IP4 300.1.1.1")
        s.send(Raw.request("INVITE", user: "901", port: port, from: s.port, body: badAddr), to: port)
        #expect(s.receive(matching: "488") != nil)
        s.send(Raw.request("INVITE", user: "902", port: port, from: s.port), to: port)
        #expect(s.receive(matching: "488") != nil)
        // Nowhere to route: 404.
        s.send(Raw.request("INVITE", user: "alice", port: port, from: s.port, body: Raw.sdp), to: port)
        #expect(s.receive(matching: "404") != nil)
        // TCP: junk and an unreadable Content-Length close the connection without harm.
        _ = tcpSend(Array("GARBAGE\r\n\r\n".utf8), port: port)
        _ = tcpSend(Array("OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nContent-Length: lots\r\n\r\n".utf8), port: port)
        // A valid OPTIONS over TCP is answered on the same connection.
        let tcpReply = tcpSend(Array(Raw.request("OPTIONS", port: port, from: 9).replacingOccurrences(of: "SIP/2.0/UDP", with: "SIP/2.0/TCP").utf8), port: port)
        #expect(tcpReply.hasPrefix("SIP/2.0 200"), "TCP OPTIONS got: \(tcpReply)")

        #expect(try baton.metric("baton_sip_malformed_total{reason=\"unparsable\"}") ?? 0 >= 4)
        #expect(try baton.metric("baton_sip_malformed_total{reason=\"missing_header\"}") == 3)
        #expect(try baton.metric("baton_sip_malformed_total{reason=\"content_length\"}") == 1)
        #expect(try baton.metric("baton_sip_malformed_total{reason=\"too_large\"}") == 1)
        #expect(try baton.metric("baton_sip_malformed_total{reason=\"sdp\"}") ?? 0 >= 2)
        #expect(try baton.metric("baton_rtp_port_pairs_in_use") == 0)

        // After all that, a normal call completes.
        let uas = try Child(sipp, ["-sn", "uas", "-i", "127.0.0.1", "-p", "26280", "-m", "1", "-nostdin", "-timeout", "15s"],
                            cwd: dir, output: dir.appendingPathComponent("uas.log"))
        usleep(300_000)
        let uac = try Child(sipp, ["-sn", "uac", "-i", "127.0.0.1", "-p", "26290", "127.0.0.1:\(port)", "-s", "9000",
                                   "-m", "1", "-d", "200", "-nostdin", "-timeout", "15s"],
                            cwd: dir, output: dir.appendingPathComponent("uac.log"))
        #expect(uac.wait(timeout: .seconds(20)) == 0, "normal call failed after bad input:\n\(uac.text)")
        uas.wait(timeout: .seconds(5))
        #expect(baton.stop() == 0)
        try? FileManager.default.removeItem(at: dir)
    }

    @Test func sigtermRefusesNewCallsDrainsLiveOnesAndExitsZero() throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester") else { return }
        let dir = try Interop.tempDir("drain")
        let baton = try BatonProcess(sipPort: 26360, httpPort: 28360, rtpMin: 22600, dir: dir,
                                     extra: ["--route", ".=127.0.0.1:26380", "--lifecycle-retry-after", "17"])
        let uas = try Child(sipp, ["-sn", "uas", "-i", "127.0.0.1", "-p", "26380", "-m", "1", "-nostdin", "-timeout", "20s"],
                            cwd: dir, output: dir.appendingPathComponent("uas.log"))
        usleep(300_000)
        let uac = try Child(sipp, ["-sn", "uac", "-i", "127.0.0.1", "-p", "26390", "127.0.0.1:26360", "-s", "1000",
                                   "-m", "1", "-d", "3000", "-nostdin", "-timeout", "20s"],
                            cwd: dir, output: dir.appendingPathComponent("uac.log"))
        // Wait until the call is up, then SIGTERM.
        let end = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < end, (try? baton.metric("baton_calls_active")) != 1 { usleep(50_000) }
        #expect(try baton.metric("baton_calls_active") == 1)
        baton.child.signal(SIGTERM)
        usleep(300_000)
        let s = try UDPSocket()
        s.send(Raw.request("INVITE", user: "1000", port: 26360, from: s.port, body: Raw.sdp), to: 26360)
        let refused = s.receive(matching: "503")
        #expect(refused != nil)
        #expect(refused?.contains("Retry-After: 17") == true)
        // The live call finishes normally, then Baton exits 0.
        #expect(uac.wait(timeout: .seconds(15)) == 0, "call did not survive the drain:\n\(uac.text)")
        #expect(baton.child.wait(timeout: .seconds(10)) == 0, "baton:\n\(baton.child.text)")
        uas.wait(timeout: .seconds(5))
        try? FileManager.default.removeItem(at: dir)
    }

    @Test func registrationsSurviveARestart() throws {
        let dir = try Interop.tempDir("restart")
        let phone = try UDPSocket()
        var baton = try BatonProcess(sipPort: 26460, httpPort: 28460, rtpMin: 22800, dir: dir)
        phone.send("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:\(phone.port);branch=z9hG4bKreg1\r\n"
                   + "From: <sip:bob@127.0.0.1>;tag=r\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: reg-restart\r\nCSeq: 1 REGISTER\r\n"
                   + "Contact: <sip:bob@127.0.0.1:\(phone.port)>;expires=600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", to: 26460)
        #expect(Raw.status(phone.receive(matching: "SIP/2.0")) == 200)
        #expect(baton.stop() == 0)
        baton = try BatonProcess(sipPort: 26460, httpPort: 28460, rtpMin: 22800, dir: dir)
        let caller = try UDPSocket()
        caller.send(Raw.request("INVITE", user: "bob", port: 26460, from: caller.port, body: Raw.sdp), to: 26460)
        let routed = phone.receive(matching: "INVITE")
        #expect(routed != nil, "the INVITE did not reach the contact registered before the restart")
        // Decline it so the call ends at once.
        if let routed {
            let keep = routed.split(separator: "\r\n").filter { l in ["Via:", "From:", "To:", "Call-ID:", "CSeq:"].contains { l.hasPrefix($0) } }
                .map { $0.hasPrefix("To:") ? $0 + ";tag=busy" : String($0) }
            phone.send("SIP/2.0 486 Busy Here\r\n" + keep.joined(separator: "\r\n") + "\r\nContent-Length: 0\r\n\r\n", to: 26460)
            #expect(caller.receive(matching: "486") != nil)
        }
        #expect(baton.stop() == 0)
        try? FileManager.default.removeItem(at: dir)
    }
}
