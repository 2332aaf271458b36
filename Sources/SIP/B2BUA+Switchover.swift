import Foundation
import NIOCore

/// What happens on a switchover's new leg (reported on the SIP loop).
public enum SwitchLegEvent: Sendable {
    /// A provisional response (180, 183) from the new device.
    case ringing(code: Int)
    /// 200 OK (already ACKed) with the new device's SDP answer.
    case answered(sdp: [UInt8])
    /// The leg failed before it could replace the old one: busy, rejected, timed out, hung up.
    case failed(SwitchLegFailure)
}

/// Why a switchover's new leg failed, as a type: the SIP status it stands for (a REFER's
/// NOTIFY reports it as sipfrag) and the text users read are derived once, here.
public enum SwitchLegFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The target answered the INVITE with a final non-2xx status (busy, declined...).
    case rejected(SIPStatus)
    /// No final response in time (Timer B).
    case noAnswer
    /// The target could not be reached (transport error).
    case unreachable
    /// A pulling device never ACKed Baton's 200 OK.
    case noAck
    /// The target hung up before the splice.
    case hungUp
    /// Baton gave the leg up (the call ended, no media, an abort); the reason says why.
    case abandoned(String)

    /// The status a REFER's NOTIFY reports (RFC 3515 sipfrag).
    public var status: SIPStatus {
        switch self {
        case .rejected(let s): s
        case .noAnswer, .noAck: .requestTimeout
        case .unreachable, .hungUp, .abandoned: .serviceUnavailable
        }
    }

    public var description: String {
        switch self {
        case .rejected(let s): "\(s)".trimmedSpaces
        case .noAnswer: "408 the target did not answer"
        case .unreachable: "503 cannot reach the target"
        case .noAck: "408 no ACK from the pulling device"
        case .hungUp: "the target hung up before the splice"
        case .abandoned(let reason): reason
        }
    }
}

/// The SIP side of a switchover's new leg: a third dialog that replaces one side of a call
/// once the media has been spliced (``B2BUA/completeSwitch(_:)``).
public final class SwitchLegHandle {
    public let call: String
    /// The side being replaced (the old device).
    public let replacing: CallSide
    var dialog: Dialog
    var transaction: ClientTransaction?
    public internal(set) var answered = false
    var done = false
    var answer: [UInt8] = []
    /// Pull (Baton is the new leg's UAS): the 200 OK retransmitted until the device's ACK.
    var pendingOK: SIPMessage?
    var okRetransmit: SIPTimer?
    /// The device being replaced sent BYE during the switchover: no BYE or NOTIFY for it
    /// afterwards, and if the switchover fails the far party is hung up too.
    public internal(set) var replacedHungUp = false
    let events: (SwitchLegEvent) -> Void

    init(call: String, replacing: CallSide, dialog: Dialog, events: @escaping (SwitchLegEvent) -> Void) {
        self.call = call
        self.replacing = replacing
        self.dialog = dialog
        self.events = events
    }

    /// The new leg's own Call-ID and where its device is.
    public var legCallID: String { dialog.callID }
    public var peer: SIPPeer { dialog.peer }
}

/// Why a switchover cannot start (mapped to HTTP errors and SIP responses above).
public enum SwitchRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    case noSuchCall(String)
    case notAnswered(String)
    case alreadyRunning(String)
    case targetNotFound(String)
    case noSDP(CallSide)

    public var description: String {
        switch self {
        case .noSuchCall(let id): "no live call \(id)"
        case .notAnswered(let id): "call \(id) is not answered yet"
        case .alreadyRunning(let id): "a switchover is already running on call \(id)"
        case .targetNotFound(let t): t.contains("(" as Character) ? "target not found: \(t)" : "target \(t) is not registered and matches no route"
        case .noSDP(let side): "the \(side.rawValue) side has not sent an SDP to offer"
        }
    }
}

