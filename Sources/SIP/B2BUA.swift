import Foundation
import Logging
import NIOCore

/// Which leg of a B2BUA call: the caller (A, Baton is its UAS) or the callee (B, Baton is its UAC).
public enum CallSide: String, Sendable, Codable {
    case caller, callee
    public var other: CallSide { self == .caller ? .callee : .caller }
}

/// What the B2BUA reports about the two dialogs it bridges, in SIP terms: the caller's
/// INVITE, where it was routed, the callee's provisional and final answers, the dialog
/// identifiers, the end. The call controller (Calls) turns these into its own `CallEvent`s;
/// SIP keeps no call state beyond its dialogs.
public enum DialogEvent: Sendable {
    case invited(id: String, from: String, to: String, callerCallID: String, callerPeer: SIPPeer)
    case routed(id: String, calleeCallID: String, calleePeer: SIPPeer)
    /// The callee is alerting (a 180/183 relayed to the caller).
    case ringing(id: String)
    case answered(id: String)
    /// The dialog identifiers of both legs (after the answer, and after a switchover
    /// replaced a leg): what a device needs to name a dialog, e.g. in a Replaces header.
    case dialogs(id: String, caller: DialogID, callee: DialogID)
    case ended(id: String, by: CallSide?, reason: String)
}

/// The `reason` of a Diversion header (RFC 5806 §4, the values Baton writes): why a call
/// was sent on to another target.
public enum DiversionReason: String, Sendable, CaseIterable {
    case unconditional
    case userBusy = "user-busy"
    case noAnswer = "no-answer"
    /// A 3xx from the called device sent the call elsewhere.
    case deflection
    case unknown
}

/// Where a new INVITE comes from, for the checks before routing: who authentication says
/// sent it, and which AORs the sending address is registered for (filled only for a
/// forwarded INVITE, one with Diversion or History-Info: STIR gives a kept identity only to
/// the forwarding user's own device).
public struct InviteSource: Sendable, Equatable {
    public var requester: SIPRequester
    public var registeredAORs: [String]
    public init(requester: SIPRequester = .unchecked, registeredAORs: [String] = []) {
        self.requester = requester; self.registeredAORs = registeredAORs
    }
}

/// What a check that runs before routing (STIR verification and signing) decides for a new
/// INVITE.
public enum InviteVerdict: Sendable {
    /// Route it, after removing the named headers, adding these, and marking the caller's
    /// identity (P-Asserted-Identity, else From) with `verstat` (ATIS-1000074).
    case proceed(add: [(String, String)] = [], remove: [String] = [], verstat: String? = nil)
    /// Answer with this status (and headers, e.g. a Reason) and route nothing.
    case reject(code: Int, reason: String, headers: [(String, String)] = [])
}

/// Which half of an offer/answer exchange (RFC 3264) an SDP body is.
/// Whether SDES keys (a=crypto) may cross the signaling to each side of an offer/answer:
/// yes over TLS, else only where the configuration allows keys in clear (a lab, a trunk on a
/// private network). Keys in a SIP message over UDP or TCP are readable by anyone on the path,
/// which makes the SRTP they protect no better than RTP.
public struct SDESExposure: Sendable, Equatable {
    /// Keys may go back to the side that sent this SDP (in the answer to its offer).
    public var toSender: Bool
    /// Keys may go to the side this SDP is rewritten for.
    public var toRecipient: Bool
    public init(toSender: Bool, toRecipient: Bool) { self.toSender = toSender; self.toRecipient = toRecipient }
    /// Keys may go anywhere (ng: the proxy in front decides; tests).
    public static let allowed = SDESExposure(toSender: true, toRecipient: true)
}

public enum SDPRole: Sendable, Equatable {
    /// An offer; `transport` asks for another RTP profile toward the other side
    /// ("RTP/AVP" to bridge an SRTP offerer to plain RTP, "RTP/SAVP" for the reverse).
    case offer(transport: String?)
    /// The answer to the other side's pending offer.
    case answer
}

/// What the B2BUA needs from the layer above it, the call controller: media anchoring, call
/// bookkeeping, and every decision about a call (admission, identity, forwarding, a device
/// moving or taking over its call). One typed protocol instead of a closure per decision; a
/// method left at its default means "not decided above": admit, check nothing, forward
/// nothing, answer REFER and INVITE-with-Replaces with 501.
/// Called on the SIP event loop; implementations must not block.
public protocol B2BUADelegate: AnyObject {
    /// Anchors the media of an SDP body that `side` sent and rewrites it, in place, for the
    /// other side (codecs, SRTP keys and profile per leg, as negotiated).
    /// `keys` says where SDES keys may be written: an SDP over a leg that is not TLS would
    /// carry them in clear (`sip.sdes_in_clear` and the route's `sdes_in_clear` allow it).
    func anchor(call: String, from side: CallSide, sdp: SessionDescription, role: SDPRole, keys: SDESExposure) throws
    /// Releases the call's media.
    func release(call: String)
    /// The life of the bridged dialogs (the controller keeps the call's state).
    func dialogEvent(_ event: DialogEvent)
    /// Both legs' dialogs as they stand once the call is answered (and after a switchover
    /// replaced a leg, an in-dialog request moved a CSeq, an offer/answer changed an SDP):
    /// what another gateway needs to end the call if this one is lost, and with `session`
    /// what this gateway needs to resume it after a restart (``B2BUA/resume(call:caller:callee:session:cseqMargin:)``).
    func dialogsConfirmed(call id: String, caller: DialogSnapshot, callee: DialogSnapshot, session: B2BUA.SessionState)
    /// Whether a new call may start now (a session limit); false answers the INVITE with 503.
    func admitsNewCall() -> Bool
    /// Why a new call is refused now (503 with this in a Warning), nil to take it; the
    /// default asks ``admitsNewCall()``.
    func admissionRefusal() -> String?
    /// Runs before a new INVITE is routed (STIR/SHAKEN); calls `completion` on `loop`,
    /// possibly later (a certificate fetch).
    func checkInvite(_ request: SIPMessage, from source: InviteSource, on loop: any EventLoop,
                     completion: @escaping (InviteVerdict) -> Void)
    /// Headers to add to an INVITE Baton re-sends to a new target after a 3xx from the
    /// callee (STIR: the `div` PASSporT); given the request and the new target URI.
    func redirectHeaders(request: SIPMessage, target: String) -> [(String, String)]
    /// Where a called URI's calls are forwarded for `reason` (unconditional before routing,
    /// user-busy after a 486/600), if anywhere: the controller's rules decide.
    func forwardingTarget(called: String, reason: DiversionReason) -> String?
    /// Forwarding on no answer: the target and how long the called device may ring first.
    func noAnswerForwarding(called: String) -> (target: String, seconds: Int)?
    /// Whether REFER and INVITE-with-Replaces are handled (else they get 501).
    var handlesCallMoves: Bool { get }
    /// A REFER inside a call's dialog (a device pushing its call elsewhere), checked for a
    /// Refer-To; the receiver answers the transaction.
    func referred(_ request: ReferRequest)
    /// An INVITE with Replaces naming a leg of a live call (a device pulling the call), with
    /// its offer; the receiver answers the transaction.
    func pulled(_ request: ReplacesRequest)
}

