import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// STIR/SHAKEN against an independent implementation: secsipidx (Debian) verifies what
/// Baton signs, with the certificate fetched from the x5u URL and checked against the root
/// `baton keys` made; Baton verifies what secsipidx signs, and each kind of bad header gets
/// its SIP status (RFC 8224 §6.2.2). The certificate chain is served over HTTP on loopback.
@Suite(.serialized) struct STIRInteropTests {
    struct Setup {
        let dir: URL, pki: URL, other: URL
        let server: Child
        let x5u = "http://127.0.0.1:28990/chain.pem"
        let baton = Interop.batonBinary

        func run(_ args: [String], stdin: String? = nil) throws -> (status: Int32, out: String) {
            try runProcess(args, stdin: stdin)
        }

        /// `baton identity verify` against the development root; returns exit status and output.
        func batonVerify(_ header: String, root: URL? = nil, orig: String = "12025550101") throws -> (Int32, String) {
            try run([baton, "identity", "verify", "--allow-http", "--trust", (root ?? pki).appendingPathComponent("root.pem").path,
                     "--orig", orig, "--dest", "12025550102"], stdin: header + "\n")
        }
    }

    static func setUp() throws -> Setup? {
        guard let python = Interop.requirePeer("python3", package: "python3") else { return nil }
        let dir = try Interop.tempDir("stir")
        let pki = dir.appendingPathComponent("pki"), other = dir.appendingPathComponent("other")
        let server = try Child(python, ["-m", "http.server", "28990", "--bind", "127.0.0.1", "--directory", pki.path],
                               output: dir.appendingPathComponent("http.log"))
        let s = Setup(dir: dir, pki: pki, other: other, server: server)
        let made = try s.run([s.baton, "keys", "--dir", pki.path, "--x5u", s.x5u, "--spc", "1234"])
        #expect(made.status == 0, "baton keys: \(made.out)")
        _ = try s.run([s.baton, "keys", "--dir", other.path])
        // secsipidx takes the intermediate apart from the leaf.
        let chain = try String(contentsOf: pki.appendingPathComponent("chain.pem"), encoding: .utf8)
        let certs = chain.components(separatedBy: "-----END CERTIFICATE-----").filter { $0.contains("BEGIN") }
        #expect(certs.count == 2)
        try (certs[1].trimmingCharacters(in: .whitespacesAndNewlines) + "\n-----END CERTIFICATE-----\n")
            .write(to: pki.appendingPathComponent("intermediate.pem"), atomically: true, encoding: .utf8)
        let end = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < end, (try? Data(contentsOf: URL(string: s.x5u)!)) == nil { usleep(100_000) }
        return s
    }

    @Test func secsipidxVerifiesWhatBatonSigns() async throws {
        guard let secsipidx = Interop.requirePeer("secsipidx", package: "secsipidx"), let s = try Self.setUp() else { return }
        defer { s.server.signal(SIGTERM) }
        // secsipidx as a verification server: fetches x5u, checks the chain against root.pem
        // (cert-verify 1|4|8: validity, custom root, custom intermediate).
        let checker = try Child(secsipidx, ["-H", "127.0.0.1:28991", "-expire", "60", "-timeout", "2", "-cert-verify", "13",
                                            "-ca-file", s.pki.appendingPathComponent("root.pem").path,
                                            "-ca-inter", s.pki.appendingPathComponent("intermediate.pem").path],
                                output: s.dir.appendingPathComponent("secsipidx.log"))
        defer { checker.signal(SIGTERM) }
        usleep(500_000)
        func check(_ header: String) -> String { httpPost(header, to: "http://127.0.0.1:28991/v1/check") }
        for attest in ["A", "B", "C"] {
            let signed = try s.run([s.baton, "identity", "sign", "--key", s.pki.appendingPathComponent("sp-key.pem").path,
                                    "--x5u", s.x5u, "--orig", "+1 202 555 0101", "--dest", "tel:+12025550102", "--attest", attest])
            #expect(signed.status == 0, "\(signed.out)")
            let header = signed.out.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(header.hasSuffix(";info=<\(s.x5u)>;alg=ES256;ppt=shaken"), "full form: \(header)")
            #expect(check(header) == "OK", "secsipidx refused Baton's header (attest \(attest)):\n\(checker.text)")
        }
        // The check can fail: a header with one signature character changed is refused.
        let signed = try s.run([s.baton, "identity", "sign", "--key", s.pki.appendingPathComponent("sp-key.pem").path,
                                "--x5u", s.x5u, "--orig", "12025550101", "--dest", "12025550102"])
        var header = signed.out.trimmingCharacters(in: .whitespacesAndNewlines)
        let sigStart = header.range(of: ".", options: .backwards, range: header.startIndex..<header.range(of: ";info=")!.lowerBound)!.upperBound
        header.replaceSubrange(sigStart...sigStart, with: header[sigStart] == "A" ? "B" : "A")
        #expect(check(header) != "OK")
        try? FileManager.default.removeItem(at: s.dir)
    }

