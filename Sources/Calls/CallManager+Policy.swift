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
    public init(forwarding: ForwardingTable? = nil, stir: STIRService? = nil, moves: (any CallMoveHandler)? = nil) {
        self.forwarding = forwarding; self.stir = stir; self.moves = moves
    }
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

    public func checkInvite(_ request: SIPMessage, on loop: any EventLoop, completion: @escaping (InviteVerdict) -> Void) {
        guard let stir = currentPolicy.stir else { completion(.proceed()); return }
        stir.check(request, on: loop, completion: completion)
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

    public func referred(_ request: ReferRequest) {
        guard let moves = currentPolicy.moves else { request.transaction.respond(.notImplemented); return }
        moves.referred(request)
    }

    public func pulled(_ request: ReplacesRequest) {
        guard let moves = currentPolicy.moves else { request.transaction.respond(.notImplemented); return }
        moves.pulled(request)
    }
}