extension B2BUADelegate {
    public func admitsNewCall() -> Bool { true }
    public func dialogsConfirmed(call id: String, caller: DialogSnapshot, callee: DialogSnapshot, session: B2BUA.SessionState) {}
    public func admissionRefusal() -> String? { admitsNewCall() ? nil : "session limit reached" }
    public func checkInvite(_ request: SIPMessage, from source: InviteSource, on loop: any EventLoop,
                            completion: @escaping (InviteVerdict) -> Void) {
        completion(.proceed())
    }
    public func redirectHeaders(request: SIPMessage, target: String) -> [(String, String)] { [] }
    public func forwardingTarget(called: String, reason: DiversionReason) -> String? { nil }
    public func noAnswerForwarding(called: String) -> (target: String, seconds: Int)? { nil }
    public var handlesCallMoves: Bool { false }
    public func referred(_ request: ReferRequest) { request.transaction.respond(.notImplemented) }
    public func pulled(_ request: ReplacesRequest) { request.transaction.respond(.notImplemented) }
}

/// What the B2BUA reports for the server's metrics (SIPServer): refusals and bad input.
public protocol B2BUAObserver: AnyObject {
    /// An INVITE refused with 503 because the server is overloaded.
    func overloadRejected()
    /// An SDP body Baton could not use (counted as malformed input).
    func badSDP(_ error: SIPError)
    /// A call ended; `active` calls are left (a drain waits for 0).
    func callEnded(active: Int)
}

/// The back-to-back user agent: every call is two dialogs with their own Call-ID, tags and
/// CSeq; SDP is rewritten on the way through so media goes through Baton's ports.
///
/// ```swift
/// let b2bua = B2BUA(configuration: .init(), layer: transactionLayer, registrar: registrar, router: router)
/// b2bua.delegate = calls
/// transactionLayer.user = b2bua
/// ```
/// Runs on the SIP event loop.
public final class B2BUA: TransactionUser {
    public struct Configuration: Sendable, Equatable {
        /// host:port Baton writes in Via and Contact.
        public var advertisedHost: String = "127.0.0.1"
        public var advertisedPort: Int = 5060
        /// Retry-After sent with 503 while draining.
        public var retryAfter: Int = 30
        /// Retry-After sent with the 503 of a call over the session limit: capacity frees up
        /// as calls end, so sooner than after a drain.
        public var limitRetryAfter: Int = 5
        public var userAgent: String = "Baton"
        /// The smallest session interval (RFC 4028 Session-Expires) Baton accepts; a smaller one
        /// gets 422 with this as Min-SE (`sip.session_min_se`; the RFC's floor is 90).
        public var sessionMinSE = 90
        /// Write SDES keys into SDP sent over UDP or TCP (`sip.sdes_in_clear`); a route's
        /// `sdes_in_clear` allows it for that route's calls only. Off: keys only over TLS.
        public var sdesInClear = false
        public init() {}
        /// The SIP over TLS port, when TLS is on.
        public var advertisedTLSPort: Int?
        public var sentBy: String { advertisedHost.contains(":" as Character) ? "[\(advertisedHost)]:\(advertisedPort)" : "\(advertisedHost):\(advertisedPort)" }
        public var contact: String { "<sip:baton@\(sentBy)>" }
        /// host:port for a Via toward a peer of this transport (the TLS port over TLS).
        public func sentBy(for transport: SIPTransportKind) -> String {
            guard transport == .tls, let p = advertisedTLSPort else { return sentBy }
            return advertisedHost.contains(":" as Character) ? "[\(advertisedHost)]:\(p)" : "\(advertisedHost):\(p)"
        }
        /// The Contact for a dialog with a peer of this transport: over TLS, Baton's TLS port
        /// with `transport=tls`, so the peer's in-dialog requests stay encrypted.
        public func contact(for transport: SIPTransportKind) -> String {
            guard transport == .tls, advertisedTLSPort != nil else { return contact }
            return "<sip:baton@\(sentBy(for: .tls));transport=tls>"
        }
    }

    public static let allowedMethods = SIPMethod.allowHeader
    /// How many 3xx redirections one call follows (RFC 3261 §8.1.3.4 recursion).
    public static let maxRedirects = 3

    final class Call {
        enum State: Equatable { case calling, early, answered, confirmed, terminated }
        let id: String
        var state: State = .calling
        var a: Dialog
        var b: Dialog
        /// The route allows SDES keys in clear for this call (its `sdes_in_clear`).
        var sdesInClear = false
        var aInvite: ServerTransaction?
        var bInvite: ClientTransaction?
        var cancelled = false
        /// 2xx retransmission to A until its ACK arrives (§13.3.1.4).
        var okRetransmit: SIPTimer?
        var pendingOK: SIPMessage?
        /// A re-INVITE in flight: the server transaction on the side that sent it.
        var reinvite: (from: CallSide, txn: ServerTransaction)?
        /// The last SDP each side sent (as received, before anchoring): a switchover offers
        /// the far side's to the new device.
        var sdp: [CallSide: [UInt8]] = [:]
        /// A switchover's new leg, while one runs.
        var switchLeg: SwitchLegHandle?
        /// The INVITE sent to the callee (anchored), for recursing on a 3xx.
        var bRequest: SIPMessage?
        var redirects = 0
        /// Forwarding on no answer: the timer while the device rings, then (once the CANCEL
        /// went out) the target its 487 sends the call to.
        var noAnswerTimer: SIPTimer?
        var noAnswerTarget: SIPURI?
        /// Late offer (RFC 3264 §5, an INVITE without SDP): the callee's 200 carries the offer,
        /// the caller's ACK the answer. While the caller's ACK is awaited, the 200's CSeq (the
        /// callee's ACK waits for the answer); then the ACK sent to the callee, for its 200's
        /// retransmissions.
        var lateOffer = false
        var lateAckCSeq: UInt32?
        var lateAckBody: [UInt8] = []
        /// Reliable provisional responses (RFC 3262) of the callee already PRACKed (its RSeq).
        var lastRSeq: UInt32?
        /// Session timer (RFC 4028): the interval the call's last 2xx agreed on, and the timer
        /// that ends the call if no refresh (re-INVITE or UPDATE) comes in time.
        var sessionInterval: Int?
        var sessionTimer: SIPTimer?
        /// Forking (the called AOR has several registered contacts): the INVITEs to the other
        /// contacts, ringing in parallel with `b`'s (B2BUA+Forking.swift).
        var forks: [Fork] = []
        /// Names the transaction whose events are `b`'s (a fork that wins takes its place).
        var primaryToken = ForkToken()
        init(id: String, a: Dialog, b: Dialog) { self.id = id; self.a = a; self.b = b }
        func dialog(_ s: CallSide) -> Dialog { s == .caller ? a : b }
    }

    public let configuration: Configuration
    let layer: TransactionLayer
    /// Finds another gateway holding a dialog by its Call-ID (a shared store): its SIP
    /// address "host:port", or nil. An INVITE with Replaces naming a dialog this gateway does
    /// not have is redirected there (302) instead of 481. May answer on any thread.
    public var dialogLocator: (@Sendable (String, @escaping @Sendable (String?) -> Void) -> Void)?
    let registrar: Registrar
    var router: Router
    public weak var delegate: (any B2BUADelegate)?
    var calls: [String: Call] = [:]
    var dialogs: [String: (Call, CallSide)] = [:]
    /// New legs of switchovers in progress, by their dialog key.
    var switchLegs: [String: SwitchLegHandle] = [:]
    /// Event packages Baton notifies about, and the live subscriptions by dialog key.
    var eventPackages: [String: EventStateRenderer] = [:]
    var subscriptions: [String: Subscription] = [:]
    var logger: Logger
    /// Bad input the B2BUA itself finds (an ACK's SDP): logged at a rate limit.
    let badInputLogs = LogRateLimiter()
    public private(set) var draining = false
    /// Set by the server's ``OverloadGuard``: new INVITEs get 503 + Retry-After while true.
    public var overloaded = false
    /// Told of refusals and bad input (the server's counters).
    public weak var observer: (any B2BUAObserver)?
    /// Digest authentication of REGISTER and of INVITE, SUBSCRIBE and REFER that start or
    /// move a call (SIPCore sets it; off unless `auth.sip`).
    public var authenticator: DigestAuthenticator?

