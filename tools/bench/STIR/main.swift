// STIR/SHAKEN sign and verify rates on one core (this process's one thread), with the
// certificate cached (what a busy verifier sees), plus the cost of a first verification
// per certificate URL (fetch from a local file + chain check).
//
//   swift build -c release --product baton-stir-bench
//   .build/release/baton-stir-bench [--count 20000]
import CBatonSys
import Foundation
import Crypto
import Identity

var count = 20_000
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    if a == "--count", let v = args.popFirst().flatMap(Int.init) { count = v } else { print("unknown option \(a)"); exit(2) }
}
_ = baton_pin_cpu(0)

let pki = try DevPKI(spc: "1234")
let dir = FileManager.default.temporaryDirectory.appendingPathComponent("baton-stir-bench-\(getpid())")
try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: dir) }
let chain = dir.appendingPathComponent("chain.pem")
try pki.chainPEM().write(to: chain, atomically: true, encoding: .utf8)
let url = "https://cert.example.org/sp/chain.pem"
let signer = SigningIdentity(key: pki.leafKey, x5u: url)

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = ContinuousClock.now
    try body()
    let d = ContinuousClock.now - t0
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

var headers: [String] = []
headers.reserveCapacity(count)
let iat = Int(Date().timeIntervalSince1970)
let signTime = try seconds {
    for i in 0..<count {
        let dest = String(12025550000 + i % 10000)
        headers.append(try signer.shaken(orig: "12025550101", dest: [dest], attest: .a, iat: iat).value)
    }
}

let verifier = STIRVerifier(roots: [pki.root], source: CertificateSource(localMap: [url: chain.path]))
_ = try await verifier.verify(headers[0])   // fetch + chain check once
// The loop runs in one task off the main actor, as the SIP path's verification tasks do
// (a call from the main actor would add an executor hop to every verification).
let all = headers
let (dv, failures) = await Task.detached { () -> (Duration, Int) in
    let t0 = ContinuousClock.now
    var failed = 0
    for h in all {
        do { _ = try await verifier.verify(h) } catch { failed += 1 }
    }
    return (ContinuousClock.now - t0, failed)
}.value
let verifyTime = Double(dv.components.seconds) + Double(dv.components.attoseconds) / 1e18

// First verification per URL: a fresh verifier and source each time (file read, PEM parse,
// chain to the root, P-256 and TNAuthList checks, then the signature).
let cold = 200
let c0 = ContinuousClock.now
for i in 0..<cold {
    let v = STIRVerifier(roots: [pki.root], source: CertificateSource(localMap: [url: chain.path]))
    _ = try await v.verify(headers[i])
}
let dc = ContinuousClock.now - c0
let coldTime = Double(dc.components.seconds) + Double(dc.components.attoseconds) / 1e18

print("STIR on one core (CPU 0), \(count) PASSporTs, ES256 (swift-crypto), certificate cached after the first")
print(String(format: "sign (shaken, Identity header built):  %8.0f /s   (%.1f µs each)", Double(count) / signTime, signTime / Double(count) * 1e6))
print(String(format: "verify (parse, signature, iat, cached chain): %8.0f /s   (%.1f µs each), %d failures",
             Double(count) / verifyTime, verifyTime / Double(count) * 1e6, failures))
print(String(format: "first verify per certificate URL (fetch + chain check): %.0f µs", coldTime / Double(cold) * 1e6))

// Where a verification's time goes.
let signedOne = try PASSporT.parse(try IdentityHeader(parsing: headers[0]).jws)
let sig = try P256.Signing.ECDSASignature(rawRepresentation: signedOne.signature)
let pub = pki.leafKey.publicKey
let ecdsa = seconds { for _ in 0..<2000 { _ = pub.isValidSignature(sig, for: Data(signedOne.signingInput)) } }
let parse = try seconds { for h in headers.prefix(2000) { _ = try PASSporT.parse(try IdentityHeader(parsing: h).jws) } }
print(String(format: "  of which: ECDSA P-256 verify %.1f µs, header + PASSporT parse %.1f µs", ecdsa / 2000 * 1e6, parse / 2000 * 1e6))
let parts = try IdentityHeader(parsing: headers[0]).jws.split(separator: ".")
let claimBytes = Data(Base64URL.decode(parts[1])!)
let b64 = seconds { for _ in 0..<2000 { _ = Base64URL.decode(parts[1]) } }
let codable = try seconds { for _ in 0..<2000 { _ = try JSONDecoder().decode(PASSporT.Claims.self, from: claimBytes) } }
let serial = try seconds { for _ in 0..<2000 { _ = try JSONSerialization.jsonObject(with: claimBytes) } }
let hdrParse = try seconds { for h in headers.prefix(2000) { _ = try IdentityHeader(parsing: h) } }
print(String(format: "  base64url %.1f µs, claims JSONDecoder %.1f µs, JSONSerialization %.1f µs, Identity header split %.1f µs",
             b64 / 2000 * 1e6, codable / 2000 * 1e6, serial / 2000 * 1e6, hdrParse / 2000 * 1e6))
let sigParse = try seconds { for _ in 0..<2000 { _ = try P256.Signing.ECDSASignature(rawRepresentation: signedOne.signature) } }
let hashOnly = seconds { for _ in 0..<2000 { _ = SHA256.hash(data: Data(signedOne.signingInput)) } }
let (sameDur, _) = await Task.detached { () -> (Duration, Int) in
    let t0 = ContinuousClock.now
    for _ in 0..<2000 { _ = try? await verifier.verify(all[0]) }
    return (ContinuousClock.now - t0, 0)
}.value
let same = Double(sameDur.components.seconds) + Double(sameDur.components.attoseconds) / 1e18
print(String(format: "  signature object %.1f µs, SHA-256 of the input %.1f µs, verify of one header repeated %.1f µs",
             sigParse / 2000 * 1e6, hashOnly / 2000 * 1e6, same / 2000 * 1e6))
