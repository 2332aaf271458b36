import Foundation
import Testing
@testable import Calls
import Identity
@testable import SIP

/// The verdicts the STIR service gives the B2BUA for each kind of request.
@Suite struct STIRServiceTests {
    let pki: DevPKI
    let url = "https://cert.example.org/sp/chain.pem"
    let chainPath: String

    init() throws {
        pki = try DevPKI()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("baton-stir-svc-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        chainPath = dir.appendingPathComponent("chain.pem").path
        try pki.chainPEM().write(toFile: chainPath, atomically: true, encoding: .utf8)
    }

    func service(_ mode: STIRService.Mode, sign: [String] = []) -> STIRService {
        STIRService(configuration: .init(
            signer: SigningIdentity(key: pki.leafKey, x5u: url), signNumbers: sign, attest: .b, mode: mode,
            verifier: STIRVerifier(roots: [pki.root], source: CertificateSource(localMap: [url: chainPath]))))
    }

    var good: String { try! SigningIdentity(key: pki.leafKey, x5u: url).shaken(orig: "12025550101", dest: ["12025550102"], attest: .a).value }

    @Test func continueModeMarksAndExplains() async throws {
        let s = service(.continue)
        guard case let .proceed(add, _, verstat) = await s.decide(identities: [good], orig: "12025550101", dest: "12025550102") else {
            Issue.record("not routed"); return
        }
        #expect(verstat == "TN-Validation-Passed" && add.isEmpty)
        guard case let .proceed(add2, _, verstat2) = await s.decide(identities: [good], orig: "12025550199", dest: "12025550102") else {
            Issue.record("not routed"); return
        }
        #expect(verstat2 == "TN-Validation-Failed")
        #expect(add2.first?.0 == "Reason" && add2.first?.1 == "STIR;cause=438;text=\"Invalid Identity Header\"")
        guard case let .proceed(_, _, none) = await s.decide(identities: [], orig: "12025550101", dest: "12025550102") else {
            Issue.record("not routed"); return
        }
        #expect(none == nil, "no Identity, nothing to mark")
    }

    @Test func rejectModeAnswersTheStatus() async throws {
        let s = service(.reject)
        guard case let .reject(code, reason, headers) = await s.decide(identities: [], orig: "12025550101", dest: "12025550102") else {
            Issue.record("routed"); return
        }
        #expect(code == 428 && reason == "Use Identity Header" && headers.first?.0 == "Reason")
        if case .reject = await s.decide(identities: [good], orig: "12025550101", dest: "12025550102") { Issue.record("a good Identity was refused") }
        // A caller Baton signs for is signed, not refused, in reject mode.
        let signing = service(.reject, sign: ["1202555"])
        guard case let .proceed(add, _, _) = await signing.decide(identities: [], orig: "12025550101", dest: "12025550102") else {
            Issue.record("our own caller was refused"); return
        }
        #expect(add.contains { $0.0 == "Identity" })
    }

    @Test func signsOnlyConfiguredCallersWithoutIdentity() async throws {
        let s = service(.off, sign: ["1202555"])
        guard case let .proceed(add, _, _) = await s.decide(identities: [], orig: "12025550101", dest: "12025550102") else {
            Issue.record("not routed"); return
        }
        let value = try #require(add.first { $0.0 == "Identity" }?.1)
        let p = try PASSporT.parse(try IdentityHeader(parsing: value).jws).passport
        #expect(p.claims.orig.tn == "12025550101" && p.claims.dest.tn == ["12025550102"] && p.claims.attest == .b)
        guard case let .proceed(other, _, _) = await s.decide(identities: [], orig: "13035550101", dest: "12025550102") else { return }
        #expect(other.isEmpty, "not a number Baton signs for")
        guard case let .proceed(already, _, _) = await s.decide(identities: [good], orig: "12025550101", dest: "12025550102") else { return }
        #expect(already.isEmpty, "already signed upstream")
    }

    @Test func markPutsVerstatInTheCallerURI() throws {
        let text = "INVITE sip:+12025550102@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:+12025550101@127.0.0.1>;tag=a\r\nTo: <sip:+12025550102@127.0.0.1>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        let m = try SIPMessage.parse(Array(text.utf8))
        B2BUA.mark(m, verstat: "TN-Validation-Passed")
        #expect(m.from?.contains("<sip:+12025550101@127.0.0.1;verstat=TN-Validation-Passed>") == true, "\(m.from ?? "")")
    }

    /// Keeps identities in memory and hands each out once, as the store does.
    final class MemoryKeeper: STIRService.IdentityKeeper, @unchecked Sendable {
        let lock = NSLock()
        var kept: [String: [String]] = [:]
        func keep(orig: String, dest: String, values: [String], expires: Double) async throws {
            lock.withLock { kept["\(orig)>\(dest)"] = values }
        }
        func take(orig: String, dest: String, now: Double) async throws -> [String]? {
            lock.withLock { kept.removeValue(forKey: "\(orig)>\(dest)") }
        }
    }

    /// Identity laundering (issue 19): a forwarded INVITE gets the kept identity of its
    /// diverting number only when it comes from that number's own device, and only once.
    @Test func aKeptIdentityGoesOnlyToTheDivertingDeviceAndOnlyOnce() async throws {
        let keeper = MemoryKeeper()
        var c = STIRService.Configuration(signer: SigningIdentity(key: pki.leafKey, x5u: url), mode: .continue,
                                          verifier: STIRVerifier(roots: [pki.root], source: CertificateSource(localMap: [url: chainPath])))
        c.keeper = keeper
        c.likelyToForward = { $0 == "12025550102" }
        let s = STIRService(configuration: c)
        // A's call to B is verified and kept.
        let shaken = good
        _ = await s.decide(identities: [shaken], orig: "12025550101", dest: "12025550102")
        func identities(_ v: InviteVerdict) -> [String] {
            guard case let .proceed(add, _, _) = v else { return [] }
            return add.filter { $0.0 == "Identity" }.map(\.1)
        }
        // Forged: right headers (From A, Diversion B), sent by someone who is not B.
        let forged = await s.decide(identities: [], orig: "12025550101", dest: "12025550103", diverted: "12025550102",
                                    forwarder: ["12025550177"])
        #expect(identities(forged).isEmpty, "no kept identity, no div for a stranger")
        // B's device: the shaken field plus a div, once.
        let real = await s.decide(identities: [], orig: "12025550101", dest: "12025550103", diverted: "12025550102",
                                  forwarder: ["12025550102"])
        #expect(identities(real).count == 2 && identities(real).first == shaken)
        let again = await s.decide(identities: [], orig: "12025550101", dest: "12025550103", diverted: "12025550102",
                                   forwarder: ["12025550102"])
        #expect(identities(again).isEmpty, "a kept identity is used once")
    }

    /// "Likely to forward" from history (issue 20): B is in no list and has no rule; its
    /// device forwards A's first call, which therefore arrives at C without A's identity;
    /// Baton learns it (1 forward of 1 call: 0.5), keeps the second call's identity, and C
    /// gets it with a div. A stranger's forged forward teaches nothing.
    @Test func aNumberThatForwardedBeforeIsLikelyToForward() async throws {
        let keeper = MemoryKeeper()
        let history = ForwardingHistory(threshold: 0.2, store: nil)
        var c = STIRService.Configuration(signer: SigningIdentity(key: pki.leafKey, x5u: url), mode: .continue,
                                          verifier: STIRVerifier(roots: [pki.root], source: CertificateSource(localMap: [url: chainPath])))
        c.keeper = keeper
        c.history = history
        c.likelyToForward = { history.likely($0) }
        let s = STIRService(configuration: c)
        func identities(_ v: InviteVerdict) -> [String] {
            guard case let .proceed(add, _, _) = v else { return [] }
            return add.filter { $0.0 == "Identity" }.map(\.1)
        }
        _ = await s.decide(identities: [good], orig: "12025550101", dest: "12025550102")
        _ = await s.decide(identities: [], orig: "12025550101", dest: "12025550103", diverted: "12025550102", forwarder: ["12025550177"])
        #expect(history.counts("12025550102") == .init(calls: 1, forwards: 0), "a forged forward is not B's")
        let first = await s.decide(identities: [], orig: "12025550101", dest: "12025550103", diverted: "12025550102",
                                   forwarder: ["12025550102"])
        #expect(identities(first).isEmpty, "nothing was kept: B was not known to forward")
        #expect(history.counts("12025550102") == .init(calls: 1, forwards: 1) && history.likely("12025550102"))
        let shaken = good
        _ = await s.decide(identities: [shaken], orig: "12025550101", dest: "12025550102")
        let second = await s.decide(identities: [], orig: "12025550101", dest: "12025550103", diverted: "12025550102",
                                    forwarder: ["12025550102"])
        #expect(identities(second).count == 2 && identities(second).first == shaken, "kept from B's history, plus a div")
        // A number that rarely forwards stays below the threshold: 1 forward in 9 calls.
        for _ in 0..<8 { history.noteCall(to: "12025550109") }
        history.noteForward(by: "12025550109")
        #expect(!history.likely("12025550109"))
        #expect(!history.likely("12025550199"), "never seen")
    }

    @Test func theForwarderIsTheDigestUserOrTheRegisteredAOR() {
        #expect(STIRService.number(ofAOR: "+12025550102@127.0.0.1") == "12025550102")
        #expect(STIRService.number(ofAOR: "alice@gw") == nil)
    }
}