    public init(configuration: Configuration, layer: TransactionLayer, registrar: Registrar, router: Router,
                logger: Logger = Logger(label: "baton.b2bua")) {
        self.configuration = configuration
        self.layer = layer
        self.registrar = registrar
        self.router = router
        self.logger = logger
    }

    public var activeCalls: Int { calls.count }

    /// Stops accepting new INVITEs (503 + Retry-After); live calls go on.
    public func startDraining() { draining = true }

    // MARK: TransactionUser

    public func didReceive(request: SIPMessage, transaction t: ServerTransaction) {
        var user: String?
        var requester = SIPRequester.unchecked
        if let auth = authenticator, let method = request.sipMethod, B2BUA.needsAuthentication(method, request) {
            switch auth.check(request, from: t.peer, proxy: method != .register) {
            case .unchecked: break
            case .trusted: requester = .trusted
            case .authenticated(let name): user = name; requester = .user(name)
            case let .challenge(status, headers):
                answerLater(t, status, headers, after: auth.delay(for: t.peer.host))
                return
            case .refused(let status):
                answerLater(t, status, [], after: auth.delay(for: t.peer.host))
                return
            }
        }
        if let refusal = B2BUA.inspect(request) {
            t.respond(refusal.status, toTag: request.toTag == nil ? randomToken(10) : nil) { r in
                for (n, v) in refusal.headers { r.setHeader(n, v) }
            }
            return
        }
        switch request.sipMethod {
        case .invite?:
            if request.toTag != nil { reinvite(request, t) } else { invite(request, t, from: requester) }
        case .bye?: bye(request, t)
        case .cancel?: cancel(request, t)
        case .options?:
            // Draining (SIGTERM): a load balancer's OPTIONS probe takes this gateway out of
            // rotation before its calls end (Kamailio dispatcher, conf/kamailio-dispatcher.cfg).
            if draining {
                t.respond(.serviceUnavailable, toTag: request.toTag == nil ? randomToken(10) : nil) {
                    $0.setHeader("Retry-After", "\(self.configuration.retryAfter)")
                }
                return
            }
            t.respond(.ok, toTag: request.toTag == nil ? randomToken(10) : nil) {
                $0.setHeader("Allow", B2BUA.allowedMethods)
                $0.setHeader("Accept", "application/sdp")
            }
        case .register?: registrar.handle(request, transaction: t, user: user)
        case .refer?: refer(request, t, from: requester)
        case .subscribe?: subscribe(request, t)
        case .info?, .update?:
            if request.toTag != nil { forwardInDialog(request, t) } else {
                t.respond(.notImplemented, toTag: randomToken(10)) { $0.setHeader("Allow", B2BUA.allowedMethods) }
            }
        case .ack?, .notify?, .prack?, .message?, .publish?, nil:
            t.respond(.notImplemented) { $0.setHeader("Allow", B2BUA.allowedMethods) }
        }
    }

    /// Option tags Baton implements as a UAS (RFC 3891 Replaces, RFC 3327 Path, RFC 4028
    /// session timers); a Require
    /// naming any other is refused with 420 (RFC 3261 §8.2.2.3).
    public static let supportedExtensions: Set<String> = ["replaces", "path", "timer"]

    /// RFC 3261 §8.2.2-8.2.3 header and content checks of a request Baton answers as a UAS,
    /// before it is processed: Require options it does not implement (420 with Unsupported),
    /// an INVITE body that is not SDP (415 with Accept), an INVITE whose Accept rules out
    /// SDP answers (406). ACK and CANCEL are never refused here (§8.2.2.3).
    static func inspect(_ request: SIPMessage) -> (status: SIPStatus, headers: [(String, String)])? {
        guard let method = request.sipMethod, method != .ack, method != .cancel else { return nil }
        let required = request.headers("Require").flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        let unsupported = required.filter { !supportedExtensions.contains($0) }
        if !unsupported.isEmpty {
            return (SIPStatus(420, "Bad Extension"), [("Unsupported", unsupported.joined(separator: ", "))])
        }
        guard method == .invite else { return nil }
        if !request.body.isEmpty, let type = request.contentType?.lowercased(),
           !type.hasPrefix("application/sdp"), !type.hasPrefix("multipart/") {
            return (SIPStatus(415, "Unsupported Media Type"), [("Accept", "application/sdp")])
        }
        let accepts = request.accepts.map { $0.lowercased() }
        if !accepts.isEmpty, !accepts.contains(where: { $0 == "application/sdp" || $0 == "application/*" || $0 == "*/*" || $0.isEmpty }) {
            return (SIPStatus(406, "Not Acceptable"), [("Accept", "application/sdp")])
        }
        return nil
    }

    /// Which requests prove who sends them: REGISTER, and INVITE / SUBSCRIBE that start a
    /// dialog (a call, a watch) and REFER (moves a call). Requests inside an established
    /// dialog (BYE, re-INVITE, ACK) come from a party that was let in when it started.
    static func needsAuthentication(_ method: SIPMethod, _ request: SIPMessage) -> Bool {
        switch method {
        case .register, .refer: true
        case .invite, .subscribe: request.toTag == nil
        default: false
        }
    }

    /// A refusal or challenge, after `millis` when the source has been failing (slows down a
    /// password guesser; the wait is on the SIP loop's wheel, nothing blocks).
    private func answerLater(_ t: ServerTransaction, _ status: SIPStatus, _ headers: [(String, String)], after millis: Int) {
        let answer = {
            t.respond(status, toTag: randomToken(10)) { r in for (n, v) in headers { r.addHeader(n, v) } }
        }
        if millis <= 0 { answer() } else { _ = layer.wheel.schedule(in: .milliseconds(Int64(millis)), answer) }
    }

    public func didReceive(ack: SIPMessage, from peer: SIPPeer) {
        guard let callID = ack.callID, let tag = ack.toTag else { return }
        if let leg = switchLegs[Dialog.key(callID: callID, localTag: tag)] {
            switchLegAck(leg)
            return
        }
        guard let (call, side) = dialogs[Dialog.key(callID: callID, localTag: tag)] else { return }
        if side == .caller, call.lateAckCSeq != nil { lateAnswer(ack, call: call) }
        if call.pendingOK != nil && (side == .caller || call.reinvite?.from == side) {
            call.okRetransmit?.cancel()
            call.pendingOK = nil
            if call.state == .answered { call.state = .confirmed }
        }
    }

    public func didReceive(strayResponse: SIPMessage, from peer: SIPPeer) {
        // A 2xx retransmitted after its transaction ended: ACK it again (§13.2.2.4).
        guard strayResponse.cseqSIPMethod == .invite, (200..<300).contains(strayResponse.statusCode),
              let callID = strayResponse.callID, let tag = strayResponse.fromTag,
              let (call, side) = dialogs[Dialog.key(callID: callID, localTag: tag)] else { return }
        sendAck(on: side, of: call, cseq: strayResponse.cseqNumber)
    }

