// STIR/SHAKEN sign and verify rates on one core (this process's one thread), with the
// certificate cached (what a busy verifier sees), plus the cost of a first verification
// per certificate URL (fetch from a local file + chain check).
//
//   swift build -c release --product baton-stir-bench
//   .build/release/baton-stir-bench [--count 20000]
import CBatonSys
import Foundation
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
let t0 = ContinuousClock.now
var failures = 0
for h in headers {
    do { _ = try await verifier.verify(h) } catch { failures += 1 }
}
let dv = ContinuousClock.now - t0
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
