import Calls
import Foundation
import Media
import NIOCore
import NIOEmbedded
import SIP

/// The `sip` target: bytes through the transport's decoder, then the transaction layer and
/// the B2BUA as `baton serve` wires them (a real call manager anchoring SDP on a relay), on
/// an embedded event loop whose clock runs 64 s after the last message, so every timer
/// (retransmission, timeout, no-answer) fires within the input.
final class SIPFuzz: @unchecked Sendable {
    static let shared = SIPFuzz()
    let calls: CallManager
    let credentials = FixedCredentials()
    let caller = SIPPeer(transport: .udp, host: "127.0.0.1", port: 5070)
    let callee = SIPPeer(transport: .udp, host: "127.0.0.1", port: 5080)
    let routes = [StaticRoute(match: ".", host: "127.0.0.1", port: 5080)]

    init() {
        calls = MediaFuzz.shared.calls
    }

    /// One B2BUA with its transaction layer on an embedded loop, recording what it sends.
    final class Gateway {
        let loop = EmbeddedEventLoop()
        let layer: TransactionLayer
        let b2bua: B2BUA

        init(calls: CallManager, routes: [StaticRoute], auth: FixedCredentials?) {
            let box = SentBox()
            // A coarse wheel: the 64 s run-out is 128 ticks, not 6400 (the same timers fire).
            var timers = TransactionTimers()
            timers.resolution = .milliseconds(500)
            let layer = TransactionLayer(loop: loop, timers: timers) { m, p in box.sent.append((m, p)) }
            self.layer = layer
            let registrar = Registrar(configuration: .init())
            b2bua = B2BUA(configuration: .init(), layer: layer, registrar: registrar,
                          router: (try? Router(routes: routes)) ?? (try! Router(routes: [])))
            b2bua.delegate = calls
            if let auth {
                var c = DigestAuthenticator.Configuration()
                c.enabled = true
                c.realm = "baton.test"
                c.algorithms = [.sha256, .md5]
                b2bua.authenticator = DigestAuthenticator(configuration: c, credentials: auth)
            }
            layer.user = b2bua
            self.box = box
        }
        let box: SentBox

        func deliver(_ bytes: [UInt8], from peer: SIPPeer) {
            switch SIPTransport.decode(bytes, maxSize: 65535) {
            case let .message(m): layer.receive(m, from: peer)
            case let .rejected(_, answer): if let answer { _ = try? answer.serialize() }
            }
            flush()
        }

        /// Serializes what went out (the serializer is exercised on derived messages too).
        func flush() {
            for (m, _) in box.sent { _ = try? m.serialize() }
            box.sent.removeAll()
        }
    }

    final class SentBox { var sent: [(SIPMessage, SIPPeer)] = [] }

    func run(_ data: [UInt8]) {
        let messages = split(data, separator: Array("\n----\n".utf8))
        for auth in [false, true] {
            let g = Gateway(calls: calls, routes: routes, auth: auth ? credentials : nil)
            for (i, m) in messages.enumerated() {
                g.deliver(m, from: i % 2 == 0 ? caller : callee)
            }
            g.loop.advanceTime(by: .seconds(64))
            g.flush()
            for c in calls.calls() { calls.release(call: c.id) }
            try? g.loop.syncShutdownGracefully()
        }
    }
}

/// One SIP user, alice / s3cret, in realm baton.test.
final class FixedCredentials: SIPCredentialSource {
    func credentials(user: String, realm: String) -> SIPCredentials? {
        user == "alice" ? SIPCredentials(user: "alice", realm: realm, password: "s3cret") : nil
    }
}
