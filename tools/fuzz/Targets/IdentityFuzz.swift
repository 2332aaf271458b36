import Crypto
import Foundation
import Identity

/// The `identity` target: Identity header values (one per line: a SHAKEN PASSporT, then
/// any `div` ones) through the header parser, the compact-JWS parser and the verifier of
/// a call's headers, chain and signature included. The certificate is served from a local
/// file (no fetch; a PASSporT naming another `info` is only parsed), signed by fixed keys
/// at a fixed time, so the committed corpus verifies from run to run.
final class IdentityFuzz: @unchecked Sendable {
    static let shared = IdentityFuzz()
    static let x5u = "https://cert.fuzz.test/shaken.pem"
    /// 2026-01-01T00:00:00Z: the verifier's clock and the corpus's `iat`.
    static let now = Date(timeIntervalSince1970: 1_767_225_600)
    let pki: DevPKI
    let verifier: STIRVerifier
    let signer: SigningIdentity

    init() {
        func key(_ byte: UInt8) -> P256.Signing.PrivateKey {
            try! P256.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: byte, count: 32))
        }
        pki = try! DevPKI(now: IdentityFuzz.now, keys: (key(1), key(2), key(3)))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("baton-fuzz-\(getpid())-shaken.pem").path
        try! pki.chainPEM().write(toFile: file, atomically: true, encoding: .utf8)
        let source = CertificateSource(localMap: [IdentityFuzz.x5u: file], now: { IdentityFuzz.now })
        verifier = STIRVerifier(roots: [pki.root], source: source, freshness: 60, now: { IdentityFuzz.now })
        signer = SigningIdentity(key: pki.leafKey, x5u: IdentityFuzz.x5u)
    }

    func run(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        var headers: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let value = String(line)
            guard let header = try? IdentityHeader(parsing: value) else { continue }
            _ = try? PASSporT.parse(header.jws)
            // Only the one certificate this process serves: any other `info` would be a fetch.
            if header.info == IdentityFuzz.x5u { headers.append(value) }
        }
        guard !headers.isEmpty else { return }
        let verifier = verifier, values = headers
        let n = blocking { await verifier.verify(headers: values, orig: nil, dest: nil) }
        if ProcessInfo.processInfo.environment["BATON_FUZZ_DEBUG"] != nil { print("identity: \(n.valid.count) valid, \(n.failures)") }
    }

    /// Seed inputs: a SHAKEN header, and a SHAKEN header with a div one, signed by the fixed leaf.
    func seeds() throws -> [String: [UInt8]] {
        let iat = Int(IdentityFuzz.now.timeIntervalSince1970)
        let shaken = PASSporT.shaken(orig: "12155551000", dest: ["12155552000"], attest: .a, x5u: IdentityFuzz.x5u,
                                     iat: iat, origid: "123e4567-e89b-12d3-a456-426655440000")
        let s = IdentityHeader(jws: try shaken.sign(with: pki.leafKey), info: IdentityFuzz.x5u, ppt: "shaken")
        let div = PASSporT.div(orig: "12155551000", diverted: "12155552000", dest: ["12155553000"], x5u: IdentityFuzz.x5u, iat: iat)
        let d = IdentityHeader(jws: try div.sign(with: pki.leafKey), info: IdentityFuzz.x5u, ppt: "div")
        return ["shaken": Array(s.value.utf8), "shaken-div": Array((s.value + "\n" + d.value).utf8)]
    }
}
