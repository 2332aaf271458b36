import ArgumentParser
import Foundation

@main
struct Baton: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baton",
        abstract: "Baton: a SIP/RTP gateway that anchors the media of every call it carries.",
        subcommands: [Serve.self, CheckConfig.self, Keys.self, IdentityCommand.self, Users.self, Tokens.self, ModelCommand.self, SpeechCommand.self],
        defaultSubcommand: Serve.self)
}