    // MARK: INVITE

    /// 503 for a new INVITE Baton has no room for now (overload, session limit): capacity
    /// frees up soon, so the short Retry-After, and a Warning that says why.
    private func refuseForCapacity(_ t: ServerTransaction, _ why: String) {
        t.respond(.serviceUnavailable, toTag: randomToken(10)) {
            $0.setHeader("Retry-After", "\(self.configuration.limitRetryAfter)")
            $0.setHeader("Warning", "399 baton \"\(why)\"")
        }
    }

    private func invite(_ req: SIPMessage, _ t: ServerTransaction, from requester: SIPRequester) {
        if let replaces = req.header("Replaces") {
            pull(req, t, replaces: replaces, from: requester)
            return
        }
        guard !draining else {
            t.respond(.serviceUnavailable) { $0.setHeader("Retry-After", "\(self.configuration.retryAfter)") }
            return
        }
        guard !overloaded else {
            observer?.overloadRejected()
            refuseForCapacity(t, "overloaded")
            return
        }
        if let why = delegate?.admissionRefusal() {
            refuseForCapacity(t, why)
            return
        }
        t.respond(.trying)
        guard let delegate else { route(req, t); return }
        var source = InviteSource(requester: requester)
        if req.header("Diversion") != nil || !req.headers("History-Info").isEmpty {
            source.registeredAORs = registrar.aors(registeredFrom: t.peer)
        }
        delegate.checkInvite(req, from: source, on: layer.loop) { [weak self] verdict in
            guard let self else { return }
            switch verdict {
            case let .reject(code, reason, headers):
                t.respond(code, reason, toTag: randomToken(10)) { r in for (n, v) in headers { r.addHeader(n, v) } }
            case let .proceed(add, remove, verstat):
                for n in remove { req.removeHeader(n) }
                for (n, v) in add { req.addHeader(n, v) }
                if let verstat { B2BUA.mark(req, verstat: verstat) }
                self.route(req, t)
            }
        }
    }

    /// Adds `verstat` as a parameter of the caller's URI: in P-Asserted-Identity when the
    /// request has one, else in From (ATIS-1000074 §5.3.1).
    static func mark(_ req: SIPMessage, verstat: String) {
        func marked(_ value: String) -> String {
            guard let gt = value.firstIndex(of: ">") else { return value }
            var v = value
            v.insert(contentsOf: ";verstat=\(verstat)", at: gt)
            return v
        }
        if let pai = req.header("P-Asserted-Identity") {
            req.setHeader("P-Asserted-Identity", marked(pai))
        } else if let from = req.from, from.contains(">" as Character) {
            req.edit { try $0.setFrom(marked(from)) }
        }
    }

    private func route(_ req: SIPMessage, _ t: ServerTransaction) {
        guard var target = req.requestURI else { t.respond(.badRequest.because("Bad Request-URI")); return }
        // Unconditional forwarding: the call goes to the rule's target, with a Diversion
        // naming the called URI (and, with STIR, a div PASSporT).
        var diverted: SIPURI?
        if let to = delegate?.forwardingTarget(called: target.text, reason: .unconditional).flatMap({ SIPURI(parsing: $0) }) {
            diverted = target
            target = to
        }
        let decision: Router.Decision
        if diverted != nil, SessionDescription.isIPAddress(target.host) {
            decision = .route(StaticRoute(match: ".", host: target.host, port: target.port ?? 5060,
                                          transport: SIPTransportKind(uri: target)), uri: target.text)
        } else {
            decision = router.route(target, registrar: registrar)
        }
        let (peer, uri): (SIPPeer, String)
        var path: [String] = []
        var mediaTransport: String?
        var routeSDESInClear = false
        switch decision {
        case .notFound:
            t.respond(.notFound, toTag: randomToken(10))
            return
        case let .registered(reg, u): (peer, uri, path) = (reg.peer, u, reg.path)
        case let .route(r, u):
            (peer, uri) = (SIPPeer(transport: r.transport, host: r.host, port: r.port), u)
            mediaTransport = r.mediaTransport
            routeSDESInClear = r.sdesInClear
        }
        // An RFC 2543 caller may send no From tag (RFC 4475 §3.4.1): its dialog's remote tag is empty.
        guard let callerCallID = req.callID, let from = req.from, let to = req.to else {
            t.respond(.badRequest.because("Missing From tag"))
            return
        }
        let callerTag = req.fromTag ?? ""
        let body = req.body
        // RFC 4028: an interval below Baton's minimum is refused with 422 and Min-SE.
        if let se = SessionTimer(req), se.interval < configuration.sessionMinSE {
            t.respond(.sessionIntervalTooSmall, toTag: randomToken(10)) { $0.setHeader("Min-SE", "\(self.configuration.sessionMinSE)") }
            return
        }
        let id = randomToken(16)
        let aTag = randomToken(10), bTag = randomToken(10)
        let callerTarget = req.contactURI(0)?.text ?? from
        var a = Dialog(callID: callerCallID, localTag: aTag, remoteTag: callerTag,
                       localHeader: to + ";tag=\(aTag)", remoteHeader: from, remoteTarget: callerTarget,
                       peer: t.peer, localCSeq: 0, remoteCSeq: req.cseqNumber ?? 0)
        // Behind a record-routing proxy: requests Baton sends on this leg go back through it.
        a.learnRoutes(asUAS: req)
        let bCallID = randomToken(24) + "@baton"
        let b = Dialog(callID: bCallID, localTag: bTag, remoteTag: nil,
                       localHeader: "", remoteHeader: to, remoteTarget: uri,
                       peer: peer, localCSeq: 1)
        let call = Call(id: id, a: a, b: b)
        call.sdesInClear = routeSDESInClear
        call.aInvite = t
        // No SDP: a late offer (the callee offers in its 200, the caller answers in its ACK).
        call.lateOffer = body.isEmpty
        if !body.isEmpty { call.sdp[.caller] = body }
        delegate?.dialogEvent(.invited(id: id, from: from, to: to, callerCallID: callerCallID, callerPeer: t.peer))

        // Leg B's INVITE: a copy with its own Call-ID, From tag and CSeq, Baton's Via and Contact.
        let out = req.clone()
        out.removeAllVias()
        out.removeRoutes()
        // The caller's credentials were for Baton: never hand them to the callee.
        out.removeAuthorizations()
        do {
            try out.setRequestURI(uri)
            try out.setCallID(bCallID)
            out.setFromTag(bTag)
            try out.setCSeq(1, .invite)
            try out.setContact(configuration.contact(for: peer.transport))
            // Registered through a proxy: back through it (RFC 3327, the stored Path as the
            // INVITE's route; the REGISTER came from that proxy, which is where it is sent).
            for p in path { out.addRoute(p) }
            let mf = req.header("Max-Forwards").flatMap { Int($0.trimmedSpaces) } ?? 70
            guard mf > 0 else {
                t.respond(.tooManyHops, toTag: aTag)
                delegate?.dialogEvent(.ended(id: id, by: nil, reason: "483 Too Many Hops"))
                return
            }
            out.setHeader("Max-Forwards", "\(mf - 1)")
            if let diverted {
                out.addHeader("Diversion", "<\(diverted.text)>;reason=\(DiversionReason.unconditional.rawValue);counter=1")
                for (n, v) in delegate?.redirectHeaders(request: out, target: target.text) ?? [] { out.addHeader(n, v) }
            }
            try rewrite(out, call: call, from: .caller, role: .offer(transport: mediaTransport))
        } catch let e as SIPError {
            if case .badSDP = e { observer?.badSDP(e) }
            let (code, reason) = e.status
            t.respond(code, reason, toTag: aTag) { $0.setHeader("Warning", "399 baton \"\(e.description)\"") }
            delegate?.release(call: id)
            delegate?.dialogEvent(.ended(id: id, by: nil, reason: "\(code) \(e.description)"))
            return
        } catch {
            t.respond(.serviceUnavailable, toTag: aTag) { $0.setHeader("Warning", "399 baton \"\(error)\"") }
            delegate?.release(call: id)
            delegate?.dialogEvent(.ended(id: id, by: nil, reason: "503 \(error)"))
            return
        }
        call.b.localHeader = out.from ?? ""
        call.bRequest = out
        calls[id] = call
        dialogs[call.a.key] = (call, .caller)
        dialogs[call.b.key] = (call, .callee)
        delegate?.dialogEvent(.routed(id: id, calleeCallID: bCallID, calleePeer: peer))
        let token = call.primaryToken
        call.bInvite = layer.send(out, to: peer, via: configuration.sentBy(for: peer.transport)) { [weak self, weak call] ev in
            guard let self, let call else { return }
            self.dispatchInvite(ev, call: call, token: token)
        }
        // Forking: every other registered contact of the called AOR rings too.
        if case .registered = decision, diverted == nil {
            for reg in registrar.lookup(aor: target.aor).dropFirst() { startFork(call, base: out, to: reg) }
        }
        armNoAnswer(call)
        t.onAckTimeout = { [weak self, weak call] in
            guard let self, let call else { return }
            self.finish(call, by: nil, reason: "no ACK for final response")
        }
    }