extension B2BUA {
    /// Resolves a switchover target: a SIP URI ("sip:speaker@127.0.0.1:5090"), an
    /// address-of-record ("speaker@example.com") or a bare user ("speaker", on Baton's own
    /// domain), through the registrar and the static routes, as an INVITE would be.
    public func resolveTarget(_ target: String) -> (peer: SIPPeer, uri: String)? {
        var text = target.trimmedSpaces
        guard !text.isEmpty, !text.contains(where: \.isWhitespace) else { return nil }
        if text.hasPrefix("<"), text.hasSuffix(">") { text = String(text.dropFirst().dropLast()) }
        if !text.lowercased().hasPrefix("sip:") && !text.lowercased().hasPrefix("sips:") {
            text = text.contains("@" as Character) ? "sip:\(text)" : "sip:\(text)@\(configuration.sentBy)"
        }
        guard let uri = SIPURI(parsing: text) else { return nil }
        switch router.route(uri, registrar: registrar) {
        case .notFound: return nil
        case let .registered(reg, u): return (reg.peer, u)
        case let .route(r, u): return (SIPPeer(transport: r.transport, host: r.host, port: r.port), u)
        }
    }

    /// The address-of-record of the device on `side` ("user@host"): the caller's From, the
    /// callee's To.
    public func aor(call id: String, side: CallSide) -> String? {
        guard let call = calls[id] else { return nil }
        return SIPURI(parsing: SIPURI.addressText(call.dialog(side).remoteHeader))?.aor
    }

    /// A registered contact of `aor` that is not in a call (no live call has a leg there).
    public func freeContact(aor: String) -> (peer: SIPPeer, uri: String)? {
        for reg in registrar.lookup(aor: aor) {
            let peer = reg.peer
            let busy = calls.values.contains { $0.a.peer == peer || $0.b.peer == peer || $0.switchLeg?.dialog.peer == peer }
            if !busy { return (peer, reg.contact) }
        }
        return nil
    }

    /// The SDP the far side (the one that stays) last sent: what the new device is offered.
    public func farSDP(call id: String, replacing side: CallSide) throws(SwitchRefusal) -> [UInt8] {
        guard let call = calls[id] else { throw .noSuchCall(id) }
        guard call.state == .answered || call.state == .confirmed else { throw .notAnswered(id) }
        guard call.switchLeg == nil else { throw .alreadyRunning(id) }
        guard let sdp = call.sdp[side.other], !sdp.isEmpty else { throw .noSDP(side.other) }
        return sdp
    }

    /// Invites the new device with `body` (the far side's SDP, already anchored on the new
    /// leg's ports). The INVITE comes from the far party's identity, on a new dialog of its
    /// own; the far party sees nothing. `events` reports ringing, answer (ACKed) or failure.
    public func inviteSwitchLeg(call id: String, replacing side: CallSide, target: (peer: SIPPeer, uri: String),
                                body: [UInt8], headers: [(String, String)] = [],
                                events: @escaping (SwitchLegEvent) -> Void) throws(SwitchRefusal) -> SwitchLegHandle {
        guard let call = calls[id] else { throw .noSuchCall(id) }
        guard call.state == .answered || call.state == .confirmed else { throw .notAnswered(id) }
        guard call.switchLeg == nil else { throw .alreadyRunning(id) }
        let far = call.dialog(side.other)
        // The far party's identity, as the new device should see the caller.
        let identity = B2BUA.withoutTag(far.remoteHeader)
        let tag = randomToken(10)
        let callID = randomToken(24) + "@baton"
        let dialog = Dialog(callID: callID, localTag: tag, remoteTag: nil, localHeader: identity + ";tag=\(tag)",
                            remoteHeader: "<\(target.uri)>", remoteTarget: target.uri, peer: target.peer, localCSeq: 1)
        let out: SIPMessage
        do {
            out = try SIPMessage.request(method: .invite, uri: target.uri, via: nil, from: dialog.localHeader,
                                         to: dialog.remoteHeader, callID: callID, cseq: 1, contact: configuration.contact)
        } catch {
            throw .targetNotFound(target.uri)
        }
        out.setHeader("Max-Forwards", "70")
        out.setHeader("User-Agent", configuration.userAgent)
        for (k, v) in headers { out.setHeader(k, v) }
        out.setBody(body, contentType: "application/sdp")
        let leg = SwitchLegHandle(call: id, replacing: side, dialog: dialog, events: events)
        call.switchLeg = leg
        leg.transaction = layer.send(out, to: target.peer, via: configuration.sentBy) { [weak self, weak leg] ev in
            guard let self, let leg else { return }
            self.switchLegEvent(ev, leg: leg)
        }
        return leg
    }

