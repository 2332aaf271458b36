import Testing
@testable import SIP

/// SIP digest authentication (RFC 3261 §22, RFC 8760): challenges, nonce expiry and replay,
/// the AOR a user may register, brute-force blocking; each attack answered in SIP's terms.
@Suite struct DigestAuthTests {
    final class Users: SIPCredentialSource, @unchecked Sendable {
        var table: [String: SIPCredentials] = [:]
        func credentials(user: String, realm: String) -> SIPCredentials? { table[user].flatMap { $0.realm == realm ? $0 : nil } }
    }

    /// A REGISTER (or another method) from `caller`, with these Authorization headers.
    static func message(_ method: String = "REGISTER", user: String = "alice", branch: String, auth: [String] = [],
                        proxy: Bool = false) throws -> SIPMessage {
        let uri = method == "REGISTER" ? "sip:127.0.0.1" : "sip:bob@127.0.0.1"
        var text = "\(method) \(uri) SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=\(branch)\r\n"
            + "From: <sip:\(user)@127.0.0.1>;tag=r1\r\nTo: <sip:\(method == "REGISTER" ? user : "bob")@127.0.0.1>\r\n"
            + "Call-ID: auth-\(branch)\r\nCSeq: 1 \(method)\r\nContact: <sip:\(user)@127.0.0.1:5070>\r\nMax-Forwards: 70\r\n"
        for a in auth { text += "\(proxy ? "Proxy-Authorization" : "Authorization"): \(a)\r\n" }
        text += "Content-Length: 0\r\n\r\n"
        return try SIPMessage.parse(Array(text.utf8))
    }

    /// What a phone sends back for a challenge: computed here from the RFC's formula.
    static func answer(_ challenge: String, user: String = "alice", password: String = "s3cret", method: String = "REGISTER",
                       uri: String = "sip:127.0.0.1", nc: String = "00000001", algorithm: DigestAlgorithm = .md5,
                       qop: Bool = true) -> String {
        let realm = param(challenge, "realm")!, nonce = param(challenge, "nonce")!
        let ha1 = algorithm.ha1(user: user, realm: realm, password: password)
        let cnonce = "0a4f113b"
        let response = algorithm.response(ha1: ha1, nonce: nonce, method: method, uri: uri, qop: qop ? ("auth", nc, cnonce) : nil)
        return "Digest username=\"\(user)\", realm=\"\(realm)\", nonce=\"\(nonce)\", uri=\"\(uri)\", response=\"\(response)\", algorithm=\(algorithm.rawValue)"
            + (qop ? ", qop=auth, nc=\(nc), cnonce=\"\(cnonce)\"" : "")
    }

    static func param(_ header: String, _ name: String) -> String? {
        guard let r = header.range(of: "\(name)=\"") else { return nil }
        let rest = header[r.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }

    struct Harness {
        let w = Wire()
        let clock = Clock()
        let users = Users()
        let reg: Registrar
        let b2bua: B2BUA
        init(maxFailures: Int = 5, trusted: [String] = []) throws {
            reg = Registrar(configuration: .init(), now: { [clock] in clock.now })
            b2bua = B2BUA(configuration: .init(), layer: w.layer, registrar: reg, router: try Router(routes: []))
            var c = DigestAuthenticator.Configuration()
            c.enabled = true; c.realm = "baton.test"; c.maxFailures = maxFailures; c.trusted = trusted
            c.algorithms = [.sha256, .md5]   // both, as an RFC 8760 network configures
            b2bua.authenticator = DigestAuthenticator(configuration: c, credentials: users, now: { [clock] in clock.now })
            users.table["alice"] = SIPCredentials(user: "alice", realm: "baton.test", password: "s3cret")
            w.layer.user = b2bua
        }
        /// Sends and returns the answer (advancing the loop past any deliberate delay).
        func send(_ m: SIPMessage, from peer: SIPPeer = caller) -> SIPMessage? {
            w.layer.receive(m, from: peer)
            w.advance(.seconds(3))
            return w.take().last?.0
        }
    }

    /// RFC 7616 §3.9.1's example (HTTP, but the same computation): both algorithms.
    @Test func responsesMatchTheRFCExample() {
        let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
        for (a, expected) in [(DigestAlgorithm.md5, "8ca523f5e9506fed4657c9700eebdbec"),
                              (.sha256, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")] {
            let ha1 = a.ha1(user: "Mufasa", realm: "http-auth@example.org", password: "Circle of Life")
            #expect(a.response(ha1: ha1, nonce: nonce, method: "GET", uri: "/dir/index.html",
                               qop: ("auth", "00000001", cnonce)) == expected, "\(a)")
        }
    }

