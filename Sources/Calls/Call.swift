import Media
import SIP

/// A call as the call controller (``CallManager``) owns it: two parties (the caller and the
/// callee) and any number of legs, each its own signaling relationship with a device. A
/// plain call has two legs; a switchover adds a third while the new device is invited, which
/// takes its party's place when the splice commits (or goes when it fails); later kinds of
/// leg (a browser) are more legs of the same call. The HTTP API renders it as ``CallInfo``.
public struct Call: Sendable, Equatable {
    public let id: String
    public var state: CallInfo.State
    /// The caller's and callee's addresses as the call started (From and To, or the ng tags).
    public var from: String
    public var to: String
    public var legs: [Leg]
    /// Who signals for the call: the B2BUA (a SIP peer) or the ng protocol, as its first leg.
    public var control: LegControl? { legs.first?.control }

    /// The leg that currently serves `party` (not a switchover's leg still being invited).
    public func leg(_ party: CallSide) -> Leg? { legs.first { $0.role == .party(party) } }
}

/// One leg of a ``Call``: a dialog (SIP) or a tagged side (ng) with one device, and where
/// that device said it receives media.
public struct Leg: Sendable, Equatable {
    public enum Role: Sendable, Equatable {
        /// The leg that speaks for a party of the call.
        case party(CallSide)
        /// A switchover's new leg, invited to replace `replacing`'s leg; it becomes
        /// `.party(replacing)` when the splice commits.
        case incoming(replacing: CallSide)
    }
    /// The leg's number within its call: 0 the caller's first leg, then in order of creation.
    public let number: Int
    public var role: Role
    /// Who signals for this leg; nil until it is known (a switchover's leg before its answer).
    public var control: LegControl?
    /// SIP: the leg's own Call-ID.
    public var callID: String?
    /// ng: the tag naming the side (from-tag of the offerer, to-tag of the answerer).
    public var tag: String?
    /// SIP: the leg's dialog (Call-ID, Baton's tag, the device's tag), once answered.
    public var dialog: DialogID?
    /// Where the device said (SDP) it receives RTP, per stream ("address:port").
    public var advertised: [String] = []

    public init(number: Int, role: Role, control: LegControl? = nil, callID: String? = nil) {
        self.number = number; self.role = role; self.control = control; self.callID = callID
    }
}

/// Who signals for a call's legs: Baton's own B2BUA (a SIP peer it talks to), or the rtpengine
/// ng protocol (a proxy in front signals; Baton anchors the media only). An ng call is a call
/// whose legs the ng protocol controls, not a SIP call with a made-up peer.
public enum LegControl: Sendable, Equatable, CustomStringConvertible {
    case sip(SIPPeer)
    case ng
    /// As ``LegInfo/signaling`` shows it: "udp:127.0.0.1:5062", or "ng".
    public var description: String {
        switch self {
        case .sip(let peer): peer.description
        case .ng: "ng"
        }
    }
}

/// A call's life as the call controller (``CallManager``) records it, whichever protocol
/// controls its legs: the SIP B2BUA's dialog events and the ng protocol's commands both
/// become these.
public enum CallEvent: Sendable {
    case started(id: String, from: String, to: String, callerCallID: String, caller: LegControl)
    case routed(id: String, calleeCallID: String, callee: LegControl)
    /// The callee is alerting.
    case ringing(id: String)
    case answered(id: String)
    /// The dialog identifiers of both legs (after the answer, and after a switchover
    /// replaced a leg).
    case dialogs(id: String, caller: DialogID, callee: DialogID)
    case ended(id: String, by: CallSide?, reason: String)
}

/// Why the controller forwards a call (a forwarding rule's trigger): always, when the called
/// device is busy, or when it rings unanswered. Its raw values are the configuration's, the
/// API's and the store's spelling, and the `reason` Baton writes in the Diversion header
/// (RFC 5806), through ``diversion``.
public enum ForwardReason: String, Sendable, Codable, CaseIterable {
    case unconditional, busy = "user-busy", noAnswer = "no-answer"

    /// The Diversion header's reason for this trigger.
    public var diversion: DiversionReason {
        switch self {
        case .unconditional: .unconditional
        case .busy: .userBusy
        case .noAnswer: .noAnswer
        }
    }

    /// The trigger a B2BUA asks about, if Baton's rules know it.
    public init?(_ d: DiversionReason) {
        switch d {
        case .unconditional: self = .unconditional
        case .userBusy: self = .busy
        case .noAnswer: self = .noAnswer
        default: return nil
        }
    }
}
