import Calls
import SIP
import Settings
import Testing

/// Who may move a call (issue 19): REFER and INVITE-with-Replaces authorization.
@Suite struct MoveRulesTests {
    final class Directory: DeviceDirectory, @unchecked Sendable {
        var owners: [String: String] = [:]
        func ownerUser(aor: String) -> String? { owners[aor] }
    }

    @Test func authenticationOffChecksNobody() throws {
        let rules = try MoveRules()
        #expect(rules.refer(from: .unchecked, sideAOR: "far@carrier", target: "sip:19005550100@carrier") == .allow)
        #expect(rules.replaces(from: .unchecked, sideAOR: "bob@gw") == .allow)
    }

    @Test func aUserMovesOnlyItsOwnSideToItsOwnDevices() throws {
        let dir = Directory()
        dir.owners["kitchen@gw"] = "alice"
        dir.owners["desk-7@gw"] = "alice"
        let rules = try MoveRules(directory: dir)
        // alice's own phone (AOR alice@gw, or a device of hers) to her kitchen speaker.
        #expect(rules.refer(from: .user("alice"), sideAOR: "alice@gw", target: "sip:kitchen@gw") == .allow)
        #expect(rules.refer(from: .user("alice"), sideAOR: "desk-7@gw", target: "sip:alice@gw") == .allow)
        // To a premium number: refused (toll fraud).
        guard case .deny(let why) = rules.refer(from: .user("alice"), sideAOR: "alice@gw", target: "sip:19005550100@carrier") else {
            Issue.record("a premium number must be refused"); return
        }
        #expect(why.contains("19005550100"))
        // From a dialog that is not alice's (she authenticated, but it is bob's leg).
        #expect(rules.refer(from: .user("alice"), sideAOR: "bob@gw", target: "sip:kitchen@gw") != .allow)
        #expect(rules.refer(from: .user("alice"), sideAOR: nil, target: "sip:kitchen@gw") != .allow)
    }

    @Test func configuredTargetsAndTrustedTrunks() throws {
        var c = MoveRules.Configuration()
        c.referTargets = ["^sip:(1800[0-9]+|support)@"]
        let rules = try MoveRules(configuration: c)
        #expect(rules.refer(from: .user("alice"), sideAOR: "alice@gw", target: "sip:support@callcenter") == .allow)
        #expect(rules.refer(from: .user("alice"), sideAOR: "alice@gw", target: "sip:18005550100@carrier") == .allow)
        #expect(rules.refer(from: .user("alice"), sideAOR: "alice@gw", target: "sip:19005550100@carrier") != .allow)
        #expect(rules.refer(from: .trusted, sideAOR: "far@carrier", target: "sip:support@callcenter") != .allow,
                "a trunk's REFER is refused unless moves.trusted_refer")
        c.trustedRefer = true
        #expect(try MoveRules(configuration: c).refer(from: .trusted, sideAOR: "far@carrier", target: "sip:x@y") == .allow)
        c.referTargets = ["(["]
        #expect(throws: ConfigurationError.self) { try MoveRules(configuration: c) }
    }

    @Test func replacesOnlyFromTheReplacedPartysOwnDevices() throws {
        let dir = Directory()
        dir.owners["kitchen@gw"] = "bob"
        let rules = try MoveRules(directory: dir)
        #expect(rules.replaces(from: .user("bob"), sideAOR: "bob@gw") == .allow)
        #expect(rules.replaces(from: .user("bob"), sideAOR: "kitchen@gw") == .allow)
        #expect(rules.replaces(from: .user("mallory"), sideAOR: "bob@gw") != .allow, "a stranger takes over nobody's call")
        #expect(rules.replaces(from: .trusted, sideAOR: "bob@gw") == .allow, "a proxy in front authenticated its device")
    }
}
