import ArgumentParser
import Crypto
import Foundation
import Identity
import SwiftASN1
import X509

/// `baton keys`: a development STIR/SHAKEN PKI and the configuration that uses it.
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a development STIR/SHAKEN PKI (root, intermediate, provider certificate with a TNAuthList SPC).",
        discussion: """
            Writes root.pem (the trust anchor verifiers configure), chain.pem (the provider \
            certificate then the intermediate: what the x5u URL must serve), sp-key.pem (the \
            provider's private key) and prints where each is, with a [stir] snippet that uses them. For tests and closed \
            networks only: production SHAKEN certificates come from an STI-CA.
            """)

    @Option(help: "Directory to write into (created).") var dir = "var/stir"
    @Option(help: "Service provider code in the certificate's TNAuthList.") var spc = "1234"
    @Option(help: "URL the certificate chain will be served from (x5u/info); default: a file: URL of chain.pem.")
    var x5u: String?
    @Option(help: "Validity in days.") var days = 365
    @Flag(help: "Also write a self-signed development TLS certificate for SIP over TLS (tls-cert.pem, tls-key.pem; for 127.0.0.1, ::1 and localhost).")
    var tls = false

    func run() throws {
        let url = URL(fileURLWithPath: dir)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let pki = try DevPKI(spc: spc, validDays: days)
        let chain = url.appendingPathComponent("chain.pem"), root = url.appendingPathComponent("root.pem")
        let key = url.appendingPathComponent("sp-key.pem")
        try pki.chainPEM().write(to: chain, atomically: true, encoding: .utf8)
        try pki.rootPEM().write(to: root, atomically: true, encoding: .utf8)
        try pki.leafKeyPEM.write(to: key, atomically: true, encoding: .utf8)
        try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key.path)
        let location = x5u ?? chain.standardizedFileURL.absoluteString
        print("""
            trust anchor:        \(root.path)
            certificate chain:   \(chain.path)   (serve it at the x5u URL)
            provider key:        \(key.path)
            x5u:                 \(location)
            service provider:    \(spc)

            # configuration that signs and verifies with these keys (docs/stir.md)
            [stir]
            sign_key = "\(key.path)"
            x5u = "\(location)"
            sign_numbers = ["*"]
            verify = "continue"
            trust_anchors = ["\(root.path)"]
            # Baton never fetches a file: x5u from the network; this maps the URL to the file.
            x5u_map = ["\(location)=\(chain.path)"]
            """)
        if tls {
            let (cert, key) = try Keys.developmentTLS(days: days)
            let certURL = url.appendingPathComponent("tls-cert.pem"), keyURL = url.appendingPathComponent("tls-key.pem")
            try cert.write(to: certURL, atomically: true, encoding: .utf8)
            try key.write(to: keyURL, atomically: true, encoding: .utf8)
            try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyURL.path)
            print("""

                # SIP over TLS with a self-signed development certificate (peers must trust tls-cert.pem)
                [sip]
                tls_cert = "\(certURL.path)"
                tls_key = "\(keyURL.path)"
                """)
        }
    }

    /// A self-signed P-256 certificate for 127.0.0.1, ::1 and localhost, and its key (PEM).
    static func developmentTLS(days: Int, now: Date = Date()) throws -> (certificate: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { OrganizationName("Baton development"); CommonName("localhost") }
        let cert = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(Double(days) * 86400), issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyAgreement: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames([.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                                         .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1])))])
            },
            issuerPrivateKey: .init(key))
        return (try cert.serializeAsPEM().pemString + "\n", key.pemRepresentation + "\n")
    }
}
