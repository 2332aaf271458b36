import Foundation
import Logging

/// Identifies one INVITE Baton sent on a call's callee side (the call's own, or a fork's).
final class ForkToken {}

/// One more contact of the called AOR, rung in parallel (RFC 3261 §16.7's parallel search,
/// done by the B2BUA as the callee side's UAC): its own Call-ID, From tag and transaction,
/// the same anchored offer.
final class Fork {
    /// Names its transaction's events (a demoted `b` keeps the call's token it had).
    let id: ForkToken
    var dialog: Dialog
    var txn: ClientTransaction?
    var request: SIPMessage
    /// It lost (another contact answered, the call was cancelled or ended): a 2xx it still
    /// sends is ACKed and hung up.
    var lost = false
    init(dialog: Dialog, request: SIPMessage, token: ForkToken = ForkToken()) {
        self.dialog = dialog
        self.request = request
        self.id = token
    }
}

/// Forking to several registered contacts of one AOR: every contact rings, the first 2xx
/// wins and takes the callee's place in the call, the others get CANCEL (or, if they answered
/// too, ACK and BYE). A contact that fails is dropped; when the contact the call's `b` leg
/// rang fails, a ringing one takes its place, and the caller gets a final error only when
/// none is left.
extension B2BUA {
    /// Sends the call's INVITE (`base`, as sent to the first contact) to another contact.
    func startFork(_ call: Call, base: SIPMessage, to reg: Registration) {
        let m = base.clone()
        let callID = randomToken(24) + "@baton", tag = randomToken(10)
        do {
            m.removeAllVias()
            m.removeRoutes()
            try m.setRequestURI(reg.contact)
            try m.setCallID(callID)
            m.setFromTag(tag)
            try m.setContact(configuration.contact(for: reg.peer.transport))
            for p in reg.path { m.addRoute(p) }
        } catch {
            logger.warning("a registered contact is not rung (its INVITE could not be built)", metadata: [
                "call": "\(call.id)", "contact": "\(reg.contact)", "error": "\(error)"])
            return
        }
        let d = Dialog(callID: callID, localTag: tag, remoteTag: nil, localHeader: m.from ?? "", remoteHeader: call.b.remoteHeader,
                       remoteTarget: reg.contact, peer: reg.peer, localCSeq: 1)
        let fork = Fork(dialog: d, request: m)
        call.forks.append(fork)
        let token = fork.id
        fork.txn = layer.send(m, to: reg.peer, via: configuration.sentBy(for: reg.peer.transport)) { [weak self, weak call] ev in
            guard let self, let call else { return }
            self.dispatchInvite(ev, call: call, token: token)
        }
        logger.debug("forked", metadata: ["call": "\(call.id)", "contact": "\(reg.contact)"])
    }

    /// Routes an INVITE client transaction's event: the call's own (`b`) to ``inviteEvent``,
    /// a fork's to ``forkEvent``.
    func dispatchInvite(_ ev: ClientTransaction.Event, call: Call, token: ForkToken) {
        if token === call.primaryToken { inviteEvent(ev, call: call); return }
        guard let fork = call.forks.first(where: { $0.id === token }) else { return }
        forkEvent(ev, call: call, fork: fork)
    }

    func isFailure(_ ev: ClientTransaction.Event) -> Bool {
        switch ev {
        case .timeout, .transportError: return true
        case .response(let r): return r.statusCode >= 300
        }
    }

    private func forkEvent(_ ev: ClientTransaction.Event, call: Call, fork: Fork) {
        guard case .response(let r) = ev else { drop(fork, from: call); return }
        let code = r.statusCode
        if code == 100 { return }
        if let tag = r.toTag { fork.dialog.remoteTag = tag; fork.dialog.remoteHeader = r.to ?? fork.dialog.remoteHeader }
        if let target = r.contactURI(0)?.text { fork.dialog.remoteTarget = target }
        let ringing = call.state == .calling || call.state == .early
        let open = !fork.lost && !call.cancelled && ringing && call.aInvite?.state == .proceeding
        if code < 200 {
            guard open else { return }
            if call.state != .early || code == 180 { delegate?.dialogEvent(.ringing(id: call.id)) }
            call.state = .early
            _ = relayProvisional(r, call: call)
        } else if code < 300 {
            guard open else {
                // Lost the race (another contact answered first, or the call is over): its
                // dialog is confirmed and hung up at once.
                _ = fork.dialog.learnRoutes(asUAC: r)
                sendAck(on: fork.dialog, cseq: r.cseqNumber)
                sendBye(on: &fork.dialog, reason: "answered elsewhere")
                drop(fork, from: call)
                return
            }
            promote(fork, in: call, cancellingOthers: true)
            inviteEvent(ev, call: call)
        } else {
            drop(fork, from: call)
        }
    }

    private func drop(_ fork: Fork, from call: Call) { call.forks.removeAll { $0 === fork } }

    /// `fork` becomes the call's callee side (`b`): it answered first, or the contact `b` rang
    /// failed. The contact it replaces is CANCELed if it still rings (and kept as a lost fork:
    /// a 2xx of it racing the CANCEL is hung up).
    func promote(_ fork: Fork, in call: Call, cancellingOthers: Bool) {
        let old = Fork(dialog: call.b, request: call.bRequest ?? fork.request, token: call.primaryToken)
        old.txn = call.bInvite
        old.lost = true
        call.bInvite?.cancel()
        drop(fork, from: call)
        if cancellingOthers { cancelForks(call) }
        call.forks.append(old)
        dialogs[call.b.key] = nil
        call.b = fork.dialog
        call.bInvite = fork.txn
        call.bRequest = fork.request
        call.primaryToken = fork.id
        dialogs[call.b.key] = (call, .callee)
        delegate?.dialogEvent(.routed(id: call.id, calleeCallID: call.b.callID, calleePeer: call.b.peer))
    }

    /// The contacts still ringing get CANCEL (the call was answered, cancelled or ended).
    func cancelForks(_ call: Call) {
        for f in call.forks where !f.lost {
            f.lost = true
            f.txn?.cancel()
        }
    }
}
