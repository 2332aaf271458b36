import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// STIR/SHAKEN on real calls: sipp calls through Baton with or without an Identity header
/// (signed by secsipidx); the callee's INVITE (from a capture) shows Baton's verdict
/// (`verstat` on From) and, for a caller Baton signs for, an Identity header that
/// secsipidx verifies against the root. In reject mode the caller gets 438 / 428.
@Suite(.serialized) struct STIRCallTests {
    /// A sipp UAC: From 12025550101 to 12025550102, with `identity` lines (sipp injection
    /// fields, which split at ';') and expecting `code` as the final answer.
    static func uac(identity: Bool, code: Int) -> String {
        let idLine = identity ? "Identity: [field0];[field1];[field2];[field3]\n      " : ""
        let tail = code == 200 ? """
              <recv response="200" rtd="true" rrs="true"/>
              <send>
                <![CDATA[
                  ACK [next_url] SIP/2.0
                  Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
                  From: <sip:+12025550101@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
                  To: <sip:+12025550102@[remote_ip]:[remote_port]>[peer_tag_param]
                  Call-ID: [call_id]
                  CSeq: 1 ACK
                  Contact: sip:sipp@[local_ip]:[local_port]
                  Max-Forwards: 70
                  Content-Length: 0
                ]]>
              </send>
              <pause milliseconds="300"/>
              <send retrans="500">
                <![CDATA[
                  BYE [next_url] SIP/2.0
                  Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
                  From: <sip:+12025550101@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
                  To: <sip:+12025550102@[remote_ip]:[remote_port]>[peer_tag_param]
                  Call-ID: [call_id]
                  CSeq: 2 BYE
                  Contact: sip:sipp@[local_ip]:[local_port]
                  Max-Forwards: 70
                  Content-Length: 0
                ]]>
              </send>
              <recv response="200"/>
            """ : """
              <recv response="\(code)"/>
              <send>
                <![CDATA[
                  ACK sip:+12025550102@[remote_ip]:[remote_port] SIP/2.0
                  Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
                  From: <sip:+12025550101@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
                  To: <sip:+12025550102@[remote_ip]:[remote_port]>[peer_tag_param]
                  Call-ID: [call_id]
                  CSeq: 1 ACK
                  Max-Forwards: 70
                  Content-Length: 0
                ]]>
              </send>
            """
        return """
            <?xml version="1.0" encoding="ISO-8859-1" ?>
            <scenario name="STIR caller">
              <send retrans="500">
                <![CDATA[
                  INVITE sip:+12025550102@[remote_ip]:[remote_port] SIP/2.0
                  Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
                  From: <sip:+12025550101@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
                  To: <sip:+12025550102@[remote_ip]:[remote_port]>
                  Call-ID: [call_id]
                  CSeq: 1 INVITE
                  Contact: sip:sipp@[local_ip]:[local_port]
                  Max-Forwards: 70
                  \(idLine)Content-Type: application/sdp
                  Content-Length: [len]

                  v=0
                  o=user1 1 1 IN IP4 [local_ip]
                  s=-
                  c=IN IP4 [media_ip]
                  t=0 0
                  m=audio [media_port] RTP/AVP 0
                ]]>
              </send>
              <recv response="100" optional="true"/>
              <recv response="180" optional="true"/>
            \(tail)
            </scenario>
            """
    }

    static let uas = """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <scenario name="STIR callee">
          <recv request="INVITE"/>
          <send>
            <![CDATA[
              SIP/2.0 200 OK
              [last_Via:]
              [last_From:]
              [last_To:];tag=[pid]SIPpTag01[call_number]
              [last_Call-ID:]
              [last_CSeq:]
              Contact: <sip:[local_ip]:[local_port]>
              Content-Type: application/sdp
              Content-Length: [len]

              v=0
              o=user1 1 1 IN IP4 [local_ip]
              s=-
              c=IN IP4 [media_ip]
              t=0 0
              m=audio [media_port] RTP/AVP 0
            ]]>
          </send>
          <recv request="ACK"/>
          <recv request="BYE"/>
          <send>
            <![CDATA[
              SIP/2.0 200 OK
              [last_Via:]
              [last_From:]
              [last_To:]
              [last_Call-ID:]
              [last_CSeq:]
              Content-Length: 0
            ]]>
          </send>
        </scenario>
        """

