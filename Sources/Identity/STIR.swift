import Crypto
import Foundation
import Synchronization
import X509

/// The key and certificate URL a provider signs with (authentication service).
public struct SigningIdentity: Sendable {
    public let key: P256.Signing.PrivateKey
    /// Where verifiers fetch the certificate (the `x5u` and `info`).
    public let x5u: String

    public init(key: P256.Signing.PrivateKey, x5u: String) {
        self.key = key
        self.x5u = x5u
    }

    public init(keyPEM: String, x5u: String) throws {
        self.init(key: try P256.Signing.PrivateKey(pemRepresentation: keyPEM), x5u: x5u)
    }

    /// The Identity header for a call from `orig` to `dest` (canonical numbers).
    public func shaken(orig: String, dest: [String], attest: PASSporT.Attestation,
                       iat: Int = Int(Date().timeIntervalSince1970)) throws -> IdentityHeader {
        let p = PASSporT.shaken(orig: orig, dest: dest, attest: attest, x5u: x5u, iat: iat)
        return IdentityHeader(jws: try p.sign(with: key), info: x5u, ppt: "shaken")
    }

    /// The `div` Identity header for a call `original` names, diverted to `dest` (RFC 8946):
    /// `orig` unchanged, `div` the original destination, a fresh `iat`. nil when the
    /// destination did not change (no diversion to attest).
    public func div(diverting original: PASSporT, to dest: [String],
                    iat: Int = Int(Date().timeIntervalSince1970)) throws -> IdentityHeader? {
        guard let diverted = original.claims.dest.tn.first, dest != original.claims.dest.tn else { return nil }
        let p = PASSporT.div(orig: original.claims.orig.tn, diverted: diverted, dest: dest, x5u: x5u, iat: iat)
        return IdentityHeader(jws: try p.sign(with: key), info: x5u, ppt: "div")
    }
}

/// The verification service (RFC 8224 §6.2, ATIS-1000074 §5.3): each Identity header
/// field is parsed, its certificate fetched (cached) and checked against the trust anchors
/// (chain, validity, P-256, TNAuthList), its signature checked over the received bytes, its
/// `iat` for freshness and its `orig`/`dest` against the request.
///
/// ```swift
/// let verifier = STIRVerifier(roots: [root], source: CertificateSource())
/// let outcome = await verifier.verify(headers: invite.headers("Identity"), orig: "12025550101", dest: "12025550102")
/// outcome.verstat     // .passed
/// ```
public final class STIRVerifier: Sendable {
    /// A certificate that passed the chain checks, kept per x5u URL for as long as the
    /// source keeps the certificate (and no longer than the certificate is valid), so a
    /// busy verifier checks the chain once per URL, not once per call.
    struct Validated: Sendable {
        let fetched: Date
        let notAfter: Date
        let key: P256.Signing.PublicKey
        let tnAuth: TNAuthList
    }

    public let roots: [Certificate]
    private let validated = Mutex<[String: Validated]>([:])
    public let source: CertificateSource
    /// Seconds an `iat` may be old (RFC 8224 §6.2.2 recommends 60).
    public let freshness: Int
    private let now: @Sendable () -> Date

    public init(roots: [Certificate], source: CertificateSource, freshness: Int = 60, now: @escaping @Sendable () -> Date = Date.init) {
        self.roots = roots
        self.source = source
        self.freshness = freshness
        self.now = now
    }

    /// `verstat` (ATIS-1000074 §5.3.1) for the request passed on downstream.
    public enum Verstat: String, Sendable {
        case passed = "TN-Validation-Passed"
        case failed = "TN-Validation-Failed"
        case none = "No-TN-Validation"
    }

    public struct Outcome: Sendable {
        /// The PASSporTs that verified, in header order.
        public var valid: [PASSporT.Signed]
        /// Why each other field failed.
        public var failures: [IdentityError]
        public var verstat: Verstat {
            if valid.contains(where: { $0.passport.kind == .shaken }) { return .passed }
            return valid.isEmpty && failures.isEmpty ? .none : .failed
        }
        /// The error a rejecting verifier answers with: only when no field validated.
        public var rejection: IdentityError? {
            guard valid.isEmpty else { return nil }
            return failures.first ?? .missing
        }
    }

