import ArgumentParser
import Calls
import Foundation
import Store

/// `baton users add|list|remove`: the SIP users digest authentication (`auth.sip`) checks,
/// in the store the configuration names. A running gateway reads them at start; the HTTP
/// API changes them live.
struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Manage SIP users (digest credentials; only their HA1 hashes are stored).",
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a SIP user, or replace its password.",
            discussion: "The password is read from --password, else from the environment variable BATON_SIP_PASSWORD, else from the first line of standard input.")
        @Argument(help: "User name: the digest username and the user part of the one AOR it may register.") var user: String
        @Option(help: "The password (visible in the process list: prefer BATON_SIP_PASSWORD or standard input).") var password: String?
        @Option(help: "Realm (default: auth.realm of the configuration, i.e. the advertised SIP host).") var realm: String?
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let config = try options.load()
            guard let pw = password ?? ProcessInfo.processInfo.environment["BATON_SIP_PASSWORD"] ?? readLine(strippingNewline: true) else {
                throw ValidationError("no password given (--password, BATON_SIP_PASSWORD or standard input)")
            }
            let users = SIPUsers(store: try await config.openStore())
            let r = realm ?? config.sip.auth.realm
            do { try await users.put(user: user, realm: r, password: pw) } catch let e as SIPUsersError { throw ValidationError(e.description) }
            print("user \(user) (realm \(r)) saved in \(config.storeLocation)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List SIP users (names and realms, never credentials).")
        @OptionGroup var options: ConfigOptions
        func run() async throws {
            let config = try options.load()
            let users = SIPUsers(store: try await config.openStore())
            try await users.load()
            for u in users.all { print("\(u.user)\t\(u.realm)") }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a SIP user.")
        @Argument var user: String
        @OptionGroup var options: ConfigOptions
        func run() async throws {
            let config = try options.load()
            let users = SIPUsers(store: try await config.openStore())
            guard try await users.remove(user: user) else { throw ValidationError("no SIP user \(user)") }
            print("user \(user) removed")
        }
    }
}