    @Test func headerParsingTakesQuotedCommasAndRefusesMalformedOnes() {
        let d = DigestResponse(header: #"Digest username="a\"b", realm="r,1", nonce="n", uri="sip:x", response="f", qop=auth, nc=00000001, cnonce="c""#)
        #expect(d?.username == "a\"b" && d?.realm == "r,1" && d?.qop == "auth" && d?.nc == "00000001")
        #expect(DigestResponse(header: #"Basic dXNlcjpwYXNz"#) == nil)
        #expect(DigestResponse(header: #"Digest username="a", realm="r""#) == nil, "missing nonce/uri/response")
        #expect(DigestResponse(header: #"Digest username="a, realm="r", nonce="n", uri="u", response="x""#) == nil, "unterminated quote")
        #expect(DigestResponse(header: #"Digest username="a", username="b", realm="r", nonce="n", uri="u", response="x""#) == nil)
    }

    @Test func registerIsChallengedThenAcceptedWithBothAlgorithms() throws {
        let h = try Harness()
        let c = try #require(h.send(try Self.message(branch: "z9hG4bKa1")))
        #expect(c.statusCode == 401)
        let offered = c.headers("WWW-Authenticate")
        #expect(offered.count == 2 && offered[0].contains("algorithm=SHA-256") && offered[1].contains("algorithm=MD5"), "\(offered)")
        #expect(h.reg.count == 0, "nothing bound before the credentials")
        // Both challenges carry the same nonce: the second answer counts on (nc 2).
        for (i, a) in [DigestAlgorithm.sha256, .md5].enumerated() {
            let ok = try #require(h.send(try Self.message(branch: "z9hG4bKa2\(i)", auth: [Self.answer(offered[i], nc: "0000000\(i + 1)", algorithm: a)])))
            #expect(ok.statusCode == 200, "\(a): \(ok.statusCode)")
        }
        #expect(h.reg.lookup(aor: "alice@127.0.0.1").count == 1)
    }

    @Test func aWrongPasswordIsChallengedAgainAndBindsNothing() throws {
        let h = try Harness()
        let c = try #require(h.send(try Self.message(branch: "z9hG4bKb1")))
        let r = try #require(h.send(try Self.message(branch: "z9hG4bKb2", auth: [Self.answer(c.headers("WWW-Authenticate")[1], password: "guess")])))
        #expect(r.statusCode == 401)
        #expect(h.reg.count == 0)
        let stranger = try #require(h.send(try Self.message(user: "mallory", branch: "z9hG4bKb3",
                                                             auth: [Self.answer(c.headers("WWW-Authenticate")[1], user: "mallory")])))
        #expect(stranger.statusCode == 401, "an unknown user is challenged like a wrong password")
    }

    @Test func credentialsBindOnlyTheirOwnAOR() throws {
        let h = try Harness()
        let c = try #require(h.send(try Self.message(user: "bob", branch: "z9hG4bKc1")))
        // alice's right credentials on a REGISTER for bob's AOR.
        let r = try #require(h.send(try Self.message(user: "bob", branch: "z9hG4bKc2", auth: [Self.answer(c.headers("WWW-Authenticate")[1])])))
        #expect(r.statusCode == 403)
        #expect(h.reg.count == 0)
    }

    @Test func anExpiredNonceIsStaleAndAForgedOneIsRefused() throws {
        let h = try Harness()
        let c = try #require(h.send(try Self.message(branch: "z9hG4bKd1")))
        let challenge = c.headers("WWW-Authenticate")[1]
        h.clock.now += 301
        let stale = try #require(h.send(try Self.message(branch: "z9hG4bKd2", auth: [Self.answer(challenge)])))
        #expect(stale.statusCode == 401)
        #expect(stale.headers("WWW-Authenticate").allSatisfy { $0.contains("stale=true") }, "right password, old nonce: stale")
        let forged = challenge.replacingOccurrences(of: "nonce=\"", with: "nonce=\"0")
        let f = try #require(h.send(try Self.message(branch: "z9hG4bKd3", auth: [Self.answer(forged)])))
        #expect(f.statusCode == 401)
        #expect(!f.headers("WWW-Authenticate").contains { $0.contains("stale=true") }, "a nonce Baton never issued is not stale")
        #expect(h.reg.count == 0)
    }

    @Test func aReplayedNonceCountIsRefused() throws {
        let h = try Harness()
        let c = try #require(h.send(try Self.message(branch: "z9hG4bKe1")))
        let challenge = c.headers("WWW-Authenticate")[1]
        #expect(h.send(try Self.message(branch: "z9hG4bKe2", auth: [Self.answer(challenge, nc: "00000001")]))?.statusCode == 200)
        // The same Authorization again (a captured REGISTER replayed in a new transaction).
        #expect(h.send(try Self.message(branch: "z9hG4bKe3", auth: [Self.answer(challenge, nc: "00000001")]))?.statusCode == 401)
        // The phone's next request counts on.
        #expect(h.send(try Self.message(branch: "z9hG4bKe4", auth: [Self.answer(challenge, nc: "00000002")]))?.statusCode == 200)
        // Without qop (RFC 2069 phones) a nonce is good once.
        let c2 = try #require(h.send(try Self.message(branch: "z9hG4bKe5")))
        let old = Self.answer(c2.headers("WWW-Authenticate")[1], qop: false)
        #expect(h.send(try Self.message(branch: "z9hG4bKe6", auth: [old]))?.statusCode == 200)
        #expect(h.send(try Self.message(branch: "z9hG4bKe7", auth: [old]))?.statusCode == 401)
    }

    @Test func anInviteIsChallengedWith407AndATrustedSourceIsNot() throws {
        let h = try Harness(trusted: ["10.0.0.0/8", "::1"])
        let invite = try Self.message("INVITE", branch: "z9hG4bKf1")
        let c = try #require(h.send(invite))
        #expect(c.statusCode == 407)
        #expect(c.headers("Proxy-Authenticate").count == 2)
        let trunk = SIPPeer(transport: .udp, host: "10.1.2.3", port: 5060)
        let fromTrunk = try #require(h.send(try Self.message("INVITE", branch: "z9hG4bKf2"), from: trunk))
        #expect(fromTrunk.statusCode != 407 && fromTrunk.statusCode != 401, "a trusted trunk is not challenged: \(fromTrunk.statusCode)")
        let authed = try Self.message("INVITE", branch: "z9hG4bKf3", auth: [
            Self.answer(c.headers("Proxy-Authenticate")[0], method: "INVITE", uri: "sip:bob@127.0.0.1", algorithm: .sha256)], proxy: true)
        let r = try #require(h.send(authed))
        #expect(r.statusCode != 407, "right credentials for INVITE get past authentication: \(r.statusCode)")
    }

    @Test func repeatedFailuresBlockTheSourceForAWhile() throws {
        let h = try Harness(maxFailures: 3)
        let c = try #require(h.send(try Self.message(branch: "z9hG4bKg0")))
        let challenge = c.headers("WWW-Authenticate")[1]
        var codes: [Int] = []
        for i in 1...4 {
            codes.append(h.send(try Self.message(branch: "z9hG4bKg\(i)", auth: [Self.answer(challenge, password: "guess\(i)")]))?.statusCode ?? 0)
        }
        #expect(codes == [401, 401, 403, 403], "\(codes)")
        // Even the right password is refused while blocked; another address is not affected.
        #expect(h.send(try Self.message(branch: "z9hG4bKg5", auth: [Self.answer(challenge, nc: "00000009")]))?.statusCode == 403)
        let other = SIPPeer(transport: .udp, host: "127.0.0.2", port: 5070)
        #expect(h.send(try Self.message(branch: "z9hG4bKg6"), from: other)?.statusCode == 401)
        h.clock.now += 61
        let fresh = try #require(h.send(try Self.message(branch: "z9hG4bKg7")))
        #expect(h.send(try Self.message(branch: "z9hG4bKg8", auth: [Self.answer(fresh.headers("WWW-Authenticate")[1])]))?.statusCode == 200)
    }

    @Test func trustedBlocksMatchByPrefix() {
        #expect(IPBlock("10.0.0.0/8")?.contains("10.200.1.1") == true)
        #expect(IPBlock("10.0.0.0/8")?.contains("11.0.0.1") == false)
        #expect(IPBlock("192.168.1.7")?.contains("192.168.1.7") == true)
        #expect(IPBlock("192.168.1.7")?.contains("192.168.1.8") == false)
        #expect(IPBlock("2001:db8::/32")?.contains("[2001:db8:1::5]") == true)
        #expect(IPBlock("2001:db8::/32")?.contains("10.0.0.1") == false)
        #expect(IPBlock("not-an-ip") == nil && IPBlock("10.0.0.0/33") == nil)
    }
}
