import SIP
import Settings

/// Which user owns an address: the device table (Handoff's `Devices`) answers it.
public protocol DeviceDirectory: AnyObject, Sendable {
    /// The user a device AOR ("kitchen@example.com") belongs to, if any.
    func ownerUser(aor: String) -> String?
}

/// Who may move a call (issue 19): the one place a REFER or an INVITE with Replaces is
/// authorized, before Handoff acts on it.
///
/// - With authentication off (`auth.sip = false`, loopback or a lab) nobody is checked.
/// - A REFER from an authenticated user is accepted when that user owns the side it comes
///   from (its AOR is the user's own, or a device of the user's) and the target is the
///   user's own too, or matches a `moves.refer_targets` pattern. Anything else, the far
///   party pushing the call to a premium number included, is 403.
/// - A REFER from a trusted source (a trunk in `auth.trusted`) is refused unless
///   `moves.trusted_refer` says the trunk may transfer.
/// - An INVITE with Replaces from an authenticated user is accepted only when the user owns
///   the party whose leg it replaces; from a trusted source (a proxy in front that
///   authenticated its device) it is accepted.
public struct MoveRules: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Regular expressions over the Refer-To URI any authenticated party may transfer to
        /// (`moves.refer_targets`), e.g. `^sip:(1800|support)@`.
        public var referTargets: [String] = []
        /// Whether a trusted source may REFER (`moves.trusted_refer`).
        public var trustedRefer = false
        public init() {}
    }

    public enum Decision: Sendable, Equatable {
        case allow
        case deny(String)
    }

    public let configuration: Configuration
    public weak var directory: (any DeviceDirectory)?

    public init(configuration: Configuration = .init(), directory: (any DeviceDirectory)? = nil) throws(ConfigurationError) {
        self.configuration = configuration
        self.directory = directory
        // Checked here; compiled again per REFER (rare; `Regex` is not Sendable).
        for p in configuration.referTargets {
            do { _ = try Regex(p) } catch { throw .invalid("moves.refer_targets", p, "regular expressions") }
        }
    }

    /// A REFER from `requester`, sent in the dialog of the party at `sideAOR`, to `target`.
    public func refer(from requester: SIPRequester, sideAOR: String?, target: String) -> Decision {
        switch requester {
        case .unchecked: return .allow
        case .trusted:
            return configuration.trustedRefer ? .allow : .deny("a REFER from a trusted trunk is not accepted (moves.trusted_refer)")
        case .user(let user):
            guard let side = sideAOR, owns(user, side) else {
                return .deny("\(user) is not the party of this dialog")
            }
            if let t = SIPURI(parsing: target)?.aor, owns(user, t) { return .allow }
            let allowed = configuration.referTargets.contains { p in
                guard let r = try? Regex(p) else { return false }
                return (try? r.firstMatch(in: target)) != nil
            }
            if allowed { return .allow }
            return .deny("\(target) is not a device of \(user) nor an allowed transfer target")
        }
    }

    /// An INVITE with Replaces from `requester` for the leg of the party at `sideAOR`.
    public func replaces(from requester: SIPRequester, sideAOR: String?) -> Decision {
        switch requester {
        case .unchecked, .trusted: return .allow
        case .user(let user):
            guard let side = sideAOR, owns(user, side) else { return .deny("\(user) may not take over another user's call") }
            return .allow
        }
    }

    /// `aor`'s user part is `user`, or it is one of `user`'s devices.
    func owns(_ user: String, _ aor: String) -> Bool {
        let u = user.lowercased()
        if aor.split(separator: "@").first.map({ $0.lowercased() }) == u { return true }
        return directory?.ownerUser(aor: aor)?.lowercased() == u
    }
}

extension MoveRules.Configuration {
    /// `moves.refer_targets`, `moves.trusted_refer`.
    public init(reader: SettingsReader) throws(ConfigurationError) {
        self.init()
        referTargets = reader.list("moves.refer_targets")
        trustedRefer = try reader.bool("moves.trusted_refer", default: trustedRefer)
    }
}