    @Test func batonVerifiesWhatSecsipidxSignsAndRejectsBadHeaders() async throws {
        guard let secsipidx = Interop.requirePeer("secsipidx", package: "secsipidx"), let s = try Self.setUp() else { return }
        defer { s.server.signal(SIGTERM) }
        let key = s.pki.appendingPathComponent("sp-key.pem").path
        func sign(x5u: String) throws -> String {
            let r = try s.run([secsipidx, "-sign-full", "-k", key, "-x5u", x5u, "-o", "12025550101", "-d", "12025550102", "-a", "A"])
            #expect(r.status == 0, "secsipidx: \(r.out)")
            return r.out.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let good = try sign(x5u: s.x5u)
        let ok = try s.batonVerify(good)
        #expect(ok.0 == 0 && ok.1.contains("verstat=TN-Validation-Passed"), "\(ok.1)")

        // Tampered signature -> 438.
        var tampered = good
        let dot = tampered.range(of: ".", options: .backwards, range: tampered.startIndex..<tampered.range(of: ";")!.lowerBound)!.upperBound
        tampered.replaceSubrange(dot...dot, with: tampered[dot] == "A" ? "B" : "A")
        let t = try s.batonVerify(tampered)
        #expect(t.0 == 1 && t.1.contains("reject 438"), "\(t.1)")

        // Stale iat (secsipidx signing the header and payload it is given) -> 403.
        let old = Int(Date().timeIntervalSince1970) - 120
        let hdr = #"{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"\#(s.x5u)"}"#
        let payload = #"{"attest":"A","dest":{"tn":["12025550102"]},"iat":\#(old),"orig":{"tn":"12025550101"},"origid":"8f2a1c5e-0000-4000-8000-000000000001"}"#
        let jws = try s.run([secsipidx, "-sign", "-k", key, "-header", hdr, "-payload", payload])
        #expect(jws.status == 0, "\(jws.out)")
        let staleHeader = jws.out.trimmingCharacters(in: .whitespacesAndNewlines) + ";info=<\(s.x5u)>;alg=ES256;ppt=shaken"
        let st = try s.batonVerify(staleHeader)
        #expect(st.0 == 1 && st.1.contains("reject 403"), "\(st.1)")

        // x5u that serves nothing -> 436.
        let wrong = try s.batonVerify(try sign(x5u: "http://127.0.0.1:28990/missing.pem"))
        #expect(wrong.0 == 1 && wrong.1.contains("reject 436"), "\(wrong.1)")

        // A root that did not issue the chain -> 437.
        let untrusted = try s.batonVerify(good, root: s.other)
        #expect(untrusted.0 == 1 && untrusted.1.contains("reject 437"), "\(untrusted.1)")

        // The caller is someone else -> 438.
        let mismatch = try s.batonVerify(good, orig: "12025550199")
        #expect(mismatch.0 == 1 && mismatch.1.contains("reject 438"), "\(mismatch.1)")
        try? FileManager.default.removeItem(at: s.dir)
    }
}
