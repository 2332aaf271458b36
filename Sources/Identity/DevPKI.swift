import Crypto
import Foundation
import SwiftASN1
import X509

/// A development STIR/SHAKEN PKI (what `baton keys` writes): a root, an intermediate, and
/// a provider leaf certificate with a TNAuthList service provider code, all EC P-256.
/// For tests and closed networks only: real SHAKEN certificates come from an STI-CA.
public struct DevPKI: Sendable {
    public let rootKey: P256.Signing.PrivateKey
    public let root: Certificate
    public let intermediateKey: P256.Signing.PrivateKey
    public let intermediate: Certificate
    public let leafKey: P256.Signing.PrivateKey
    public let leaf: Certificate

    /// - Parameters:
    ///   - numbers: TNAuthList entries instead of the service provider code (a certificate
    ///     for given telephone numbers, RFC 8226).
    ///   - keys: root, intermediate and leaf keys to use instead of new ones (a fuzz target's
    ///     committed corpus stays signed by the same leaf from run to run).
    public init(spc: String = "1234", organization: String = "Baton development", validDays: Int = 365,
                now: Date = Date(), numbers: [TNAuthList.Entry]? = nil,
                keys: (root: P256.Signing.PrivateKey, intermediate: P256.Signing.PrivateKey, leaf: P256.Signing.PrivateKey)? = nil) throws {
        let from = now.addingTimeInterval(-3600), until = now.addingTimeInterval(Double(validDays) * 86400)
        let rootKey = keys?.root ?? P256.Signing.PrivateKey()
        let intermediateKey = keys?.intermediate ?? P256.Signing.PrivateKey()
        let leafKey = keys?.leaf ?? P256.Signing.PrivateKey()
        self.rootKey = rootKey
        self.intermediateKey = intermediateKey
        self.leafKey = leafKey
        func keyID(_ k: P256.Signing.PrivateKey) -> ArraySlice<UInt8> {
            ArraySlice(SHA256.hash(data: k.publicKey.derRepresentation).prefix(20))
        }
        let rootName = try DistinguishedName { OrganizationName(organization); CommonName("\(organization) STI root") }
        let intName = try DistinguishedName { OrganizationName(organization); CommonName("\(organization) STI-CA") }
        let leafName = try DistinguishedName { OrganizationName(organization); CommonName("SHAKEN \(spc)") }
        root = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(rootKey.publicKey), notValidBefore: from, notValidAfter: until,
            issuer: rootName, subject: rootName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(keyIdentifier: keyID(rootKey))
            },
            issuerPrivateKey: .init(rootKey))
        intermediate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(intermediateKey.publicKey), notValidBefore: from,
            notValidAfter: until, issuer: rootName, subject: intName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(keyIdentifier: keyID(intermediateKey))
                AuthorityKeyIdentifier(keyIdentifier: keyID(rootKey))
            },
            issuerPrivateKey: .init(rootKey))
        let tnAuth = try TNAuthList(numbers ?? [.spc(spc)]).derEncoded()
        leaf = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(leafKey.publicKey), notValidBefore: from, notValidAfter: until,
            issuer: intName, subject: leafName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                AuthorityKeyIdentifier(keyIdentifier: keyID(intermediateKey))
                Certificate.Extension(oid: TNAuthList.oid, critical: false, value: ArraySlice(tnAuth))
            },
            issuerPrivateKey: .init(intermediateKey))
    }

    /// What an x5u URL serves: the leaf, then the intermediate.
    public func chainPEM() throws -> String {
        try leaf.serializeAsPEM().pemString + "\n" + intermediate.serializeAsPEM().pemString + "\n"
    }

    public func rootPEM() throws -> String { try root.serializeAsPEM().pemString + "\n" }
    public var leafKeyPEM: String { leafKey.pemRepresentation + "\n" }
}
