import ArgumentParser
import Control
import Foundation
import Store

/// `baton tokens create|list|revoke`: the HTTP API's bearer tokens (`http.auth`), in the
/// store the configuration names. A running gateway reads them at start.
struct Tokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens", abstract: "Manage HTTP API tokens (only their SHA-256 is stored; a token is shown once).",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token and print it (once).")
        @Option(help: "Who holds it (a name for the list).") var name: String
        @Option(help: "admin, application, agent or read-only.") var role: String
        @Option(help: "The tenant its requests act in (default: contact_center.tenant).") var tenant: String?
        @Option(help: "For an agent token: the agent id it may act for.") var agent: String?
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let config = try options.load()
            guard let r = APIRole(rawValue: role) else {
                throw ValidationError("role must be one of \(APIRole.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let tokens = APITokens(store: try await config.openStore())
            do {
                let (token, p) = try await tokens.create(name: name, role: r, tenant: tenant ?? config.defaultTenant, agent: agent)
                print(token)
                FileHandle.standardError.write(Data("token \(p.id) (\(p.role.rawValue), tenant \(p.tenant)) saved in \(config.storeLocation); it is not shown again\n".utf8))
            } catch let e as APITokenError { throw ValidationError(e.description) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (ids, names, roles, tenants; never secrets).")
        @OptionGroup var options: ConfigOptions
        func run() async throws {
            let tokens = APITokens(store: try await options.load().openStore())
            try await tokens.load()
            for p in tokens.all { print("\(p.id)\t\(p.name)\t\(p.role.rawValue)\t\(p.tenant)\(p.agent.map { "\tagent \($0)" } ?? "")") }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by id (restart the gateway for it to take effect).")
        @Argument var id: String
        @OptionGroup var options: ConfigOptions
        func run() async throws {
            let tokens = APITokens(store: try await options.load().openStore())
            guard try await tokens.revoke(id: id) else { throw ValidationError("no token \(id)") }
            print("token \(id) revoked")
        }
    }
}