    private func switchLegEvent(_ ev: ClientTransaction.Event, leg: SwitchLegHandle) {
        switch ev {
        case .timeout: failSwitchLeg(leg, .noAnswer)
        case .transportError: failSwitchLeg(leg, .unreachable)
        case .response(let r):
            let code = r.statusCode
            if let tag = r.toTag, leg.dialog.remoteTag == nil || code >= 200 {
                leg.dialog.remoteTag = tag
                leg.dialog.remoteHeader = r.to ?? leg.dialog.remoteHeader
            }
            if code < 200 {
                if code > 100, !leg.done { leg.events(.ringing(code: code)) }
            } else if code < 300 {
                if let target = r.contactURI(0)?.text { leg.dialog.remoteTarget = target }
                leg.dialog.learnRoutes(asUAC: r)
                sendAck(on: leg.dialog, cseq: r.cseqNumber)
                guard !leg.done else {
                    // Answered after it was given up (CANCEL lost the race): hang it up.
                    sendBye(on: &leg.dialog)
                    return
                }
                guard !leg.answered else { return }   // a retransmitted 200
                leg.answered = true
                leg.answer = r.body
                switchLegs[leg.dialog.key] = leg
                leg.events(.answered(sdp: r.body))
            } else {
                failSwitchLeg(leg, .rejected(SIPStatus(code, r.reasonPhrase ?? "")))
            }
        }
    }

    private func failSwitchLeg(_ leg: SwitchLegHandle, _ failure: SwitchLegFailure) {
        guard !leg.done else { return }
        leg.done = true
        leg.okRetransmit?.cancel()
        switchLegs[leg.dialog.key] = nil
        let call = calls[leg.call]
        if let call, call.switchLeg === leg { call.switchLeg = nil }
        leg.events(.failed(failure))
        if leg.replacedHungUp, let call, call.state != .terminated {
            sendBye(on: leg.replacing.other, of: call)
            finish(call, by: leg.replacing, reason: "BYE (the switchover it left for failed: \(failure))")
        }
    }

    /// BYE from a new device before its leg replaced the old one.
    func switchLegBye(_ req: SIPMessage, _ t: ServerTransaction) -> Bool {
        guard let callID = req.callID, let tag = req.toTag,
              let leg = switchLegs[Dialog.key(callID: callID, localTag: tag)] else { return false }
        t.respond(.ok)
        failSwitchLeg(leg, .hungUp)
        return true
    }

    /// After the splice: the old device gets BYE and the new leg takes its place in the call.
    public func completeSwitch(_ leg: SwitchLegHandle) {
        guard !leg.done, let call = calls[leg.call], call.switchLeg === leg else { return }
        leg.done = true
        call.switchLeg = nil
        switchLegs[leg.dialog.key] = nil
        let side = leg.replacing
        if !leg.replacedHungUp { sendBye(on: side, of: call) }
        dialogs[call.dialog(side).key] = nil
        store(leg.dialog, side, call)
        dialogs[leg.dialog.key] = (call, side)
        call.sdp[side] = leg.answer
        reportDialogs(call)
    }

    /// Gives up the new leg (CANCEL while it rings, BYE once answered); the call stays as it was.
    public func abandonSwitch(_ leg: SwitchLegHandle, reason: String) {
        guard !leg.done else { return }
        if leg.answered { sendBye(on: &leg.dialog) } else { leg.transaction?.cancel() }
        failSwitchLeg(leg, .abandoned(reason))
    }

    static func withoutTag(_ header: String) -> String {
        guard let r = header.range(of: ";tag=", options: .caseInsensitive) else { return header }
        let rest = header[r.upperBound...]
        let end = rest.firstIndex(where: { $0 == ";" || $0 == ">" || $0 == " " }) ?? rest.endIndex
        return String(header[..<r.lowerBound] + rest[end...])
    }
}

/// A REFER received inside a call (RFC 3515): the `side` device asks to move its call to
/// `referTo`. Baton does the move itself (a switchover) instead of passing the REFER on.
public struct ReferRequest {
    public let call: String
    public let side: CallSide
    /// The Refer-To URI without its angle brackets and header parameters.
    public let referTo: String
    public let referredBy: String?
    public let transaction: ServerTransaction
    /// Who sent the REFER (authentication's verdict) and the AOR of the side it came from:
    /// what the controller authorizes the move with.
    public let requester: SIPRequester
    public let sideAOR: String?
}