    @Test func verifiesSignsAndRejects() async throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester"),
              let secsipidx = Interop.requirePeer("secsipidx", package: "secsipidx"),
              let tcpdump = Interop.requirePeer("tcpdump", package: "tcpdump"),
              let python = Interop.requirePeer("python3", package: "python3") else { return }
        let dir = try Interop.tempDir("stir-call")
        let served = try ServedPKI(dir, port: 28980, python: python)
        defer { served.server.signal(SIGTERM) }
        let x5u = served.x5u
        try Self.uas.write(to: dir.appendingPathComponent("uas.xml"), atomically: true, encoding: .utf8)
        for (name, identity, code) in [("uac-id", true, 200), ("uac-plain", false, 200), ("uac-438", true, 438), ("uac-428", false, 428)] {
            try Self.uac(identity: identity, code: code).write(to: dir.appendingPathComponent("\(name).xml"), atomically: true, encoding: .utf8)
        }

        // secsipidx signs for the caller: the injection file carries the header's 4 ';' fields.
        func signed(tamper: Bool = false) throws -> URL {
            var header = try served.secsipidxSign(secsipidx)
            if tamper {
                let sig = header.range(of: ".", options: .backwards, range: header.startIndex..<header.range(of: ";")!.lowerBound)!.upperBound
                header.replaceSubrange(sig...sig, with: header[sig] == "A" ? "B" : "A")
            }
            let url = dir.appendingPathComponent(tamper ? "id-bad.csv" : "id.csv")
            try ("SEQUENTIAL\n" + header + "\n").write(to: url, atomically: true, encoding: .utf8)
            return url
        }

        func call(_ scenario: String, port: Int, baton: Int, inject: URL? = nil) throws -> Child {
            try Child(sipp, ["-sf", "\(scenario).xml", "-i", "127.0.0.1", "-p", "\(port)", "-m", "1", "-nostdin", "-timeout", "15s",
                             "127.0.0.1:\(baton)"] + (inject.map { ["-inf", $0.path] } ?? []),
                      cwd: dir, output: dir.appendingPathComponent("\(scenario)-\(port).log"))
        }

        // Continue mode, and Baton signs for 1202555....
        do {
            let baton = try BatonProcess(sipPort: 26960, httpPort: 28960, rtpMin: 21400, dir: dir, extra: [
                "--route", ".=127.0.0.1:26970", "--stir-verify", "continue", "--stir-x5u-http", "true",
                "--stir-trust-anchors", served.path("root.pem"),
                "--stir-sign-key", served.path("sp-key.pem"), "--stir-x5u", x5u, "--stir-sign-numbers", "1202555"])
            let capture = dir.appendingPathComponent("sip.pcap")
            let dump = try Child(tcpdump, ["-i", "lo", "-n", "-U", "-s", "0", "-w", capture.path, "udp and port 26970"],
                                 output: dir.appendingPathComponent("tcpdump.log"))
            let ready = ContinuousClock.now + .seconds(5)
            while !dump.text.contains("listening on") && ContinuousClock.now < ready { usleep(50_000) }
            for (scenario, inject) in [("uac-id", try signed()), ("uac-plain", nil)] {
                let callee = try Child(sipp, ["-sf", "uas.xml", "-i", "127.0.0.1", "-p", "26970", "-m", "1", "-nostdin", "-timeout", "15s"],
                                       cwd: dir, output: dir.appendingPathComponent("uas-\(scenario).log"))
                usleep(200_000)
                let caller = try call(scenario, port: 26980, baton: 26960, inject: inject)
                #expect(caller.wait(timeout: .seconds(20)) == 0, "\(scenario):\n\(caller.text)\n\(baton.child.text)")
                #expect(callee.wait(timeout: .seconds(10)) == 0, "callee of \(scenario):\n\(callee.text)")
            }
            usleep(300_000)
            dump.signal(SIGINT)
            dump.wait(timeout: .seconds(5))
            let invites = try PcapReader.packets(capture).filter { $0.dst == 26970 }
                .map { String(decoding: $0.payload, as: UTF8.self) }.filter { $0.hasPrefix("INVITE ") }
            #expect(invites.count == 2, "\(invites.count) INVITEs reached the callee")
            func header(_ msg: String, _ name: String) -> [String] {
                msg.split(separator: "\r\n").filter { $0.lowercased().hasPrefix(name.lowercased() + ":") }
                    .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
            }
            if invites.count == 2 {
                // The caller's Identity verified: From carries verstat, the field goes on.
                #expect(header(invites[0], "From").first?.contains("verstat=TN-Validation-Passed") == true, "\(invites[0])")
                #expect(header(invites[0], "Identity").count == 1)
                // No Identity from the caller: Baton signed; secsipidx checks it against the root.
                let made = try #require(header(invites[1], "Identity").first, "Baton did not sign:\n\(invites[1])")
                #expect(header(invites[1], "From").first?.contains("verstat") == false, "nothing to verify, no verstat")
                let checker = try Child(secsipidx, ["-H", "127.0.0.1:28981", "-expire", "60", "-timeout", "2", "-cert-verify", "5",
                                                    "-ca-file", served.path("root.pem")],
                                        output: dir.appendingPathComponent("secsipidx.log"))
                defer { checker.signal(SIGTERM) }
                usleep(500_000)
                #expect(httpPost(made, to: "http://127.0.0.1:28981/v1/check") == "OK", "secsipidx refused Baton's Identity:\n\(checker.text)")
            }
            #expect(baton.stop() == 0)
        }