    /// Verifies every Identity header field of a request. `orig` is the caller's canonical
    /// number (P-Asserted-Identity else From), `dest` the called one (To). A `div` PASSporT
    /// counts only when it links to a verified PASSporT: its `div` is that one's `dest`, and
    /// both have the same `orig` (RFC 8946 §5).
    public func verify(headers: [String], orig: String?, dest: String?) async -> Outcome {
        var valid: [PASSporT.Signed] = []
        var failures: [IdentityError] = []
        var divs: [PASSporT.Signed] = []
        for h in headers {
            do {
                let signed = try await verify(h)
                if signed.passport.kind == .div { divs.append(signed); continue }
                let c = signed.passport.claims
                if let orig, c.orig.tn != orig { throw IdentityError.invalidSignature("orig \(c.orig.tn) is not the caller \(orig)") }
                // A shaken PASSporT of a diverted call names the original destination: it is
                // checked against the request's To only when no div follows.
                valid.append(signed)
            } catch let e as IdentityError {
                failures.append(e)
            } catch {
                failures.append(.invalid("\(error)"))
            }
        }
        // div chain: each div links to the previous PASSporT's dest with the same orig.
        var last = valid.last
        for d in divs {
            guard let prev = last else { failures.append(.invalidSignature("a div PASSporT without a shaken one")); continue }
            let c = d.passport.claims
            guard let diverted = c.div?.tn, prev.passport.claims.dest.tn.contains(diverted), c.orig == prev.passport.claims.orig else {
                failures.append(.invalidSignature("div PASSporT does not link to the previous dest/orig"))
                continue
            }
            valid.append(d)
            last = d
        }
        if let dest, let final = valid.last, !final.passport.claims.dest.tn.contains(dest) {
            failures.append(.invalidSignature("dest \(final.passport.claims.dest.tn) does not name the called \(dest)"))
            valid.removeAll()
        }
        return Outcome(valid: valid, failures: failures)
    }

    /// Verifies one Identity header field value: syntax, freshness, certificate, signature.
    public func verify(_ value: String) async throws(IdentityError) -> PASSporT.Signed {
        let header = try IdentityHeader(parsing: value)
        let signed = try PASSporT.parse(header.jws)
        let p = signed.passport
        if let alg = header.alg, alg != "ES256" { throw .unsupported("alg=\(alg)") }
        if let ppt = header.ppt, ppt != p.header.ppt { throw .invalid("ppt=\(ppt) but the PASSporT says \(p.header.ppt ?? "none")") }
        guard p.header.x5u == header.info else { throw .badInfo("x5u \(p.header.x5u) differs from info \(header.info)") }
        let t = Int(now().timeIntervalSince1970)
        if p.claims.iat > t + 5 { throw .staleDate("iat \(p.claims.iat) is in the future") }
        if t - p.claims.iat > freshness { throw .staleDate("iat is \(t - p.claims.iat) s old (limit \(freshness) s)") }
        let checked = try await credential(header.info)
        let key = checked.key, tnAuth = checked.tnAuth
        // A shaken PASSporT is signed for its caller; a div one by the diverting party's
        // provider, so its certificate must cover the diverting number (RFC 8946 §6).
        let signedFor = p.kind == .div ? p.claims.div?.tn : p.claims.orig.tn
        guard let tn = signedFor, tnAuth.authorizes(tn) else {
            throw .untrustedCredential("TNAuthList does not cover \(signedFor ?? "the missing div claim")")
        }
        guard let sig = try? P256.Signing.ECDSASignature(rawRepresentation: signed.signature),
              key.isValidSignature(sig, for: Data(signed.signingInput)) else {
            throw .invalidSignature("the signature does not verify")
        }
        return signed
    }

    /// The key and TNAuthList of the certificate at `url`, after the chain, validity, P-256
    /// and TNAuthList checks; cached with the certificate.
    private func credential(_ url: String) async throws(IdentityError) -> Validated {
        let t = now()
        // The per-call path: certificate and its checks cached, no suspension.
        if let certs = source.cached(url), let v = validated.withLock({ $0[url] }), v.fetched == certs.fetched, t < v.notAfter {
            return v
        }
        let certs = try await source.certificates(for: url)
        if let v = validated.withLock({ $0[url] }), v.fetched == certs.fetched, t < v.notAfter { return v }
        let leaf = certs.leaf
        var verifier = Verifier(rootCertificates: CertificateStore(roots)) { RFC5280Policy(validationTime: t) }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(certs.intermediates))
        guard case .validCertificate = result else { throw .untrustedCredential("the certificate at \(url) does not chain to a trust anchor") }
        guard let key = P256.Signing.PublicKey(leaf.publicKey) else { throw .untrustedCredential("not an EC P-256 key") }
        guard let tnAuth = TNAuthList(leaf) else { throw .untrustedCredential("no TNAuthList extension") }
        let v = Validated(fetched: certs.fetched, notAfter: leaf.notValidAfter, key: key, tnAuth: tnAuth)
        validated.withLock { $0[url] = v }
        return v
    }
}
