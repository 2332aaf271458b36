import ArgumentParser
import Foundation
import Identity
import X509

/// `baton identity sign|verify`: Baton's STIR authentication and verification services on
/// the command line (what the SIP path uses), for checking interop with other STIR stacks.
struct IdentityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identity",
        abstract: "Sign or verify a STIR/SHAKEN Identity header (RFC 8224/8588) with Baton's code.",
        subcommands: [Sign.self, Verify.self])

    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print an Identity header value (full form) for a call.")
        @Option(help: "PEM private key of the provider (P-256).") var key: String
        @Option(help: "x5u/info URL of the provider's certificate chain.") var x5u: String
        @Option(help: "Calling number (any form: +1 202-555-0101, sip:...).") var orig: String
        @Option(help: "Called number.") var dest: String
        @Option(help: "Attestation: A, B or C.") var attest = "A"
        @Option(help: "Issued-at (Unix seconds); default now.") var iat: Int?
        @Option(help: "Diverted to (adds a div PASSporT after the shaken one, RFC 8946).") var divertTo: String?

        func run() throws {
            guard let o = TelephoneNumber.canonical(orig), let d = TelephoneNumber.canonical(dest) else {
                throw ValidationError("orig and dest must be telephone numbers")
            }
            guard let level = PASSporT.Attestation(rawValue: attest.uppercased()) else { throw ValidationError("attest must be A, B or C") }
            let signer = try SigningIdentity(keyPEM: try String(contentsOfFile: key, encoding: .utf8), x5u: x5u)
            let t = iat ?? Int(Date().timeIntervalSince1970)
            let shaken = try signer.shaken(orig: o, dest: [d], attest: level, iat: t)
            print(shaken.value)
            if let divertTo {
                guard let n = TelephoneNumber.canonical(divertTo) else { throw ValidationError("divert-to must be a telephone number") }
                if let div = try signer.div(diverting: try PASSporT.parse(shaken.jws).passport, to: [n], iat: t) { print(div.value) }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify Identity header values (one per line on stdin, or --header); print verstat and the SIP status.",
            discussion: "Exit status 0 when the request would pass (TN-Validation-Passed), 1 otherwise.")
        @Option(help: "PEM trust anchors (repeatable).") var trust: [String]
        @Option(help: "An Identity header value (repeatable); default: lines of stdin.") var header: [String] = []
        @Option(help: "The request's calling number (P-Asserted-Identity or From).") var orig: String?
        @Option(help: "The request's called number (To).") var dest: String?
        @Option(help: "Freshness limit for iat, seconds.") var freshness = 60
        @Option(help: "Map an x5u URL to a local file: URL=PATH (repeatable).") var map: [String] = []
        @Flag(help: "Fetch http x5u URLs too (development; https only otherwise).") var allowHTTP = false

        func run() async throws {
            var roots: [Certificate] = []
            for path in trust { roots += try PEMCertificates.load(path) }
            var local: [String: String] = [:]
            for m in map {
                guard let eq = m.firstIndex(of: "=") else { throw ValidationError("--map URL=PATH") }
                local[String(m[..<eq])] = String(m[m.index(after: eq)...])
            }
            var values = header
            if values.isEmpty { while let line = readLine() { if !line.isEmpty { values.append(line) } } }
            var policy = CertificateSource.Policy()
            policy.allowHTTP = allowHTTP
            let verifier = STIRVerifier(roots: roots, source: CertificateSource(localMap: local, policy: policy), freshness: freshness)
            let out = await verifier.verify(headers: values, orig: orig.flatMap(TelephoneNumber.canonical),
                                            dest: dest.flatMap(TelephoneNumber.canonical))
            print("verstat=\(out.verstat.rawValue)")
            for v in out.valid { print("valid ppt=\(v.passport.header.ppt ?? "-") orig=\(v.passport.claims.orig.tn) dest=\(v.passport.claims.dest.tn.joined(separator: ","))") }
            for f in out.failures { print("failed \(f.status.0) \(f.status.1): \(f)") }
            if let r = out.rejection { print("reject \(r.status.0) \(r.status.1)") }
            if out.verstat != .passed { throw ExitCode(1) }
        }
    }
}