        // Reject mode: a tampered signature gets 438, no Identity gets 428.
        do {
            let baton = try BatonProcess(sipPort: 26960, httpPort: 28960, rtpMin: 21400, dir: dir, extra: [
                "--route", ".=127.0.0.1:26970", "--stir-verify", "reject", "--stir-x5u-http", "true",
                "--stir-trust-anchors", served.path("root.pem")])
            let bad = try call("uac-438", port: 26981, baton: 26960, inject: try signed(tamper: true))
            #expect(bad.wait(timeout: .seconds(20)) == 0, "tampered Identity:\n\(bad.text)")
            let none = try call("uac-428", port: 26982, baton: 26960)
            #expect(none.wait(timeout: .seconds(20)) == 0, "no Identity:\n\(none.text)")
            #expect(baton.stop() == 0)
        }
        try? FileManager.default.removeItem(at: dir)
    }

    /// B, the forwarding device: answers the INVITE with 302 to C.
    static func redirector(to contact: String) -> String {
        """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <scenario name="STIR forwarding device">
          <recv request="INVITE"/>
          <send>
            <![CDATA[
              SIP/2.0 302 Moved Temporarily
              [last_Via:]
              [last_From:]
              [last_To:];tag=[pid]SIPpTag01[call_number]
              [last_Call-ID:]
              [last_CSeq:]
              Contact: <\(contact)>
              Content-Length: 0
            ]]>
          </send>
          <recv request="ACK"/>
        </scenario>
        """
    }

    /// A caller with a SHAKEN Identity (signed by secsipidx) calls +12025550102, whose device
    /// forwards with 302 to +12025550103. The forward-to target receives the original shaken
    /// field plus Baton's `div` field; Baton's verifier (`baton identity verify`) and an
    /// independent Python `cryptography` check (tools/stir_check.py) both accept the pair.
    @Test func forwardingAddsADivPASSporT() async throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester"),
              let secsipidx = Interop.requirePeer("secsipidx", package: "secsipidx"),
              let tcpdump = Interop.requirePeer("tcpdump", package: "tcpdump"),
              let python = Interop.requirePeer("python3", package: "python3") else { return }
        let dir = try Interop.tempDir("stir-div")
        let served = try ServedPKI(dir, port: 28982, python: python)
        defer { served.server.signal(SIGTERM) }
        let x5u = served.x5u
        try Self.uas.write(to: dir.appendingPathComponent("uas.xml"), atomically: true, encoding: .utf8)
        try Self.redirector(to: "sip:+12025550103@127.0.0.1:26976").write(to: dir.appendingPathComponent("b.xml"), atomically: true, encoding: .utf8)
        try Self.uac(identity: true, code: 200).write(to: dir.appendingPathComponent("uac-id.xml"), atomically: true, encoding: .utf8)

        let shaken = try served.secsipidxSign(secsipidx)
        let inject = dir.appendingPathComponent("id.csv")
        try ("SEQUENTIAL\n" + shaken + "\n").write(to: inject, atomically: true, encoding: .utf8)

        let baton = try BatonProcess(sipPort: 26965, httpPort: 28965, rtpMin: 21600, dir: dir, extra: [
            "--route", "^\\+?12025550102$=127.0.0.1:26975", "--stir-verify", "continue", "--stir-x5u-http", "true",
            "--stir-trust-anchors", served.path("root.pem"),
            "--stir-sign-key", served.path("sp-key.pem"), "--stir-x5u", x5u])
        let capture = dir.appendingPathComponent("sip.pcap")
        let dump = try Child(tcpdump, ["-i", "lo", "-n", "-U", "-s", "0", "-w", capture.path, "udp and port 26976"],
                             output: dir.appendingPathComponent("tcpdump.log"))
        let ready = ContinuousClock.now + .seconds(5)
        while !dump.text.contains("listening on") && ContinuousClock.now < ready { usleep(50_000) }
        let b = try Child(sipp, ["-sf", "b.xml", "-i", "127.0.0.1", "-p", "26975", "-m", "1", "-nostdin", "-timeout", "15s"],
                          cwd: dir, output: dir.appendingPathComponent("b.log"))
        let c = try Child(sipp, ["-sf", "uas.xml", "-i", "127.0.0.1", "-p", "26976", "-m", "1", "-nostdin", "-timeout", "15s"],
                          cwd: dir, output: dir.appendingPathComponent("c.log"))
        usleep(300_000)
        let a = try Child(sipp, ["-sf", "uac-id.xml", "-i", "127.0.0.1", "-p", "26985", "-m", "1", "-nostdin", "-timeout", "15s",
                                 "127.0.0.1:26965", "-inf", inject.path], cwd: dir, output: dir.appendingPathComponent("a.log"))
        #expect(a.wait(timeout: .seconds(20)) == 0, "caller:\n\(a.text)\n\(baton.child.text)")
        #expect(b.wait(timeout: .seconds(10)) == 0, "forwarding device:\n\(b.text)")
        #expect(c.wait(timeout: .seconds(10)) == 0, "forward-to target:\n\(c.text)")
        usleep(300_000)
        dump.signal(SIGINT)
        dump.wait(timeout: .seconds(5))
        #expect(baton.stop() == 0)

        let invite = try #require(try PcapReader.packets(capture).filter { $0.dst == 26976 }
            .map { String(decoding: $0.payload, as: UTF8.self) }.first { $0.hasPrefix("INVITE ") }, "C got no INVITE")
        let identities = identityFields(of: invite)
        #expect(identities.count == 2, "\(invite)")
        #expect(identities.first == shaken, "the original shaken field is kept unchanged")
        #expect(identities.last?.hasSuffix(";info=<\(x5u)>;alg=ES256;ppt=div") == true)
        #expect(invite.contains("Diversion: <sip:+12025550102@"), "\(invite)")

        // Baton's own verifier, then an independent one.
        let (status, vtext) = try served.batonVerify(identities, dest: "12025550103")
        #expect(status == 0 && vtext.contains("valid ppt=div"), "\(vtext)")
        // Debian's python3 has python3-cryptography (tools/install-deps.sh); a python3 earlier
        // on PATH (pyenv) may not.
        let checker = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : python
        let (checked, ctext) = try runProcess([checker, Interop.packageRoot.appendingPathComponent("tools/stir_check.py").path,
                                               "--chain", served.path("chain.pem"), "--root", served.path("root.pem"),
                                               "--orig", "12025550101", "--dest", "12025550103"] + identities)
        #expect(checked == 0 && ctext.contains("ok shaken+div"), "\(ctext)")
        try? FileManager.default.removeItem(at: dir)
    }

    static let busy = """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <scenario name="busy device">
          <recv request="INVITE"/>
          <send>
            <![CDATA[
              SIP/2.0 486 Busy Here
              [last_Via:]
              [last_From:]
              [last_To:];tag=[pid]SIPpTag01[call_number]
              [last_Call-ID:]
              [last_CSeq:]
              Content-Length: 0
            ]]>
          </send>
          <recv request="ACK"/>
        </scenario>
        """

    /// A device that rings and never answers: 180, then 200 to Baton's CANCEL and 487.
    static let ringing = """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <scenario name="unanswered device">
          <recv request="INVITE"/>
          <send>
            <![CDATA[
              SIP/2.0 180 Ringing
              [last_Via:]
              [last_From:]
              [last_To:];tag=[pid]SIPpTag01[call_number]
              [last_Call-ID:]
              [last_CSeq:]
              Content-Length: 0
            ]]>
          </send>
          <recv request="CANCEL"/>
          <send>
            <![CDATA[
              SIP/2.0 200 OK
              [last_Via:]
              [last_From:]
              [last_To:];tag=[pid]SIPpTag01[call_number]
              [last_Call-ID:]
              [last_CSeq:]
              Content-Length: 0
            ]]>
          </send>
          <send>
            <![CDATA[
              SIP/2.0 487 Request Terminated
              [last_Via:]
              [last_From:]
              [last_To:];tag=[pid]SIPpTag01[call_number]
              [last_Call-ID:]
              CSeq: 1 INVITE
              Content-Length: 0
            ]]>
          </send>
          <recv request="ACK"/>
        </scenario>
        """

    /// Forwarding Baton does itself (`--forward`): on busy (the device answers 486), on no
    /// answer (the device rings for 2 s, Baton cancels it) and unconditionally; the forward-to target gets a Diversion with the reason and the
    /// shaken + div pair, which Baton's verifier accepts for the new destination.
    @Test func forwardingRulesOnBusyAndUnconditional() async throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester"),
              let secsipidx = Interop.requirePeer("secsipidx", package: "secsipidx"),
              let tcpdump = Interop.requirePeer("tcpdump", package: "tcpdump"),
              let python = Interop.requirePeer("python3", package: "python3") else { return }
        let dir = try Interop.tempDir("stir-fwd")
        let served = try ServedPKI(dir, port: 28983, python: python)
        defer { served.server.signal(SIGTERM) }
        let x5u = served.x5u
        try Self.uas.write(to: dir.appendingPathComponent("uas.xml"), atomically: true, encoding: .utf8)
        try Self.busy.write(to: dir.appendingPathComponent("busy.xml"), atomically: true, encoding: .utf8)
        try Self.ringing.write(to: dir.appendingPathComponent("no-answer.xml"), atomically: true, encoding: .utf8)
        try Self.uac(identity: true, code: 200).write(to: dir.appendingPathComponent("uac-id.xml"), atomically: true, encoding: .utf8)

        for (phase, rule) in [("busy", "busy"), ("no-answer", "no-answer:2"), ("unconditional", "unconditional")] {
            let shaken = try served.secsipidxSign(secsipidx)
            let inject = dir.appendingPathComponent("id-\(phase).csv")
            try ("SEQUENTIAL\n" + shaken + "\n").write(to: inject, atomically: true, encoding: .utf8)
            let baton = try BatonProcess(sipPort: 26966, httpPort: 28966, rtpMin: 21800, dir: dir, extra: [
                "--route", "^\\+?12025550102$=127.0.0.1:26977",
                "--forward", "+1 202 555 0102=sip:+12025550104@127.0.0.1:26978/\(rule)",
                "--stir-sign-key", served.path("sp-key.pem"), "--stir-x5u", x5u])
            let capture = dir.appendingPathComponent("fwd-\(phase).pcap")
            let dump = try Child(tcpdump, ["-i", "lo", "-n", "-U", "-s", "0", "-w", capture.path, "udp and (port 26977 or port 26978)"],
                                 output: dir.appendingPathComponent("tcpdump-\(phase).log"))
            let ready = ContinuousClock.now + .seconds(5)
            while !dump.text.contains("listening on") && ContinuousClock.now < ready { usleep(50_000) }
            let device = phase != "unconditional"
                ? try Child(sipp, ["-sf", "\(phase).xml", "-i", "127.0.0.1", "-p", "26977", "-m", "1", "-nostdin", "-timeout", "15s"],
                            cwd: dir, output: dir.appendingPathComponent("\(phase).log"))
                : nil
            let target = try Child(sipp, ["-sf", "uas.xml", "-i", "127.0.0.1", "-p", "26978", "-m", "1", "-nostdin", "-timeout", "15s"],
                                   cwd: dir, output: dir.appendingPathComponent("target-\(phase).log"))
            usleep(300_000)
            let caller = try Child(sipp, ["-sf", "uac-id.xml", "-i", "127.0.0.1", "-p", "26986", "-m", "1", "-nostdin", "-timeout", "15s",
                                          "127.0.0.1:26966", "-inf", inject.path], cwd: dir, output: dir.appendingPathComponent("a-\(phase).log"))
            #expect(caller.wait(timeout: .seconds(20)) == 0, "\(phase) caller:\n\(caller.text)\n\(baton.child.text)")
            if let device { #expect(device.wait(timeout: .seconds(10)) == 0, "\(phase) device:\n\(device.text)") }
            #expect(target.wait(timeout: .seconds(10)) == 0, "\(phase) target:\n\(target.text)")
            usleep(300_000)
            dump.signal(SIGINT)
            dump.wait(timeout: .seconds(5))
            #expect(baton.stop() == 0)
            let packets = try PcapReader.packets(capture)
            #expect(packets.contains { $0.dst == 26977 } == (phase != "unconditional"), "the device is rung only without unconditional forwarding")
            let invite = try #require(packets.filter { $0.dst == 26978 }.map { String(decoding: $0.payload, as: UTF8.self) }
                .first { $0.hasPrefix("INVITE ") }, "\(phase): the target got no INVITE")
            #expect(invite.contains("reason=\(phase == "busy" ? "user-busy" : phase)"), "\(invite)")
            let identities = identityFields(of: invite)
            #expect(identities.count == 2 && identities.first == shaken, "\(invite)")
            let (status, vtext) = try served.batonVerify(identities, dest: "12025550104")
            #expect(status == 0 && vtext.contains("valid ppt=div"), "\(phase): \(vtext)")
        }
        try? FileManager.default.removeItem(at: dir)
    }

    /// The device forwards on its own: the first call (with a SHAKEN Identity) is refused
    /// busy, then a new INVITE from the same caller to C names the device's number in
    /// `Diversion`, without Identity. Baton had kept the first call's Identity (the number is
    /// in `stir.keep_for`, kept in the store) and gives C the shaken field plus a div.
    @Test func deviceForwardedINVITEGetsTheKeptIdentity() async throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester"),
              let secsipidx = Interop.requirePeer("secsipidx", package: "secsipidx"),
              let tcpdump = Interop.requirePeer("tcpdump", package: "tcpdump"),
              let python = Interop.requirePeer("python3", package: "python3") else { return }
        let dir = try Interop.tempDir("stir-kept")
        let served = try ServedPKI(dir, port: 28984, python: python)
        defer { served.server.signal(SIGTERM) }
        let x5u = served.x5u
        try Self.uas.write(to: dir.appendingPathComponent("uas.xml"), atomically: true, encoding: .utf8)
        try Self.busy.write(to: dir.appendingPathComponent("busy.xml"), atomically: true, encoding: .utf8)
        try Self.uac(identity: true, code: 486).write(to: dir.appendingPathComponent("uac-486.xml"), atomically: true, encoding: .utf8)
        let pbx = Self.uac(identity: false, code: 200).replacingOccurrences(of: "+12025550102", with: "+12025550103")
            .replacingOccurrences(of: "Content-Type: application/sdp",
                                  with: "Diversion: <sip:+12025550102@127.0.0.1>;reason=user-busy\n      Content-Type: application/sdp")
        try pbx.write(to: dir.appendingPathComponent("pbx.xml"), atomically: true, encoding: .utf8)
        let shaken = try served.secsipidxSign(secsipidx)
        let inject = dir.appendingPathComponent("id.csv")
        try ("SEQUENTIAL\n" + shaken + "\n").write(to: inject, atomically: true, encoding: .utf8)

        let baton = try BatonProcess(sipPort: 26967, httpPort: 28967, rtpMin: 22000, dir: dir, extra: [
            "--route", "^\\+?12025550102$=127.0.0.1:26987", "--route", "^\\+?12025550103$=127.0.0.1:26988",
            "--stir-verify", "continue", "--stir-x5u-http", "true", "--stir-trust-anchors", served.path("root.pem"),
            "--stir-sign-key", served.path("sp-key.pem"), "--stir-x5u", x5u, "--stir-keep-for", "+12025550102"])
        let capture = dir.appendingPathComponent("kept.pcap")
        let dump = try Child(tcpdump, ["-i", "lo", "-n", "-U", "-s", "0", "-w", capture.path, "udp and port 26988"],
                             output: dir.appendingPathComponent("tcpdump.log"))
        let ready = ContinuousClock.now + .seconds(5)
        while !dump.text.contains("listening on") && ContinuousClock.now < ready { usleep(50_000) }
        let device = try Child(sipp, ["-sf", "busy.xml", "-i", "127.0.0.1", "-p", "26987", "-m", "1", "-nostdin", "-timeout", "15s"],
                               cwd: dir, output: dir.appendingPathComponent("device.log"))
        usleep(300_000)
        let first = try Child(sipp, ["-sf", "uac-486.xml", "-i", "127.0.0.1", "-p", "26989", "-m", "1", "-nostdin", "-timeout", "15s",
                                     "127.0.0.1:26967", "-inf", inject.path], cwd: dir, output: dir.appendingPathComponent("first.log"))
        #expect(first.wait(timeout: .seconds(20)) == 0, "first call:\n\(first.text)\n\(baton.child.text)")
        #expect(device.wait(timeout: .seconds(10)) == 0, "device:\n\(device.text)")
        // B's forwarding device registers its number (from the port it forwards from).
        try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent("reg-speaker.xml"), to: dir.appendingPathComponent("reg.xml"))
        let reg = try Child(sipp, ["-sf", "reg.xml", "-i", "127.0.0.1", "-p", "26990", "-s", "+12025550102", "-m", "1", "-nostdin",
                                   "-timeout", "10s", "127.0.0.1:26967"], cwd: dir, output: dir.appendingPathComponent("reg.log"))
        #expect(reg.wait(timeout: .seconds(15)) == 0, "registration:\n\(reg.text)")
        let target = try Child(sipp, ["-sf", "uas.xml", "-i", "127.0.0.1", "-p", "26988", "-m", "2", "-nostdin", "-timeout", "20s"],
                               cwd: dir, output: dir.appendingPathComponent("target.log"))
        usleep(300_000)
        // A forged forward first: the same headers (From A, Diversion B) from an address that
        // is not B's device. It gets no kept identity and no div, and does not use up B's.
        let forged = try Child(sipp, ["-sf", "pbx.xml", "-i", "127.0.0.1", "-p", "26991", "-m", "1", "-nostdin", "-timeout", "15s",
                                      "127.0.0.1:26967"], cwd: dir, output: dir.appendingPathComponent("forged.log"))
        #expect(forged.wait(timeout: .seconds(20)) == 0, "forged INVITE:\n\(forged.text)")
        let forwarded = try Child(sipp, ["-sf", "pbx.xml", "-i", "127.0.0.1", "-p", "26990", "-m", "1", "-nostdin", "-timeout", "15s",
                                         "127.0.0.1:26967"], cwd: dir, output: dir.appendingPathComponent("pbx.log"))
        #expect(forwarded.wait(timeout: .seconds(20)) == 0, "forwarded INVITE:\n\(forwarded.text)\n\(baton.child.text)")
        #expect(target.wait(timeout: .seconds(10)) == 0, "target:\n\(target.text)")
        #expect(baton.child.text.contains("not from the diverting user's device"), "the forged forward is logged")
        usleep(300_000)
        dump.signal(SIGINT)
        dump.wait(timeout: .seconds(5))
        #expect(baton.stop() == 0)
        let invites = try PcapReader.packets(capture).filter { $0.dst == 26988 }
            .map { String(decoding: $0.payload, as: UTF8.self) }.filter { $0.hasPrefix("INVITE ") }
        // Retransmissions aside, the first INVITE C got is the forged one's, the last the real one's.
        let forgedInvite = try #require(invites.first, "C got no INVITE")
        #expect(identityFields(of: forgedInvite).isEmpty, "the forged forward must carry no Identity:\n\(forgedInvite)")
        let invite = try #require(invites.last)
        let identities = identityFields(of: invite)
        #expect(identities.count == 2 && identities.first == shaken, "\(invite)")
        let (status, vtext) = try served.batonVerify(identities, dest: "12025550103")
        #expect(status == 0 && vtext.contains("valid ppt=div"), "\(vtext)")
        try? FileManager.default.removeItem(at: dir)
    }

    /// "Likely to forward" learnt (issue 20): B is in no list and has no rule. Its device
    /// forwards A's first call to C: C gets no identity (nothing was kept), and Baton learns
    /// that B forwards. A's second call to B is kept, and its forward reaches C with A's
    /// SHAKEN field plus a div that verifies. The counts outlive a restart (store).
    @Test func aNumberLearntToForwardGetsItsCallsIdentityKept() async throws {
        guard let sipp = Interop.requirePeer("sipp", package: "sip-tester"),
              let secsipidx = Interop.requirePeer("secsipidx", package: "secsipidx"),
              let tcpdump = Interop.requirePeer("tcpdump", package: "tcpdump"),
              let python = Interop.requirePeer("python3", package: "python3") else { return }
        let dir = try Interop.tempDir("stir-learnt")
        let served = try ServedPKI(dir, port: 28985, python: python)
        defer { served.server.signal(SIGTERM) }
        try Self.uas.write(to: dir.appendingPathComponent("uas.xml"), atomically: true, encoding: .utf8)
        try Self.busy.write(to: dir.appendingPathComponent("busy.xml"), atomically: true, encoding: .utf8)
        try Self.uac(identity: true, code: 486).write(to: dir.appendingPathComponent("uac-486.xml"), atomically: true, encoding: .utf8)
        let pbx = Self.uac(identity: false, code: 200).replacingOccurrences(of: "+12025550102", with: "+12025550103")
            .replacingOccurrences(of: "Content-Type: application/sdp",
                                  with: "Diversion: <sip:+12025550102@127.0.0.1>;reason=user-busy\n      Content-Type: application/sdp")
        try pbx.write(to: dir.appendingPathComponent("pbx.xml"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: Interop.fixtures.appendingPathComponent("reg-speaker.xml"), to: dir.appendingPathComponent("reg.xml"))
        let shaken = try served.secsipidxSign(secsipidx)
        let inject = dir.appendingPathComponent("id.csv")
        try ("SEQUENTIAL\n" + shaken + "\n").write(to: inject, atomically: true, encoding: .utf8)
        let args = ["--route", "^\\+?12025550103$=127.0.0.1:27988",
                    "--stir-verify", "continue", "--stir-x5u-http", "true", "--stir-trust-anchors", served.path("root.pem"),
                    "--stir-sign-key", served.path("sp-key.pem"), "--stir-x5u", served.x5u]
        let capture = dir.appendingPathComponent("learnt.pcap")
        let dump = try Child(tcpdump, ["-i", "lo", "-n", "-U", "-s", "0", "-w", capture.path, "udp and port 27988"],
                             output: dir.appendingPathComponent("tcpdump.log"))
        defer { dump.signal(SIGKILL) }
        let ready = ContinuousClock.now + .seconds(5)
        while !dump.text.contains("listening on") && ContinuousClock.now < ready { usleep(50_000) }
        /// One round: A calls B (busy), B's device forwards to C.
        func round(_ baton: BatonProcess, _ n: Int) throws {
            // B's device (registered as B) refuses busy, then forwards from the same port.
            let device = try Child(sipp, ["-sf", "busy.xml", "-i", "127.0.0.1", "-p", "27990", "-m", "1", "-nostdin", "-timeout", "15s"],
                                   cwd: dir, output: dir.appendingPathComponent("device\(n).log"))
            usleep(300_000)
            let first = try Child(sipp, ["-sf", "uac-486.xml", "-i", "127.0.0.1", "-p", "27989", "-m", "1", "-nostdin", "-timeout", "15s",
                                         "127.0.0.1:\(baton.sipPort)", "-inf", inject.path], cwd: dir, output: dir.appendingPathComponent("first\(n).log"))
            #expect(first.wait(timeout: .seconds(20)) == 0, "call \(n) to B:\n\(first.text)")
            #expect(device.wait(timeout: .seconds(10)) == 0, "device:\n\(device.text)")
            let target = try Child(sipp, ["-sf", "uas.xml", "-i", "127.0.0.1", "-p", "27988", "-m", "1", "-nostdin", "-timeout", "20s"],
                                   cwd: dir, output: dir.appendingPathComponent("target\(n).log"))
            usleep(300_000)
            let forwarded = try Child(sipp, ["-sf", "pbx.xml", "-i", "127.0.0.1", "-p", "27990", "-m", "1", "-nostdin", "-timeout", "15s",
                                             "127.0.0.1:\(baton.sipPort)"], cwd: dir, output: dir.appendingPathComponent("pbx\(n).log"))
            #expect(forwarded.wait(timeout: .seconds(20)) == 0, "forward \(n):\n\(forwarded.text)")
            #expect(target.wait(timeout: .seconds(10)) == 0, "target:\n\(target.text)")
        }
        var baton = try BatonProcess(sipPort: 26968, httpPort: 28968, rtpMin: 22200, dir: dir, extra: args)
        let reg = try Child(sipp, ["-sf", "reg.xml", "-i", "127.0.0.1", "-p", "27990", "-s", "+12025550102", "-m", "1", "-nostdin",
                                   "-timeout", "10s", "127.0.0.1:\(baton.sipPort)"], cwd: dir, output: dir.appendingPathComponent("reg.log"))
        #expect(reg.wait(timeout: .seconds(15)) == 0, "registration:\n\(reg.text)")
        try round(baton, 1)
        #expect(baton.stop() == 0)
        // Restarted: what it learnt is read back from the store (and B's registration too).
        baton = try BatonProcess(sipPort: 26968, httpPort: 28968, rtpMin: 22200, dir: dir, extra: args)
        try round(baton, 2)
        #expect(baton.stop() == 0)
        usleep(300_000)
        dump.signal(SIGINT)
        dump.wait(timeout: .seconds(5))
        let invites = try PcapReader.packets(capture).filter { $0.dst == 27988 }
            .map { String(decoding: $0.payload, as: UTF8.self) }.filter { $0.hasPrefix("INVITE ") }
        let firstForward = try #require(invites.first, "C got no INVITE")
        #expect(identityFields(of: firstForward).isEmpty, "B was not known to forward yet:\n\(firstForward)")
        let second = try #require(invites.last)
        let identities = identityFields(of: second)
        #expect(identities.count == 2 && identities.first == shaken, "learnt: kept and forwarded with a div:\n\(second)")
        let (status, vtext) = try served.batonVerify(identities, dest: "12025550103")
        #expect(status == 0 && vtext.contains("valid ppt=div"), "\(vtext)")
        try? FileManager.default.removeItem(at: dir)
    }
}