    func inviteEvent(_ ev: ClientTransaction.Event, call: Call) {
        guard let aInvite = call.aInvite else { return }
        // The contact `b` rang failed while forks still ring: the next takes its place.
        if isFailure(ev), !call.cancelled, call.noAnswerTarget == nil, call.state == .calling || call.state == .early,
           let next = call.forks.first(where: { !$0.lost }) {
            promote(next, in: call, cancellingOthers: false)
            return
        }
        switch ev {
        case .timeout:
            if aInvite.state == .proceeding { aInvite.respond(.requestTimeout, toTag: call.a.localTag) }
            finish(call, by: nil, reason: "408 callee did not answer (timer B)")
        case .transportError:
            if aInvite.state == .proceeding { aInvite.respond(.serviceUnavailable, toTag: call.a.localTag) }
            finish(call, by: nil, reason: "503 transport error towards callee")
        case .response(let r):
            let code = r.statusCode
            if code == 100 { return }
            if code >= 200 { call.noAnswerTimer?.cancel(); call.noAnswerTimer = nil }
            if let tag = r.toTag, call.b.remoteTag == nil || code >= 200 {
                call.b.remoteTag = tag
                call.b.remoteHeader = r.to ?? call.b.remoteHeader
            }
            if code < 200 {
                guard !call.cancelled, aInvite.state == .proceeding else { return }
                // RFC 3262: a reliable provisional response is PRACKed by Baton on the callee's
                // leg, once (its retransmissions are absorbed), and relayed to the caller as an
                // ordinary one (the caller's leg never asked for reliability).
                if let rseq = r.header("RSeq").flatMap({ UInt32($0.trimmedSpaces) }), r.requires("100rel") {
                    guard call.lastRSeq.map({ rseq > $0 }) ?? true else { return }
                    call.lastRSeq = rseq
                    prack(r, rseq: rseq, call: call)
                }
                if call.state != .early || code == 180 { delegate?.dialogEvent(.ringing(id: call.id)) }
                call.state = .early
                relayProvisional(r, call: call)
            } else if code < 300 {
                if let target = r.contactURI(0)?.text { call.b.remoteTarget = target }
                if call.state != .answered && call.state != .confirmed, !call.b.learnRoutes(asUAC: r) {
                    logger.warning("the callee's first Record-Route has no ;lr (a strict router): in-dialog requests go to the callee's source",
                                   metadata: ["call": "\(call.id)"])
                }
                if !r.body.isEmpty && call.state != .answered && call.state != .confirmed { call.sdp[.callee] = r.body }
                if call.state == .answered || call.state == .confirmed {
                    // A retransmitted 2xx; a late offer's waits for the caller's answer.
                    if call.lateAckCSeq == nil { sendAck(on: .callee, of: call, cseq: r.cseqNumber, body: call.lateAckBody) }
                    return
                }
                if call.cancelled || aInvite.state != .proceeding {
                    // CANCEL lost the race with the 200: hang up the callee.
                    sendAck(on: .callee, of: call, cseq: r.cseqNumber)
                    sendBye(on: .callee, of: call)
                    finish(call, by: .caller, reason: "cancelled")
                    return
                }
                call.state = .answered
                cancelForks(call)   // the first 2xx wins: the other contacts get CANCEL
                // Anchor the answer (codecs, SRTP keys into the relay) before the ACK lets
                // the callee start sending: its first packets must meet the negotiated
                // action, never go out plain to an SRTP caller.
                let relayed = relay(r, to: nil, call: call, from: .callee, base: aInvite.request,
                                    role: call.lateOffer ? .offer(transport: nil) : .answer, transport: aInvite.peer.transport)
                if call.lateOffer, relayed != nil {
                    call.lateAckCSeq = r.cseqNumber ?? 1   // the ACK carries the caller's answer
                } else {
                    sendAck(on: .callee, of: call, cseq: r.cseqNumber)
                }
                guard let ok = relayed else {
                    aInvite.respond(.serverInternalError, toTag: call.a.localTag)
                    sendBye(on: .callee, of: call)
                    finish(call, by: nil, reason: "500 bad SDP in answer")
                    return
                }
                sessionTimer(ok, request: aInvite.request, call: call)
                aInvite.respond(ok)
                startOKRetransmit(ok, call: call, to: call.a.peer)
                delegate?.dialogEvent(.answered(id: call.id))
                reportDialogs(call)
            } else {
                if (300..<400).contains(code), redirect(call, r) { return }
                // The device did not answer in time: its 487 to our CANCEL forwards the call.
                if code == 487, let to = call.noAnswerTarget {
                    call.noAnswerTarget = nil
                    if redirect(call, to: to, reason: .noAnswer, status: code) { armNoAnswer(call); return }
                }
                // Forwarding on busy (a configured rule for the called number).
                if [486, 600].contains(code), let called = call.bRequest?.requestURI?.text,
                   let to = delegate?.forwardingTarget(called: called, reason: .userBusy).flatMap({ SIPURI(parsing: $0) }),
                   redirect(call, to: to, reason: .userBusy, status: code) { return }
                if aInvite.state == .proceeding && !call.cancelled {
                    aInvite.respond(code, r.reasonPhrase ?? "Failed", toTag: call.a.localTag) { out in
                        if code == 422, let min = r.header("Min-SE") { out.setHeader("Min-SE", min) }
                    }
                }
                finish(call, by: .callee, reason: "\(code) \(r.reasonPhrase ?? "")")
            }
        }
    }

    /// A 3xx from the callee: the INVITE goes on to the first Contact (the same anchored
    /// offer, a new transaction, `Diversion` naming the target that redirected, and what
    /// ``B2BUADelegate/redirectHeaders(request:target:)`` adds), at most ``maxRedirects`` times. False when it cannot.
    private func redirect(_ call: Call, _ r: SIPMessage) -> Bool {
        guard let contact = r.contactURI(0) else { return false }
        return redirect(call, to: contact, reason: .deflection, status: r.statusCode)
    }

