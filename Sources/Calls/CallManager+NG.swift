import Foundation
import Media
import SIP

/// The Calls API as the rtpengine ng protocol drives it: a call is named by its SIP Call-ID
/// and each side by its tag (from-tag for the offerer, to-tag for the answerer).
extension CallManager {
    /// What an ng offer or answer asks for beyond anchoring.
    public struct SDPOptions: Sendable, Equatable {
        /// `ICE=remove`: strip candidates and credentials.
        public var removeICE = false
        /// `transport-protocol`: the RTP profile toward the other side (e.g. "RTP/AVP": Baton
        /// terminates the offerer's SRTP and speaks plain RTP to the answerer).
        public var transportProtocol: String?
        /// `codec` -> `transcode`: codecs Baton may add to the offer and transcode to.
        public var transcode: [String] = []
        /// What may latch the sender's media (rtpengine flags `strict-source`/`trust-address`:
        /// `.sdp`, `SIP-source-address`: `.signaling`, `media-handover`/`asymmetric`: `.any`);
        /// nil: `media.source`.
        public var source: MediaSourceRule?
        /// `received-from`: the address the proxy received the SIP message from (`.signaling`).
        public var receivedFrom: String?
        public init(removeICE: Bool = false, transportProtocol: String? = nil, transcode: [String] = []) {
            self.removeICE = removeICE
            self.transportProtocol = transportProtocol
            self.transcode = transcode
        }
    }

    /// The call id an ng call has in Baton (HTTP API, events): "ng:" + its SIP Call-ID, so
    /// it never collides with a B2BUA call's id. What kind of call it is lives in the call.
    static func ngID(_ callID: String) -> String { "ng:" + callID }

    /// Anchors an offer from `fromTag` and returns the SDP for the other side.
    /// A new Call-ID starts a call; a known one re-anchors (re-INVITE), from either side.
    public func offer(callID: String, fromTag: String, sdp: [UInt8], options: SDPOptions = .init()) throws -> [UInt8] {
        let id = CallManager.ngID(callID)
        let side = ngSide(id: id, tag: fromTag, default: .caller)
        if side == .caller && !hasCall(id) {
            guard admitsNewCall() else { throw CallsError.sessionLimit(maxSessions) }
            start(call: id, from: fromTag, to: "", callerCallID: callID, control: .ng)
            setTag(id: id, tag: fromTag, side: .caller)
        }
        return try rewrite(id: id, side: side, sdp: sdp, role: .offer(transport: options.transportProtocol), options: options)
    }

    /// Anchors the answer from `toTag` (the side that answers `fromTag`'s offer).
    public func answer(callID: String, fromTag: String, toTag: String, sdp: [UInt8], options: SDPOptions = .init()) throws -> [UInt8] {
        let id = CallManager.ngID(callID)
        guard hasCall(id) else { throw CallsError.unknownCall(callID) }
        let offerer = ngSide(id: id, tag: fromTag, default: .caller)
        let side = offerer.other
        setTag(id: id, tag: toTag, side: side)
        let out = try rewrite(id: id, side: side, sdp: sdp, role: .answer, options: options)
        if liveState(id) == .calling { callEvent(.answered(id: id)) }
        return out
    }

    /// Ends the call and frees its ports.
    public func delete(callID: String) throws {
        let id = CallManager.ngID(callID)
        guard hasCall(id) else { throw CallsError.unknownCall(callID) }
        release(call: id)
        callEvent(.ended(id: id, by: nil, reason: "delete"))
    }

    /// The live call of an ng Call-ID, with its tags.
    public func query(callID: String) throws -> (info: CallInfo, tags: [CallSide: String]) {
        let id = CallManager.ngID(callID)
        guard let info = call(id: id), info.state != .ended else { throw CallsError.unknownCall(callID) }
        return (info, tags(id: id))
    }

    /// Call-IDs of live ng calls (their legs are controlled by ng), oldest first (then by Call-ID).
    public func ngCallIDs() -> [String] {
        state.withLock { s in s.live.values.filter { $0.call.control == .ng }.sorted { ($0.record.started, $0.record.callerCallID) < ($1.record.started, $1.record.callerCallID) }.map(\.record.callerCallID) }
    }

    private func rewrite(id: String, side: CallSide, sdp bytes: [UInt8], role: SDPRole, options: SDPOptions) throws -> [UInt8] {
        let sdp = try SessionDescription(parsing: bytes)
        if options.removeICE { sdp.removeICE() }
        // Like rtpengine, ng adds codecs to an offer only when asked (`codec` -> `transcode`).
        try anchor(call: id, from: side, sdp: sdp, role: role, addCodecs: !options.transcode.isEmpty,
                   source: (options.source ?? mediaSource, options.receivedFrom))
        return try sdp.serialize()
    }
}
