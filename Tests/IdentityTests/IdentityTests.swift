import Crypto
import Foundation
import Testing
@testable import Identity

@Suite struct TelephoneNumberTests {
    @Test(arguments: [
        ("sip:+1-202-555-0101@example.com;user=phone", "12025550101"),
        ("\"Alice\" <sip:+12025550101@example.com>;tag=1", "12025550101"),
        ("<tel:+1(202)555.0102;phone-context=x>", "12025550102"),
        ("tel:12025550103", "12025550103"),
    ])
    func canonicalDigits(input: String, expected: String) {
        #expect(TelephoneNumber.canonical(input) == expected)
    }

    @Test(arguments: ["sip:alice@example.com", "<sip:@x>", "tel:+1234567890123456"])
    func notANumber(input: String) {
        #expect(TelephoneNumber.canonical(input) == nil)
    }
}

@Suite struct PASSporTTests {
    @Test func canonicalJSONAndSignatureForm() throws {
        let key = P256.Signing.PrivateKey()
        let p = PASSporT.shaken(orig: "12025550101", dest: ["12025550102"], attest: .a, x5u: "https://cert.example.org/sp/a.pem",
                                iat: 1_700_000_000, origid: "123e4567-e89b-12d3-a456-426655440000")
        let jws = try p.sign(with: key)
        let parts = jws.split(separator: ".")
        #expect(parts.count == 3 && !jws.contains("="))
        #expect(String(decoding: Base64URL.decode(parts[0])!, as: UTF8.self)
            == #"{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"https://cert.example.org/sp/a.pem"}"#)
        #expect(String(decoding: Base64URL.decode(parts[1])!, as: UTF8.self)
            == #"{"attest":"A","dest":{"tn":["12025550102"]},"iat":1700000000,"orig":{"tn":"12025550101"},"origid":"123e4567-e89b-12d3-a456-426655440000"}"#)
        let signed = try PASSporT.parse(jws)
        #expect(signed.signature.count == 64)
        #expect(signed.passport == p)
        let sig = try P256.Signing.ECDSASignature(rawRepresentation: signed.signature)
        #expect(key.publicKey.isValidSignature(sig, for: Data(signed.signingInput)))
    }

    @Test func identityHeaderFullFormOnly() throws {
        let h = IdentityHeader(jws: "a.b.c", info: "https://x/y.pem", ppt: "shaken")
        #expect(h.value == "a.b.c;info=<https://x/y.pem>;alg=ES256;ppt=shaken")
        #expect(try IdentityHeader(parsing: h.value) == h)
        #expect(throws: IdentityError.self) { try IdentityHeader(parsing: "a..c;info=<https://x>") }
        #expect(throws: IdentityError.badInfo("info must be <URI>, got https://x")) { try IdentityHeader(parsing: "a.b.c;info=https://x") }
        #expect(throws: IdentityError.self) { try PASSporT.parse("bm90.anNvbg.c2ln") }
    }

    @Test func tnAuthListRoundTrip() throws {
        let list = TNAuthList([.spc("1234"), .one("12025550101"), .range(start: "12025550200", count: 100)])
        let back = try TNAuthList(derEncoded: ArraySlice(try list.derEncoded()))
        #expect(back == list)
        #expect(TNAuthList([.one("1")]).authorizes("1") && !TNAuthList([.one("1")]).authorizes("2"))
        #expect(TNAuthList([.range(start: "12025550200", count: 100)]).authorizes("12025550299"))
        #expect(!TNAuthList([.range(start: "12025550200", count: 100)]).authorizes("12025550300"))
    }
}

/// The verification service against a development PKI: every rejection reason maps to its
/// SIP status (RFC 8224 §6.2.2).
@Suite struct VerifierTests {
    let pki: DevPKI
    let dir: URL
    let url = "https://cert.example.org/sp/chain.pem"
    let now: Date