    /// Starts the no-answer timer of the call's current target, if a rule has one.
    private func armNoAnswer(_ call: Call) {
        guard let called = call.bRequest?.requestURI?.text, let rule = delegate?.noAnswerForwarding(called: called),
              let to = SIPURI(parsing: rule.target) else { return }
        call.noAnswerTimer = layer.wheel.schedule(in: .seconds(Int64(rule.seconds))) { [weak self, weak call] in
            guard let self, let call, !call.cancelled, call.state == .calling || call.state == .early,
                  call.aInvite?.state == .proceeding else { return }
            call.noAnswerTimer = nil
            call.noAnswerTarget = to
            self.logger.info("no answer, forwarding", metadata: ["call": "\(call.id)", "after": "\(rule.seconds) s"])
            call.bInvite?.cancel()
        }
    }

    /// Sends the call's INVITE on to `contact` instead of the current target.
    private func redirect(_ call: Call, to contact: SIPURI, reason: DiversionReason, status: Int) -> Bool {
        guard call.redirects < B2BUA.maxRedirects, !call.cancelled, call.aInvite?.state == .proceeding,
              let previous = call.bRequest, let host = contact.host.isEmpty ? nil : contact.host else {
            return false
        }
        let transport = SIPTransportKind(uri: contact)
        let peer: SIPPeer
        if SessionDescription.isIPAddress(host) {
            peer = SIPPeer(transport: transport, host: host, port: contact.port ?? 5060)
        } else if let t = resolveTarget(contact.text) {
            peer = t.peer
        } else {
            return false
        }
        let next = previous.clone()
        do {
            try next.setRequestURI(contact.text)
            call.b.localCSeq += 1
            try next.setCSeq(call.b.localCSeq, .invite)
        } catch { return false }
        next.removeAllVias()
        next.addHeader("Diversion", "<\(previous.requestURI?.text ?? "")>;reason=\(reason.rawValue);counter=\(call.redirects + 1)")
        for (n, v) in delegate?.redirectHeaders(request: previous, target: contact.text) ?? [] { next.addHeader(n, v) }
        call.redirects += 1
        call.b.remoteTarget = contact.text
        call.b.peer = peer
        call.bRequest = next
        logger.info("forwarding the call", metadata: ["call": "\(call.id)", "status": "\(status)", "reason": "\(reason.rawValue)", "target": "\(contact.text)"])
        let token = call.primaryToken
        call.bInvite = layer.send(next, to: peer, via: configuration.sentBy) { [weak self, weak call] ev in
            guard let self, let call else { return }
            self.dispatchInvite(ev, call: call, token: token)
        }
        return true
    }

    /// A callee's provisional response to the caller. A late offer's provisional SDP would be
    /// an offer the caller cannot answer (no PRACK on its leg): relayed without it.
    @discardableResult
    func relayProvisional(_ r: SIPMessage, call: Call) -> SIPMessage? {
        relay(r, to: call.aInvite, call: call, from: .callee, dropBody: call.lateOffer)
    }

    /// Builds the response for the caller from the callee's, with SDP anchored.
    @discardableResult

    private func relay(_ r: SIPMessage, to t: ServerTransaction?, call: Call, from side: CallSide, base: SIPMessage? = nil,
                       role: SDPRole = .answer, dropBody: Bool = false, transport: SIPTransportKind? = nil) -> SIPMessage? {
        guard let request = t?.request ?? base else { return nil }
        let out = request.makeResponse(r.statusCode, r.reasonPhrase ?? "", toTag: call.dialog(side.other).localTag)
        out.edit { try $0.setContact(configuration.contact(for: t?.peer.transport ?? transport ?? .udp)) }
        out.setHeader("Server", configuration.userAgent)
        // RFC 4028: the session interval the far side agreed to (its refresher) travels on.
        if (200..<300).contains(r.statusCode), let se = r.header("Session-Expires") {
            out.setHeader("Session-Expires", se)
            if r.requires("timer") { out.setHeader("Require", "timer") }
        }
        if !r.body.isEmpty && !dropBody {
            do {
                let sdp = try SessionDescription(parsing: r.body)
                try delegate?.anchor(call: call.id, from: side, sdp: sdp, role: role, keys: keys(call, from: side))
                out.setBody(try sdp.serialize(), contentType: "application/sdp")
            } catch {
                logger.warning("bad SDP in response", metadata: ["call": "\(call.id)", "error": "\(error)"])
                return nil
            }
        }
        t?.respond(out)
        return out
    }

    private func rewrite(_ m: SIPMessage, call: Call, from side: CallSide, role: SDPRole) throws {
        let body = m.body
        guard !body.isEmpty else { return }
        let sdp = try SessionDescription(parsing: body)
        try delegate?.anchor(call: call.id, from: side, sdp: sdp, role: role, keys: keys(call, from: side))
        m.setBody(try sdp.serialize(), contentType: "application/sdp")
    }

    /// Whether SDES keys may be offered to `peer` in call `id` (a switchover's new device):
    /// over TLS, or where `sip.sdes_in_clear` or the call's route allows keys in clear.
    public func sdesAllowed(call id: String, toward peer: SIPPeer) -> Bool { sdesAllowed(calls[id], toward: peer) }

    /// The one rule: over TLS, or where the configuration or the call's route allows keys in
    /// clear. Takes the call itself: a new call's first offer is rewritten before it is filed.
    private func sdesAllowed(_ call: Call?, toward peer: SIPPeer) -> Bool {
        peer.transport == .tls || configuration.sdesInClear || call?.sdesInClear == true
    }

    /// Where SDES keys may go for an SDP from `side`.
    func keys(_ call: Call, from side: CallSide) -> SDESExposure {
        SDESExposure(toSender: sdesAllowed(call, toward: call.dialog(side).peer),
                     toRecipient: sdesAllowed(call, toward: call.dialog(side.other).peer))
    }

    func reportDialogs(_ call: Call) {
        let id = { (d: Dialog) in DialogID(callID: d.callID, localTag: d.localTag, remoteTag: d.remoteTag) }
        delegate?.dialogEvent(.dialogs(id: call.id, caller: id(call.a), callee: id(call.b)))
        if call.a.remoteTag != nil && call.b.remoteTag != nil {
            delegate?.dialogsConfirmed(call: call.id, caller: call.a.snapshot, callee: call.b.snapshot,
                                       session: SessionState(callerSDP: call.sdp[.caller] ?? [], calleeSDP: call.sdp[.callee] ?? [],
                                                             sdesInClear: call.sdesInClear))
        }
    }

