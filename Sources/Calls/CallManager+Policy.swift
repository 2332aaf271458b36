import NIOCore
import SIP
import Synchronization

/// Who acts on a device's request to move its call (REFER) or to take over a call (INVITE
/// with Replaces): the Handoff layer. It answers the SIP transaction.
public protocol CallMoveHandler: AnyObject, Sendable {
    func referred(_ request: ReferRequest)
    func pulled(_ request: ReplacesRequest)
}

/// What the call controller decides with: forwarding rules, STIR/SHAKEN, and the handler of
/// call moves. Set once at start-up (``CallManager/install(_:)``); each is optional (a
/// gateway without `[stir]` checks no identity).
public struct CallPolicy: Sendable {
    public var forwarding: ForwardingTable?
    public var stir: STIRService?
    public weak var moves: (any CallMoveHandler)?
    /// Who may move a call (REFER, INVITE with Replaces).
    public var moveRules: MoveRules?
    /// Whether the store is reachable (a shared PostgreSQL): while it is not, new SIP calls
    /// are refused with 503 (live calls carry on). nil: always.
    public var storeAvailable: (@Sendable () -> Bool)?
    /// This gateway's id in the store (`cluster.gateway_id`): answered calls are recorded as
    /// anchored here with their dialogs. nil: not recorded.
    public var gatewayID: String?
    /// Seals what an answered call needs to survive a restart (``CallResumeState``: media,
    /// SDPs, SRTP keys) into its anchor row. nil: only the dialogs are saved (a restart
    /// then ends the calls with BYE instead of resuming them).
    public var stateSealer: StateSealer?
    public init(forwarding: ForwardingTable? = nil, stir: STIRService? = nil, moves: (any CallMoveHandler)? = nil,
                moveRules: MoveRules? = nil) {
        self.forwarding = forwarding; self.stir = stir; self.moves = moves; self.moveRules = moveRules
    }
    /// The rules in force: the installed ones, else the defaults (authentication off: nobody checked).
    var rules: MoveRules? { moveRules ?? (try? MoveRules()) }
}

/// The decisions the B2BUA asks for (``B2BUADelegate``), made here, in the call layer:
/// identity (STIR), forwarding, and call moves. The B2BUA only carries them out.
extension CallManager {
    /// Installs the policy's collaborators (Serve at start-up; Handoff adds itself as
    /// ``CallPolicy/moves``).
    public func install(_ change: (inout CallPolicy) -> Void) {
        policy.withLock { change(&$0) }
    }

    var currentPolicy: CallPolicy { policy.withLock { $0 } }

    /// Why a new SIP call is refused now, if it is: the store is gone, or the session limit.
    public func admissionRefusal() -> String? {
        if let check = currentPolicy.storeAvailable, !check() {
            storeRejectedCounter.increment()
            storeLimiter.withLock { [logger] in $0.log(logger, .warning, "store unreachable: new call refused with 503") }
            return "store unavailable"
        }
        return admitsNewCall() ? nil : "session limit reached"
    }

    public func checkInvite(_ request: SIPMessage, from source: InviteSource, on loop: any EventLoop,
                            completion: @escaping (InviteVerdict) -> Void) {
        guard let stir = currentPolicy.stir else { completion(.proceed()); return }
        stir.check(request, from: source, on: loop, completion: completion)
    }

    public func redirectHeaders(request: SIPMessage, target: String) -> [(String, String)] {
        currentPolicy.stir?.divHeaders(request: request, target: target) ?? []
    }

    public func forwardingTarget(called: String, reason: DiversionReason) -> String? {
        guard let trigger = ForwardReason(reason) else { return nil }
        return currentPolicy.forwarding?.target(called: called, reason: trigger)
    }

    public func noAnswerForwarding(called: String) -> (target: String, seconds: Int)? {
        currentPolicy.forwarding?.noAnswer(called: called)
    }

    public var handlesCallMoves: Bool { currentPolicy.moves != nil }

    /// A call move asked over HTTP by a SIP user (an agent's token): the same rules as a REFER
    /// from that user's device (``MoveRules``): the user must be the party of `side`, and a
    /// `target` that names a SIP address must be the user's own device or an allowed target.
    /// A device name ("speaker", a device id) resolves among the side's own user's devices, so
    /// it needs no check. An unknown call is allowed here (the move itself answers 404).
    public func authorizeMove(call id: String, side: CallSide, byUser user: String, target: String?) -> MoveRules.Decision {
        guard let c = liveCall(id: id) else { return .allow }
        let header = side == .caller ? c.from : c.to
        let aor = SIPURI(parsing: SIPURI.addressText(header))?.aor
        guard let rules = currentPolicy.rules else { return .deny("no move rules") }
        if let target, target.contains("@") || target.lowercased().hasPrefix("sip") {
            return rules.refer(from: .user(user), sideAOR: aor, target: target)
        }
        guard let aor, rules.owns(user, aor) else { return .deny("\(user) is not the \(side.rawValue) of call \(id)") }
        return .allow
    }

    public func referred(_ request: ReferRequest) {
        let policy = currentPolicy
        guard let moves = policy.moves else { request.transaction.respond(.notImplemented); return }
        if case .deny(let why)? = policy.rules?.refer(from: request.requester, sideAOR: request.sideAOR, target: request.referTo) {
            refuseMove(request.transaction, why, call: request.call, what: "REFER", requester: request.requester)
            return
        }
        moves.referred(request)
    }

    public func pulled(_ request: ReplacesRequest) {
        let policy = currentPolicy
        guard let moves = policy.moves else { request.transaction.respond(.notImplemented); return }
        if case .deny(let why)? = policy.rules?.replaces(from: request.requester, sideAOR: request.sideAOR) {
            refuseMove(request.transaction, why, call: request.call, what: "INVITE with Replaces", requester: request.requester)
            return
        }
        moves.pulled(request)
    }

    /// 403 with the reason in a Warning; counted and logged at a rate limit. The call is untouched.
    private func refuseMove(_ t: ServerTransaction, _ why: String, call: String, what: String, requester: SIPRequester) {
        movesRefused.increment()
        moveLimiter.withLock { [logger] in
            $0.log(logger, .warning, "call move refused", metadata: ["call": "\(call)", "request": "\(what)", "why": "\(why)",
                                                                     "requester": "\(requester)"])
        }
        t.respond(SIPStatus(403, "Forbidden"), toTag: randomToken(10)) { $0.setHeader("Warning", "399 baton \"\(why)\"") }
    }
}
