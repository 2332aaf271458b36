import Foundation
import Logging

/// SIP extensions a real peer may need on a call Baton bridges: reliable provisional
/// responses (RFC 3262, PRACK) on the callee's leg, session timers (RFC 4028) so a call whose
/// party vanished is cleaned up, and the late offer (RFC 3264 §5: an INVITE without SDP).
extension B2BUA {
    /// PRACKs a reliable provisional response of the callee (RFC 3262 §4): a request on the
    /// early dialog, its RAck naming the response's RSeq and the INVITE's CSeq. The callee
    /// stops retransmitting the response once it has it; Baton relays the response to the
    /// caller as an ordinary provisional one.
    func prack(_ r: SIPMessage, rseq: UInt32, call: Call) {
        if let target = r.contactURI(0)?.text { call.b.remoteTarget = target }
        var d = call.b
        d.remoteTag = r.toTag ?? d.remoteTag
        d.remoteHeader = r.to ?? d.remoteHeader
        _ = d.learnRoutes(asUAC: r)
        do {
            let m = try d.request(.prack, contact: configuration.contact)
            m.setHeader("RAck", "\(rseq) \(r.cseqNumber ?? 1) INVITE")
            call.b.localCSeq = d.localCSeq
            layer.send(m, to: d.peer, via: configuration.sentBy(for: d.peer.transport)) { _ in }
        } catch {
            logger.error("could not build a PRACK", metadata: ["call": "\(call.id)", "error": "\(error)"])
        }
    }

    /// The caller's ACK to a late offer's 200 (RFC 3264 §5): its SDP is the answer, anchored
    /// and sent on to the callee in Baton's ACK. No usable answer ends the call (the callee
    /// was promised one): ACK, then BYE to both.
    func lateAnswer(_ ack: SIPMessage, call: Call) {
        guard let cseq = call.lateAckCSeq else { return }
        call.lateAckCSeq = nil
        var body: [UInt8] = []
        if !ack.body.isEmpty {
            do {
                let sdp = try SessionDescription(parsing: ack.body)
                try delegate?.anchor(call: call.id, from: .caller, sdp: sdp, role: .answer, keys: keys(call, from: .caller))
                body = try sdp.serialize()
                call.sdp[.caller] = ack.body
            } catch {
                if let e = error as? SIPError { observer?.badSDP(e) }   // counted with the other bad SDP
                badInputLogs.log(logger, .warning, "bad SDP answer in a late offer's ACK: the call is ended",
                                 metadata: ["call": "\(call.id)", "error": "\(error)"])
            }
        }
        guard !body.isEmpty else {
            sendAck(on: .callee, of: call, cseq: cseq)
            sendBye(on: .caller, of: call)
            sendBye(on: .callee, of: call)
            finish(call, by: nil, reason: "late offer: no usable SDP answer in the caller's ACK")
            return
        }
        call.lateAckBody = body
        sendAck(on: .callee, of: call, cseq: cseq, body: body)
        reportDialogs(call)
    }

    /// Arms (or re-arms, on a refresh) the call's session timer from a 2xx Baton sends the
    /// requester (RFC 4028). The interval is the 2xx's Session-Expires (the callee's choice,
    /// relayed); when the callee ignored the timer but the requester asked for one and
    /// supports it, Baton answers it itself (`refresher=uac`, `Require: timer`) and keeps the
    /// timer. Without a refresh (re-INVITE or UPDATE) by `interval - min(32, interval/3)`
    /// seconds (§10), Baton sends BYE to both parties and ends the call.
    func sessionTimer(_ ok: SIPMessage, request: SIPMessage, call: Call) {
        var timer = SessionTimer(ok)
        if timer == nil, let asked = SessionTimer(request), request.supports("timer") || request.requires("timer") {
            let interval = max(asked.interval, configuration.sessionMinSE)
            ok.setHeader("Session-Expires", "\(interval);refresher=uac")
            ok.setHeader("Require", "timer")
            timer = SessionTimer(interval: interval, refresher: "uac")
        }
        call.sessionTimer?.cancel()
        call.sessionTimer = nil
        guard let timer else { call.sessionInterval = nil; return }
        call.sessionInterval = timer.interval
        let deadline = timer.interval - min(32, timer.interval / 3)
        call.sessionTimer = layer.wheel.schedule(in: .seconds(Int64(max(1, deadline)))) { [weak self, weak call] in
            guard let self, let call, call.state != .terminated else { return }
            call.sessionTimer = nil
            self.logger.notice("session expired: no refresh, the call is ended", metadata: [
                "call": "\(call.id)", "interval": "\(timer.interval) s"])
            let why = "session expired (RFC 4028: no refresh within \(timer.interval) s)"
            self.sendBye(on: .caller, of: call, reason: why)
            self.sendBye(on: .callee, of: call, reason: why)
            self.finish(call, by: nil, reason: "session expired")
        }
    }
}

/// A Session-Expires header (RFC 4028 §4): the interval in seconds and who refreshes.
struct SessionTimer: Equatable {
    var interval: Int
    var refresher: String?

    init(interval: Int, refresher: String?) { self.interval = interval; self.refresher = refresher }

    /// The message's Session-Expires (or its compact form `x`); nil without one or when it is
    /// not a number.
    init?(_ m: SIPMessage) {
        guard let v = m.header("Session-Expires") ?? m.header("x") else { return nil }
        let parts = v.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = parts.first, let n = Int(first), n > 0 else { return nil }
        interval = n
        refresher = parts.dropFirst().first { $0.lowercased().hasPrefix("refresher=") }.map { String($0.dropFirst("refresher=".count)).lowercased() }
    }
}

extension SIPMessage {
    /// Whether a Require header lists `option` (case-insensitive).
    func requires(_ option: String) -> Bool { lists(option, in: "Require") }
    /// Whether a Supported header (or its compact form `k`) lists `option`.
    func supports(_ option: String) -> Bool { lists(option, in: "Supported") || lists(option, in: "k") }

    private func lists(_ option: String, in header: String) -> Bool {
        headers(header).contains { v in v.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces).lowercased() == option } }
    }
}