    /// What the B2BUA keeps of an answered call besides its two dialogs: the last SDP each
    /// party sent (a switchover offers the far party's to the new device) and whether its
    /// route allows SDES keys in clear. Holds the parties' SDES keys: kept encrypted at rest.
    public struct SessionState: Codable, Sendable, Equatable {
        public var callerSDP: [UInt8]
        public var calleeSDP: [UInt8]
        public var sdesInClear: Bool
        public init(callerSDP: [UInt8], calleeSDP: [UInt8], sdesInClear: Bool) {
            self.callerSDP = callerSDP; self.calleeSDP = calleeSDP; self.sdesInClear = sdesInClear
        }
        // The SDPs as base64 (`Data`), not as JSON arrays of numbers: a quarter of the size
        // and of the encoding time of a call's saved state.
        private enum CodingKeys: String, CodingKey { case callerSDP, calleeSDP, sdesInClear }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            callerSDP = Array(try c.decode(Data.self, forKey: .callerSDP))
            calleeSDP = Array(try c.decode(Data.self, forKey: .calleeSDP))
            sdesInClear = try c.decode(Bool.self, forKey: .sdesInClear)
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(Data(callerSDP), forKey: .callerSDP)
            try c.encode(Data(calleeSDP), forKey: .calleeSDP)
            try c.encode(sdesInClear, forKey: .sdesInClear)
        }
    }

    /// Takes over an answered call from a previous life of this gateway (a restart): its two
    /// dialogs as they were last saved, with Baton's CSeqs moved `cseqMargin` on (requests
    /// sent after the last save must not be outnumbered). In-dialog requests (BYE, re-INVITE,
    /// UPDATE, INFO, REFER) on either leg work as before; the media must already be anchored
    /// again under the same call id (``B2BUADelegate``). False when a call or a dialog of
    /// that name is live already.
    @discardableResult
    public func resume(call id: String, caller: DialogSnapshot, callee: DialogSnapshot, session: SessionState,
                       cseqMargin: UInt32 = 10) -> Bool {
        var a = Dialog(caller), b = Dialog(callee)
        guard calls[id] == nil, dialogs[a.key] == nil, dialogs[b.key] == nil, a.remoteTag != nil, b.remoteTag != nil else { return false }
        a.localCSeq &+= cseqMargin
        b.localCSeq &+= cseqMargin
        let call = Call(id: id, a: a, b: b)
        call.state = .confirmed
        call.sdesInClear = session.sdesInClear
        if !session.callerSDP.isEmpty { call.sdp[.caller] = session.callerSDP }
        if !session.calleeSDP.isEmpty { call.sdp[.callee] = session.calleeSDP }
        calls[id] = call
        dialogs[a.key] = (call, .caller)
        dialogs[b.key] = (call, .callee)
        return true
    }

    /// A BYE on a dialog another gateway held (it was lost; ``DialogSnapshot`` from the shared
    /// store). The CSeq goes `cseqMargin` past the stored one: the lost gateway may have sent
    /// in-dialog requests after its last snapshot, and a lower CSeq would be refused.
    public func bye(_ snapshot: DialogSnapshot, reason: String, cseqMargin: UInt32 = 10) {
        var d = Dialog(snapshot)
        d.localCSeq &+= cseqMargin
        guard d.remoteTag != nil else { return }
        do {
            let bye = try d.request(.bye, contact: nil)
            bye.addHeader("Reason", "SIP;cause=503;text=\"\(reason)\"")
            layer.send(bye, to: d.peer, via: configuration.sentBy) { _ in }
        } catch {
            logger.error("could not build a BYE", metadata: ["call-id": "\(d.callID)", "error": "\(error)"])
        }
    }

    private func startOKRetransmit(_ ok: SIPMessage, call: Call, to peer: SIPPeer) {
        call.pendingOK = ok
        retransmit2xx(ok, to: peer, pending: { [weak call] in call?.pendingOK === ok },
                      schedule: { [weak call] in call?.okRetransmit = $0 },
                      giveUp: { [weak self, weak call] in
            // No ACK for 64·T1: the dialog is not confirmed; hang up both sides (§13.3.1.4).
            guard let self, let call else { return }
            call.pendingOK = nil
            self.sendBye(on: .caller, of: call)
            self.sendBye(on: .callee, of: call)
            self.finish(call, by: nil, reason: "no ACK for 200 OK")
        })
    }

    /// Retransmits a 2xx to an INVITE over UDP at T1, 2·T1 … T2 while `pending()` holds
    /// (until its ACK), and calls `giveUp` once 64·T1 passed without it (RFC 3261 §13.3.1.4).
    /// `schedule` keeps the timer so the ACK can cancel it.
    func retransmit2xx(_ ok: SIPMessage, to peer: SIPPeer, interval: TimeAmount? = nil, elapsed: TimeAmount = .zero,
                       pending: @escaping () -> Bool, schedule: @escaping (SIPTimer) -> Void,
                       giveUp: @escaping () -> Void) {
        guard !peer.isReliable else { return }
        let iv = interval ?? layer.timers.t1
        schedule(layer.wheel.schedule(in: iv) { [weak self] in
            guard let self, pending() else { return }
            let total = elapsed + iv
            if total >= self.layer.timers.timeout { giveUp(); return }
            self.layer.sendStateless(response: ok, to: peer)
            self.retransmit2xx(ok, to: peer, interval: min(iv * 2, self.layer.timers.t2), elapsed: total,
                               pending: pending, schedule: schedule, giveUp: giveUp)
        })
    }

    // MARK: In-dialog requests

    private func reinvite(_ req: SIPMessage, _ t: ServerTransaction) {
        guard let (call, side) = dialog(of: req) else { t.respond(.callDoesNotExist); return }
        guard call.reinvite == nil, call.pendingOK == nil else {
            t.respond(.requestPending) { $0.setHeader("Retry-After", "1") }
            return
        }
        var other = call.dialog(side.other)
        do {
            let out = try other.request(.invite, contact: configuration.contact)
            store(other, side.other, call)
            for h in ["Content-Disposition", "Supported", "Allow", "Session-Expires", "Min-SE"] { if let v = req.header(h) { out.setHeader(h, v) } }
            if req.requires("timer") { out.setHeader("Require", "timer") }
            out.setBody(req.body, contentType: req.contentType)
            try rewrite(out, call: call, from: side, role: .offer(transport: nil))
            call.reinvite = (side, t)
            t.respond(.trying)
            layer.send(out, to: other.peer, via: configuration.sentBy) { [weak self, weak call] ev in
                guard let self, let call else { return }
                self.reinviteEvent(ev, call: call, from: side, txn: t)
            }
        } catch let e as SIPError {
            t.respond(e.status.0, e.status.1)
        } catch {
            t.respond(.serverInternalError)
        }
    }

    private func reinviteEvent(_ ev: ClientTransaction.Event, call: Call, from side: CallSide, txn: ServerTransaction) {
        switch ev {
        case .timeout, .transportError:
            call.reinvite = nil
            txn.respond(.requestTimeout)
        case .response(let r):
            let code = r.statusCode
            if code < 200 { return }
            call.reinvite = nil
            if code < 300 {
                // Only an accepted offer becomes the side's current SDP (a rejected one must
                // not be what a later switchover offers).
                if !txn.request.body.isEmpty { call.sdp[side] = txn.request.body }
                if !r.body.isEmpty { call.sdp[side.other] = r.body }
                let relayed = relay(r, to: nil, call: call, from: side.other, base: txn.request, transport: txn.peer.transport)
                sendAck(on: side.other, of: call, cseq: r.cseqNumber)
                guard let ok = relayed else {
                    txn.respond(.serverInternalError)
                    return
                }
                sessionTimer(ok, request: txn.request, call: call)   // a refresh (RFC 4028)
                txn.respond(ok)
                startOKRetransmit(ok, call: call, to: call.dialog(side).peer)
                call.reinvite = nil
                reportDialogs(call)   // a CSeq and an SDP moved: saved for a restart
            } else {
                txn.respond(code, r.reasonPhrase ?? "Failed")
            }
        }
    }

    /// INFO (RFC 6086: DTMF relay, application data) and UPDATE (RFC 3311) inside a call:
    /// the same request on the other leg, its final response back. An UPDATE's SDP offer is
    /// anchored like a re-INVITE's (the answer too), and becomes the side's current SDP when
    /// accepted. Headers that describe the body or the package travel with it.
    private func forwardInDialog(_ req: SIPMessage, _ t: ServerTransaction) {
        guard let (call, side) = dialog(of: req), let method = req.sipMethod else { t.respond(.callDoesNotExist); return }
        if method == .update, !req.body.isEmpty, call.reinvite != nil || call.pendingOK != nil {
            t.respond(.requestPending) { $0.setHeader("Retry-After", "1") }
            return
        }
        var other = call.dialog(side.other)
        do {
            let out = try other.request(method, contact: configuration.contact)
            store(other, side.other, call)
            for h in ["Content-Disposition", "Info-Package", "Recv-Info", "Supported", "Allow", "Session-Expires", "Min-SE"] {
                if let v = req.header(h) { out.setHeader(h, v) }
            }
            if req.requires("timer") { out.setHeader("Require", "timer") }
            out.setBody(req.body, contentType: req.contentType)
            if method == .update { try rewrite(out, call: call, from: side, role: .offer(transport: nil)) }
            layer.send(out, to: other.peer, via: configuration.sentBy) { [weak self, weak call] ev in
                guard let self, let call else { return }
                switch ev {
                case .timeout, .transportError:
                    t.respond(.requestTimeout)
                case .response(let r):
                    let code = r.statusCode
                    guard code >= 200 else { return }
                    defer { self.reportDialogs(call) }   // the other leg's CSeq moved (and an UPDATE's SDP)
                    if method == .update, code < 300 {
                        if !req.body.isEmpty { call.sdp[side] = req.body }
                        if !r.body.isEmpty { call.sdp[side.other] = r.body }
                        if let out = self.relay(r, to: nil, call: call, from: side.other, base: req, transport: t.peer.transport) {
                            self.sessionTimer(out, request: req, call: call)   // a refresh (RFC 4028)
                            t.respond(out)
                        } else {
                            t.respond(.serverInternalError)
                        }
                        return
                    }
                    let answer = req.makeResponse(code, r.reasonPhrase ?? "", toTag: nil)
                    for h in ["Content-Type", "Recv-Info"] { if let v = r.header(h) { answer.setHeader(h, v) } }
                    if !r.body.isEmpty { answer.setBody(r.body, contentType: r.contentType) }
                    t.respond(answer)
                }
            }
        } catch let e as SIPError {
            t.respond(e.status.0, e.status.1)
        } catch {
            t.respond(.serverInternalError)
        }
    }

    private func bye(_ req: SIPMessage, _ t: ServerTransaction) {
        guard let (call, side) = dialog(of: req) else {
            if switchLegBye(req, t) { return }
            t.respond(.callDoesNotExist)
            return
        }
        if let leg = call.switchLeg, leg.replacing == side, !leg.done {
            // The device being moved hangs up mid-switchover (a blind transfer: BYE right
            // after 202): the far party stays, the switchover goes on without it.
            t.respond(.ok)
            leg.replacedHungUp = true
            return
        }
        t.respond(.ok)
        sendBye(on: side.other, of: call)
        finish(call, by: side, reason: "BYE")
    }

    private func cancel(_ req: SIPMessage, _ t: ServerTransaction) {
        guard let invite = layer.inviteTransaction(cancelledBy: req) else {
            t.respond(.callDoesNotExist)
            return
        }
        t.respond(.ok)
        guard invite.state == .proceeding,
              let call = calls.values.first(where: { $0.aInvite === invite }) else {
            // Final response already sent: the CANCEL has no effect (§9.2).
            if invite.state == .proceeding { invite.respond(.requestTerminated, toTag: randomToken(10)) }
            return
        }
        call.cancelled = true
        invite.respond(.requestTerminated, toTag: call.a.localTag)
        call.bInvite?.cancel()
        finish(call, by: .caller, reason: "CANCEL")
    }

    func dialog(of req: SIPMessage) -> (Call, CallSide)? {
        guard let callID = req.callID, let tag = req.toTag,
              let found = dialogs[Dialog.key(callID: callID, localTag: tag)] else { return nil }
        return found
    }

    func store(_ d: Dialog, _ side: CallSide, _ call: Call) {
        if side == .caller { call.a = d } else { call.b = d }
    }

    // MARK: Sending on a leg

    /// The ACK for a 2xx on any leg's dialog (a call's side or a switchover's new leg), sent
    /// statelessly (RFC 3261 §13.2.2.4); `cseq` is the 2xx's (its INVITE's) number.
    func sendAck(on d: Dialog, cseq: UInt32?, body: [UInt8] = []) {
        var d = d
        do {
            let ack = try d.request(.ack, contact: configuration.contact)
            try ack.setCSeq(cseq ?? d.localCSeq, .ack)
            if !body.isEmpty { ack.setBody(body, contentType: "application/sdp") }
            layer.sendStateless(ack, to: d.peer, via: configuration.sentBy)
        } catch {
            logger.error("could not build an ACK", metadata: ["call-id": "\(d.callID)", "error": "\(error)"])
        }
    }

    /// A BYE on any leg's confirmed dialog (nothing before the far end's tag is known); the
    /// dialog's CSeq advances.
    func sendBye(on d: inout Dialog, reason: String? = nil) {
        guard d.remoteTag != nil else { return }
        do {
            let bye = try d.request(.bye, contact: nil)
            if let reason { bye.addHeader("Reason", "SIP;cause=200;text=\"\(reason)\"") }
            layer.send(bye, to: d.peer, via: configuration.sentBy) { _ in }
        } catch {
            logger.error("could not build a BYE", metadata: ["call-id": "\(d.callID)", "error": "\(error)"])
        }
    }

    func sendAck(on side: CallSide, of call: Call, cseq: UInt32?, body: [UInt8] = []) {
        sendAck(on: call.dialog(side), cseq: cseq, body: body)
    }

    func sendBye(on side: CallSide, of call: Call, reason: String? = nil) {
        var d = call.dialog(side)
        sendBye(on: &d, reason: reason)
        store(d, side, call)
    }

    /// Ends a call once: media released, tables cleared, event sent.
    func finish(_ call: Call, by side: CallSide?, reason: String) {
        guard call.state != .terminated else { return }
        call.state = .terminated
        call.okRetransmit?.cancel()
        call.noAnswerTimer?.cancel()
        call.sessionTimer?.cancel()
        cancelForks(call)
        if let leg = call.switchLeg { abandonSwitch(leg, reason: "the call ended (\(reason))") }
        calls[call.id] = nil
        observer?.callEnded(active: calls.count)
        dialogs[call.a.key] = nil
        dialogs[call.b.key] = nil
        delegate?.release(call: call.id)
        delegate?.dialogEvent(.ended(id: call.id, by: side, reason: reason))
    }

    /// Hangs up every live call (BYE both sides); used when the drain timeout ends.
    public func hangUpAll(reason: String) {
        for call in Array(calls.values) {
            if call.state == .answered || call.state == .confirmed {
                sendBye(on: .caller, of: call)
                sendBye(on: .callee, of: call)
            } else if let a = call.aInvite, a.state == .proceeding {
                a.respond(.serviceUnavailable, toTag: call.a.localTag)
                call.bInvite?.cancel()
            }
            finish(call, by: nil, reason: reason)
        }
    }
}