    init() throws {
        pki = try DevPKI(spc: "1234")
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("baton-id-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try pki.chainPEM().write(to: dir.appendingPathComponent("chain.pem"), atomically: true, encoding: .utf8)
        now = Date()
    }

    func verifier(roots: [DevPKI]? = nil, now: Date? = nil) -> STIRVerifier {
        let t = now ?? self.now
        return STIRVerifier(roots: (roots ?? [pki]).map(\.root),
                            source: CertificateSource(localMap: [url: dir.appendingPathComponent("chain.pem").path]),
                            now: { t })
    }

    var signer: SigningIdentity { SigningIdentity(key: pki.leafKey, x5u: url) }
    var iat: Int { Int(now.timeIntervalSince1970) }

    @Test func signedByBatonVerifies() async throws {
        let h = try signer.shaken(orig: "12025550101", dest: ["12025550102"], attest: .a, iat: iat)
        let out = await verifier().verify(headers: [h.value], orig: "12025550101", dest: "12025550102")
        #expect(out.verstat == .passed && out.failures.isEmpty, "\(out.failures)")
        #expect(out.rejection == nil)
    }

    @Test func eachFailureHasItsStatus() async throws {
        let good = try signer.shaken(orig: "12025550101", dest: ["12025550102"], attest: .a, iat: iat)
        // Tampered: one signature byte changed.
        var parts = good.jws.split(separator: ".").map(String.init)
        var sig = Base64URL.decode(parts[2])!
        sig[10] ^= 1
        parts[2] = Base64URL.encode(sig)
        let tampered = IdentityHeader(jws: parts.joined(separator: "."), info: url, ppt: "shaken")
        func status(_ headers: [String], orig: String = "12025550101", verifier v: STIRVerifier? = nil) async -> Int? {
            await (v ?? verifier()).verify(headers: headers, orig: orig, dest: "12025550102").rejection?.status.0
        }
        #expect(await status([tampered.value]) == 438)
        let stale = try signer.shaken(orig: "12025550101", dest: ["12025550102"], attest: .a, iat: iat - 61)
        #expect(await status([stale.value]) == 403)
        let future = try signer.shaken(orig: "12025550101", dest: ["12025550102"], attest: .a, iat: iat + 60)
        #expect(await status([future.value]) == 403)
        let wrongInfo = try SigningIdentity(key: pki.leafKey, x5u: "file:///nonexistent/chain.pem")
            .shaken(orig: "12025550101", dest: ["12025550102"], attest: .a, iat: iat)
        #expect(await status([wrongInfo.value]) == 436)
        let other = try DevPKI(spc: "9999")
        #expect(await status([good.value], verifier: verifier(roots: [other])) == 437)
        #expect(await status([good.value], orig: "12025550199") == 438)
        #expect(await status([]) == 428)
        // One good field among bad ones is enough.
        #expect(await status([tampered.value, good.value]) == nil)
    }

    @Test func divChainLinksToTheShakenDest() async throws {
        let shaken = try signer.shaken(orig: "12025550101", dest: ["12025550102"], attest: .a, iat: iat)
        let original = try PASSporT.parse(shaken.jws).passport
        let div = try #require(try signer.div(diverting: original, to: ["12025550103"], iat: iat))
        let divClaims = try PASSporT.parse(div.jws).passport.claims
        #expect(divClaims.div?.tn == "12025550102" && divClaims.orig.tn == "12025550101" && divClaims.attest == nil && divClaims.origid == nil)
        let out = await verifier().verify(headers: [shaken.value, div.value], orig: "12025550101", dest: "12025550103")
        #expect(out.valid.count == 2 && out.verstat == .passed, "\(out.failures)")
        // No div when the destination did not change.
        #expect(try signer.div(diverting: original, to: ["12025550102"]) == nil)
        // A div that does not link (another diverted number) is refused.
        let stray = PASSporT.div(orig: "12025550101", diverted: "12025550177", dest: ["12025550103"], x5u: url, iat: iat)
        let strayHeader = IdentityHeader(jws: try stray.sign(with: pki.leafKey), info: url, ppt: "div")
        let bad = await verifier().verify(headers: [shaken.value, strayHeader.value], orig: "12025550101", dest: "12025550103")
        #expect(bad.rejection?.status.0 == 438)
    }

    /// RFC 8946: a div PASSporT is signed by the diverting number's provider; a certificate
    /// for other numbers cannot sign one (before, any trusted certificate could).
    @Test func aDivVerifiesOnlyWhenTheCertificateCoversTheDivertingNumber() async throws {
        let shaken = try signer.shaken(orig: "12025550101", dest: ["12025550102"], attest: .a, iat: iat)
        for (numbers, passes) in [([TNAuthList.Entry.one("12025550102")], true), ([.range(start: "12025550100", count: 10)], true),
                                  ([.one("12025550888")], false)] {
            let owner = try DevPKI(numbers: numbers)
            let ownerURL = "https://cert.example.org/owner-\(passes)-\(numbers.count).pem"
            let path = dir.appendingPathComponent("owner-\(UUID().uuidString.prefix(6)).pem").path
            try owner.chainPEM().write(toFile: path, atomically: true, encoding: .utf8)
            let div = PASSporT.div(orig: "12025550101", diverted: "12025550102", dest: ["12025550103"], x5u: ownerURL, iat: iat)
            let h = IdentityHeader(jws: try div.sign(with: owner.leafKey), info: ownerURL, ppt: "div")
            let v = STIRVerifier(roots: [pki.root, owner.root], source: CertificateSource(localMap: [
                url: dir.appendingPathComponent("chain.pem").path, ownerURL: path]), now: { [now] in now })
            let out = await v.verify(headers: [shaken.value, h.value], orig: "12025550101", dest: "12025550103")
            #expect((out.valid.count == 2) == passes, "\(numbers): \(out.failures)")
            if !passes { #expect(out.failures.contains { "\($0)".contains("does not cover 12025550102") }, "\(out.failures)") }
        }
    }

    @Test func certificatesAreCachedPerURL() async throws {
        let v = verifier()
        let h = try signer.shaken(orig: "12025550101", dest: ["12025550102"], attest: .b, iat: iat)
        for _ in 0..<5 { _ = try await v.verify(h.value) }
        #expect(v.source.fetches == 1)
    }
}
