import Testing
@testable import SIP

/// SUBSCRIBE/NOTIFY (RFC 6665) for the dialog package, through the B2BUA on an in-memory wire.
@Suite struct SubscriptionTests {
    static let watcher = SIPPeer(transport: .udp, host: "127.0.0.1", port: 5090)

    static func subscribe(event: String = "dialog", expires: Int? = 120, toTag: String? = nil, cseq: Int = 1) -> String {
        var s = "SUBSCRIBE sip:alice@127.0.0.1 SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK-sub-\(cseq)\r\n"
            + "From: <sip:watcher@127.0.0.1>;tag=w1\r\n"
            + "To: <sip:alice@127.0.0.1>\(toTag.map { ";tag=\($0)" } ?? "")\r\n"
            + "Call-ID: sub-1@127.0.0.1\r\nCSeq: \(cseq) SUBSCRIBE\r\n"
            + "Contact: <sip:watcher@127.0.0.1:5090>\r\nEvent: \(event)\r\nMax-Forwards: 70\r\n"
        if let expires { s += "Expires: \(expires)\r\n" }
        return s + "Content-Length: 0\r\n\r\n"
    }

    @Test func subscribeNotifyRefreshAndEnd() throws {
        let h = try B2BHarness()
        var rendered: [(String, Int)] = []
        h.b2bua.addEventPackage("dialog") { resource, entity, version in
            rendered.append((resource, version))
            return (Array("<dialog-info entity=\"\(entity)\" version=\"\(version)\"/>".utf8), DialogInfo.contentType)
        }
        try h.deliver(Self.subscribe(), from: Self.watcher)
        var out = h.sent(to: Self.watcher)
        let ok = try #require(out.first { $0.statusCode == 200 })
        #expect(ok.header("Expires") == "120")
        let tag = try #require(ok.toTag)
        let notify = try #require(out.first { $0.method == "NOTIFY" })
        #expect(notify.header("Event") == "dialog")
        #expect(notify.header("Subscription-State")?.hasPrefix("active;expires=") == true)
        #expect(String(decoding: notify.body, as: UTF8.self).contains("entity=\"sip:alice@127.0.0.1\" version=\"1\""))
        #expect(notify.requestURI?.text == "sip:watcher@127.0.0.1:5090")
        #expect(rendered.map(\.0) == ["alice"])
        #expect(h.b2bua.subscriptionCount == 1)

        // A change for alice: one NOTIFY, version 2; a change for someone else: none.
        h.b2bua.notifySubscribers(package: "dialog", resource: "ALICE")
        h.b2bua.notifySubscribers(package: "dialog", resource: "bob")
        out = h.sent(to: Self.watcher)
        #expect(out.filter { $0.method == "NOTIFY" }.count == 1)
        #expect(rendered.last?.1 == 2)

        // Refresh in the dialog, then unsubscribe: 200 and a final NOTIFY.
        try h.deliver(Self.subscribe(expires: 300, toTag: tag, cseq: 2), from: Self.watcher)
        out = h.sent(to: Self.watcher)
        #expect(out.first { $0.statusCode == 200 }?.header("Expires") == "300")
        try h.deliver(Self.subscribe(expires: 0, toTag: tag, cseq: 3), from: Self.watcher)
        out = h.sent(to: Self.watcher)
        #expect(out.contains { $0.statusCode == 200 })
        #expect(out.first { $0.method == "NOTIFY" }?.header("Subscription-State") == "terminated;reason=timeout")
        #expect(h.b2bua.subscriptionCount == 0)
        // The dialog is gone now.
        try h.deliver(Self.subscribe(expires: 60, toTag: tag, cseq: 4), from: Self.watcher)
        #expect(h.sent(to: Self.watcher).first?.statusCode == 481)
    }

    @Test func badSubscriptionsGetTheirStatus() throws {
        let h = try B2BHarness()
        h.b2bua.addEventPackage("dialog") { _, _, _ in ([], DialogInfo.contentType) }
        try h.deliver(Self.subscribe(event: "presence"), from: Self.watcher)
        let bad = try #require(h.sent(to: Self.watcher).first)
        #expect(bad.statusCode == 489 && bad.header("Allow-Events") == "dialog")
        try h.deliver(Self.subscribe(expires: 10, cseq: 2), from: Self.watcher)
        let brief = try #require(h.sent(to: Self.watcher).first)
        #expect(brief.statusCode == 423 && brief.header("Min-Expires") == "60")
        try h.deliver(Self.subscribe(expires: 99999, cseq: 3), from: Self.watcher)
        #expect(h.sent(to: Self.watcher).first { $0.statusCode == 200 }?.header("Expires") == "3600")
        #expect(h.b2bua.subscriptionCount == 1)
    }
}
