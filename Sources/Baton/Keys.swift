import ArgumentParser
import Foundation
import Identity

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
    }
}
