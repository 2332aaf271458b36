import Testing
@testable import SIP

final class Clock: @unchecked Sendable { var now: Double = 1_000_000 }

@Suite struct RegistrarTests {
    func register(_ h: Wire, contact: String, expires: String = "", branch: String) throws {
        let text = "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=\(branch)\r\n"
            + "From: <sip:bob@127.0.0.1>;tag=r1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: reg1\r\nCSeq: 1 REGISTER\r\n"
            + "Contact: \(contact)\r\n\(expires)Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        h.layer.receive(try SIPMessage.parse(Array(text.utf8)), from: caller)
    }

    @Test func bindsExpiresAndRoutes() throws {
        let w = Wire()
        let clock = Clock()
        let reg = Registrar(configuration: .init(), now: { clock.now })
        let b = B2BUA(configuration: .init(), layer: w.layer, registrar: reg, router: try Router(routes: []))
        w.layer.user = b
        try register(w, contact: "<sip:bob@127.0.0.1:5070>;expires=120", branch: "z9hG4bKr1")
        let ok = try #require(w.take().first?.0)
        #expect(ok.statusCode == 200)
        #expect(ok.contact(0)?.contains("expires=120") == true)
        #expect(reg.lookup(aor: "bob@127.0.0.1").first?.contact == "sip:bob@127.0.0.1:5070")
        let uri = try #require(try SIPMessage.parse(Fixtures.bytes(Fixtures.invite())).requestURI)
        #expect(try Router(routes: []).route(uri, registrar: reg) == .registered(reg.lookup(aor: "bob@127.0.0.1")[0], uri: "sip:bob@127.0.0.1:5070"))
        clock.now += 121
        #expect(reg.lookup(aor: "bob@127.0.0.1").isEmpty)
        #expect(try Router(routes: []).route(uri, registrar: reg) == .notFound)
    }

    @Test func tooBriefIsRefusedAndZeroUnbinds() throws {
        let w = Wire()
        let reg = Registrar(configuration: .init())
        let b = B2BUA(configuration: .init(), layer: w.layer, registrar: reg, router: try Router(routes: []))
        w.layer.user = b   // weak: keep `b` alive for the test
        defer { withExtendedLifetime(b) {} }
        try register(w, contact: "<sip:bob@127.0.0.1:5070>", expires: "Expires: 10\r\n", branch: "z9hG4bKr2")
        let r = try #require(w.take().first?.0)
        #expect(r.statusCode == 423)
        #expect(r.header("Min-Expires") == "60")
        try register(w, contact: "<sip:bob@127.0.0.1:5070>", branch: "z9hG4bKr3")
        #expect(reg.count == 1)
        try register(w, contact: "*", expires: "Expires: 0\r\n", branch: "z9hG4bKr4")
        #expect(w.take().last?.0.statusCode == 200)
        #expect(reg.count == 0)
    }

    @Test func staticRoutesMatchInOrder() throws {
        let router = try Router(routes: [StaticRoute(match: "^1[0-9]+$", host: "127.0.0.1", port: 5081),
                                         StaticRoute(match: ".", host: "127.0.0.1", port: 5082, transport: .tcp)])
        let reg = Registrar(configuration: .init())
        let m1 = try SIPMessage.parse(Fixtures.bytes(Fixtures.invite(user: "1234")))
        let m2 = try SIPMessage.parse(Fixtures.bytes(Fixtures.invite(user: "alice")))
        guard case .route(let r1, let u1) = router.route(m1.requestURI!, registrar: reg) else { Issue.record("no route"); return }
        #expect(r1.port == 5081 && u1 == "sip:1234@127.0.0.1:5081")
        guard case .route(let r2, let u2) = router.route(m2.requestURI!, registrar: reg) else { Issue.record("no route"); return }
        #expect(r2.port == 5082 && u2.hasSuffix(";transport=tcp"))
        #expect(throws: SIPError.self) { try Router(routes: [StaticRoute(match: "([", host: "h")]) }
    }
}