extension B2BUA {
    func refer(_ req: SIPMessage, _ t: ServerTransaction, from requester: SIPRequester) {
        guard let (call, side) = dialog(of: req) else { t.respond(.callDoesNotExist); return }
        guard let delegate, delegate.handlesCallMoves else {
            t.respond(.notImplemented) { $0.setHeader("Allow", B2BUA.allowedMethods) }
            return
        }
        guard let raw = req.header("Refer-To") ?? req.header("r"), let uri = B2BUA.referTarget(raw) else {
            t.respond(.badRequest.because("Bad Refer-To")) { $0.setHeader("Warning", "399 baton \"REFER needs a Refer-To with a SIP URI\"") }
            return
        }
        guard call.state == .answered || call.state == .confirmed else { t.respond(.requestPending); return }
        delegate.referred(ReferRequest(call: call.id, side: side, referTo: uri, referredBy: req.header("Referred-By") ?? req.header("b"),
                                       transaction: t, requester: requester, sideAOR: aor(call: call.id, side: side)))
    }

    /// "<sip:speaker@example.com?Replaces=...>;x=y" -> "sip:speaker@example.com".
    static func referTarget(_ value: String) -> String? {
        var v = SIPURI.addressText(value)
        if let q = v.firstIndex(of: "?") { v = String(v[..<q]) }
        return SIPURI(parsing: v) == nil ? nil : v
    }

    /// A NOTIFY for the implicit `refer` subscription (RFC 3515 §2.4.4), its body the
    /// status line of the new leg as message/sipfrag.
    public func notifyRefer(call id: String, side: CallSide, status: String, terminated: Bool) {
        guard let call = calls[id], call.switchLeg?.replacedHungUp != true else { return }
        var d = call.dialog(side)
        let notify: SIPMessage
        do { notify = try d.request(.notify, contact: configuration.contact) } catch {
            logger.error("could not build a NOTIFY", metadata: ["error": "\(error)"])
            return
        }
        store(d, side, call)
        notify.setHeader("Event", "refer")
        notify.setHeader("Subscription-State", terminated ? "terminated;reason=noresource" : "active;expires=60")
        notify.setBody(Array("SIP/2.0 \(status)\r\n".utf8), contentType: "message/sipfrag;version=2.0")
        layer.send(notify, to: d.peer, via: configuration.sentBy) { _ in }
    }
}

/// An INVITE with Replaces naming one leg of a call (RFC 3891): the sending device pulls
/// that leg's call to itself.
public struct ReplacesRequest {
    public let call: String
    /// The side being replaced.
    public let side: CallSide
    /// The new device's SDP offer.
    public let offer: [UInt8]
    public let request: SIPMessage
    public let transaction: ServerTransaction
    /// Who sent the INVITE and the AOR of the party whose leg it would replace.
    public let requester: SIPRequester
    public let sideAOR: String?
}

