import Foundation
import SIP

/// The `digest` target: a header value as `Authorization` on a REGISTER and as
/// `Proxy-Authorization` on an INVITE, through libosip2 (the message is serialized and read
/// back, as from the wire) and the authenticator; and through the header parser alone.
final class DigestFuzz: @unchecked Sendable {
    static let shared = DigestFuzz()
    let authenticator: DigestAuthenticator
    let peer = SIPPeer(transport: .udp, host: "127.0.0.1", port: 5070)

    init() {
        var c = DigestAuthenticator.Configuration()
        c.enabled = true
        c.realm = "baton.test"
        c.algorithms = [.sha256, .md5]
        // Never block the source: every input is judged on its own.
        c.maxFailures = Int.max
        authenticator = DigestAuthenticator(configuration: c, credentials: FixedCredentials())
    }

    func run(_ data: [UInt8]) {
        let value = String(decoding: data, as: UTF8.self)
        _ = DigestResponse(header: value)
        for (method, proxy) in [("REGISTER", false), ("INVITE", true)] {
            guard let m = try? SIPMessage.request(
                method: method, uri: "sip:baton.test", via: "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKfuzz",
                from: "<sip:alice@baton.test>;tag=f1", to: "<sip:alice@baton.test>", callID: "fuzz@127.0.0.1",
                cseq: 1, contact: "<sip:alice@127.0.0.1:5070>") else { continue }
            m.addHeader(proxy ? "Proxy-Authorization" : "Authorization", value)
            guard let bytes = try? m.serialize(), case let .message(read) = SIPTransport.decode(bytes, maxSize: 65535) else { continue }
            _ = authenticator.check(read, from: peer, proxy: proxy)
        }
    }
}