extension B2BUA {
    /// Parses "call-id;to-tag=a;from-tag=b[;early-only]".
    static func parseReplaces(_ v: String) -> (callID: String, toTag: String, fromTag: String)? {
        let parts = v.split(separator: ";").map { $0.trimmedSpaces }
        guard let callID = parts.first, !callID.isEmpty else { return nil }
        var to: String?, from: String?
        for p in parts.dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { continue }
            if kv[0].lowercased() == "to-tag" { to = kv[1] }
            if kv[0].lowercased() == "from-tag" { from = kv[1] }
        }
        guard let to, let from else { return nil }
        return (callID, to, from)
    }

    /// Pull: finds the named dialog and hands the INVITE to the handler, which answers it.
    func pull(_ req: SIPMessage, _ t: ServerTransaction, replaces: String, from requester: SIPRequester) {
        guard let r = B2BUA.parseReplaces(replaces) else {
            t.respond(.badRequest.because("Bad Replaces"), toTag: randomToken(10))
            return
        }
        // to-tag is Baton's tag on the named dialog and from-tag the device's (RFC 3891 §3);
        // the mirror image is accepted too.
        let found = [(r.toTag, r.fromTag), (r.fromTag, r.toTag)].lazy.compactMap { (local, remote) -> (Call, CallSide)? in
            guard let (call, side) = self.dialogs[Dialog.key(callID: r.callID, localTag: local)],
                  call.dialog(side).remoteTag == remote else { return nil }
            return (call, side)
        }.first
        guard let (call, side) = found, call.state == .answered || call.state == .confirmed else {
            // Several gateways on one store: the dialog may be another gateway's. The device is
            // redirected there (302, RFC 3261 §8.3: it sends the same INVITE to the Contact).
            guard found == nil, let locate = dialogLocator else {
                t.respond(.callDoesNotExist, toTag: randomToken(10))
                return
            }
            let user = req.requestURI?.user
            let loop = layer.loop
            // The transaction stays on the SIP loop: the locator's answer hops back to it.
            let bound = NIOLoopBound(t, eventLoop: loop)
            locate(r.callID) { address in
                loop.execute {
                    let t = bound.value
                    guard let address else { t.respond(.callDoesNotExist, toTag: randomToken(10)); return }
                    t.respond(SIPStatus(302, "Moved Temporarily"), toTag: randomToken(10)) {
                        try? $0.setContact("<sip:\(user.map { $0 + "@" } ?? "")\(address)>")
                        $0.setHeader("Warning", "399 baton \"the call is anchored by another gateway\"")
                    }
                }
            }
            return
        }
        guard call.switchLeg == nil else {
            t.respond(.busyHere, toTag: randomToken(10)) { $0.setHeader("Warning", "399 baton \"a switchover is already running\"") }
            return
        }
        guard !req.body.isEmpty else {
            t.respond(.notAcceptableHere, toTag: randomToken(10)) { $0.setHeader("Warning", "399 baton \"SDP offer required\"") }
            return
        }
        guard let delegate, delegate.handlesCallMoves else {
            t.respond(.notImplemented, toTag: randomToken(10))
            return
        }
        t.respond(.trying)
        delegate.pulled(ReplacesRequest(call: call.id, side: side, offer: req.body, request: req, transaction: t,
                                        requester: requester, sideAOR: aor(call: call.id, side: side)))
    }

    /// Answers a pulling device's INVITE with `body` (the far side's SDP on the new leg's
    /// ports); the 200 OK is retransmitted until its ACK, which reports `.answered`.
    public func acceptSwitchLeg(_ r: ReplacesRequest, body: [UInt8],
                                events: @escaping (SwitchLegEvent) -> Void) throws(SwitchRefusal) -> SwitchLegHandle {
        guard let call = calls[r.call] else { throw .noSuchCall(r.call) }
        guard call.switchLeg == nil else { throw .alreadyRunning(r.call) }
        let req = r.request
        let tag = randomToken(10)
        var dialog = Dialog(callID: req.callID ?? "", localTag: tag, remoteTag: req.fromTag,
                            localHeader: (req.to ?? "") + ";tag=\(tag)", remoteHeader: req.from ?? "",
                            remoteTarget: req.contactURI(0)?.text ?? req.requestURI?.text ?? "", peer: r.transaction.peer,
                            localCSeq: 0, remoteCSeq: req.cseqNumber ?? 0)
        dialog.learnRoutes(asUAS: req)
        let leg = SwitchLegHandle(call: r.call, replacing: r.side, dialog: dialog, events: events)
        leg.answer = r.offer
        leg.answered = true
        call.switchLeg = leg
        switchLegs[dialog.key] = leg
        let ok = req.makeResponse(200, "OK", toTag: tag)
        ok.edit { try $0.setContact(configuration.contact) }
        ok.setHeader("Server", configuration.userAgent)
        ok.setBody(body, contentType: "application/sdp")
        r.transaction.respond(ok)
        leg.pendingOK = ok
        retransmit2xx(ok, to: leg.dialog.peer, pending: { [weak leg] in leg.map { $0.pendingOK != nil && !$0.done } ?? false },
                      schedule: { [weak leg] in leg?.okRetransmit = $0 },
                      giveUp: { [weak self, weak leg] in
            guard let self, let leg else { return }
            leg.pendingOK = nil
            self.failSwitchLeg(leg, .noAck)
        })
        return leg
    }

    func switchLegAck(_ leg: SwitchLegHandle) {
        guard leg.pendingOK != nil, !leg.done else { return }
        leg.pendingOK = nil
        leg.okRetransmit?.cancel()
        leg.events(.answered(sdp: leg.answer))
    }
}
