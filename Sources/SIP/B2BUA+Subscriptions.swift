import NIOCore

/// One subscription to an event package (RFC 6665), held by Baton as notifier.
final class Subscription {
    let package: String
    /// The subscribed resource: the Request-URI's user part, lowercased ("alice").
    let resource: String
    /// The subscribed URI, as the documents name it (`entity`).
    let entity: String
    var dialog: Dialog
    var expires: NIODeadline
    var timer: SIPTimer?
    /// Version of the last document sent (RFC 4235 §4.1: +1 per NOTIFY).
    var version = 0
    init(package: String, resource: String, entity: String, dialog: Dialog, expires: NIODeadline) {
        self.package = package; self.resource = resource; self.entity = entity; self.dialog = dialog; self.expires = expires
    }
}

/// Renders the current state of `resource` for a NOTIFY: the body and its content type.
public typealias EventStateRenderer = (_ resource: String, _ entity: String, _ version: Int) -> (body: [UInt8], contentType: String)

extension B2BUA {
    /// Subscription bounds (seconds): requests below `minSubscriptionExpires` get 423.
    public static let minSubscriptionExpires = 60
    public static let maxSubscriptionExpires = 3600
    public static let defaultSubscriptionExpires = 3600
    /// Live subscriptions Baton keeps at most; beyond it new ones get 503 with Retry-After.
    public static let maxSubscriptions = 10_000

    /// Registers an event package Baton notifies about (e.g. "dialog").
    public func addEventPackage(_ name: String, renderer: @escaping EventStateRenderer) {
        eventPackages[name.lowercased()] = renderer
    }

    public var subscriptionCount: Int { subscriptions.count }

    /// Sends a NOTIFY with the current state to every subscriber of `resource` in `package`.
    public func notifySubscribers(package: String, resource: String) {
        let r = resource.lowercased()
        for s in subscriptions.values where s.package == package && s.resource == r { sendNotify(s, terminated: nil) }
    }

    /// SUBSCRIBE (RFC 6665 §4.2): a new subscription, a refresh, or (Expires: 0) the end.
    func subscribe(_ req: SIPMessage, _ t: ServerTransaction) {
        let event = (req.header("Event") ?? req.header("o") ?? "").split(separator: ";").first
            .map { $0.trimmedSpaces.lowercased() } ?? ""
        let allowEvents = eventPackages.keys.sorted().joined(separator: ", ")
        guard eventPackages[event] != nil else {
            t.respond(.badEvent, toTag: req.toTag == nil ? randomToken(10) : nil) { $0.setHeader("Allow-Events", allowEvents) }
            return
        }
        var expires = B2BUA.defaultSubscriptionExpires
        if let e = req.header("Expires") {
            guard let v = Int(e.trimmedSpaces), v >= 0 else {
                t.respond(.badRequest.because("Bad Expires"), toTag: req.toTag == nil ? randomToken(10) : nil)
                return
            }
            expires = min(v, B2BUA.maxSubscriptionExpires)
        }
        if expires > 0 && expires < B2BUA.minSubscriptionExpires {
            t.respond(.intervalTooBrief, toTag: req.toTag == nil ? randomToken(10) : nil) {
                $0.setHeader("Min-Expires", "\(B2BUA.minSubscriptionExpires)")
            }
            return
        }
        let sub: Subscription
        if let toTag = req.toTag {
            guard let callID = req.callID, let s = subscriptions[Dialog.key(callID: callID, localTag: toTag)], s.package == event else {
                t.respond(.callDoesNotExist.because("Subscription Does Not Exist"))
                return
            }
            if let c = req.cseqNumber {
                guard c > s.dialog.remoteCSeq else { t.respond(.serverInternalError.because("CSeq Out of Order")); return }
                s.dialog.remoteCSeq = c
            }
            sub = s
        } else {
            guard let uri = req.requestURI, let user = uri.user, !user.isEmpty else {
                t.respond(.notFound, toTag: randomToken(10)) { $0.setHeader("Warning", "399 baton \"subscribe to a user: sip:user@host\"") }
                return
            }
            guard let callID = req.callID, let fromTag = req.fromTag, let from = req.from, let to = req.to else {
                t.respond(.badRequest.because("Missing From tag"))
                return
            }
            guard subscriptions.count < B2BUA.maxSubscriptions else {
                t.respond(.serviceUnavailable, toTag: randomToken(10)) { $0.setHeader("Retry-After", "60") }
                return
            }
            let tag = randomToken(10)
            var d = Dialog(callID: callID, localTag: tag, remoteTag: fromTag, localHeader: to + ";tag=\(tag)", remoteHeader: from,
                           remoteTarget: req.contactURI(0)?.text ?? SIPURI.addressText(from), peer: t.peer, localCSeq: 0,
                           remoteCSeq: req.cseqNumber ?? 0)
            d.learnRoutes(asUAS: req)
            sub = Subscription(package: event, resource: user.lowercased(), entity: "sip:\(user)@\(uri.host)", dialog: d,
                               expires: .now())
            if expires > 0 { subscriptions[d.key] = sub }
        }
        sub.timer?.cancel()
        sub.expires = .now() + .seconds(Int64(expires))
        t.respond(.ok, toTag: sub.dialog.localTag) {
            $0.setHeader("Expires", "\(expires)")
            $0.setHeader("Contact", self.configuration.contact)
        }
        if expires == 0 {
            subscriptions[sub.dialog.key] = nil
            sendNotify(sub, terminated: "timeout")
            return
        }
        sub.timer = layer.wheel.schedule(in: .seconds(Int64(expires))) { [weak self, weak sub] in
            guard let self, let sub, self.subscriptions[sub.dialog.key] === sub else { return }
            self.subscriptions[sub.dialog.key] = nil
            self.sendNotify(sub, terminated: "timeout")
        }
        logger.debug("subscription", metadata: ["event": "\(event)", "resource": "\(sub.resource)", "expires": "\(expires)"])
        sendNotify(sub, terminated: nil)
    }

    /// A NOTIFY with the current state; `terminated` ends the subscription with that reason.
    func sendNotify(_ s: Subscription, terminated reason: String?) {
        guard let render = eventPackages[s.package] else { return }
        s.version += 1
        let (body, type) = render(s.resource, s.entity, s.version)
        let notify: SIPMessage
        do { notify = try s.dialog.request(.notify, contact: configuration.contact) } catch {
            logger.error("could not build a NOTIFY", metadata: ["error": "\(error)"])
            return
        }
        notify.setHeader("Event", s.package)
        if let reason {
            notify.setHeader("Subscription-State", "terminated;reason=\(reason)")
        } else {
            let left = max(0, (s.expires - .now()).nanoseconds / 1_000_000_000)
            notify.setHeader("Subscription-State", "active;expires=\(left)")
        }
        notify.setHeader("Max-Forwards", "70")
        notify.setBody(body, contentType: type)
        let key = s.dialog.key
        layer.send(notify, to: s.dialog.peer, via: configuration.sentBy) { [weak self] ev in
            guard let self else { return }
            switch ev {
            case .response(let r) where r.statusCode >= 300 && r.statusCode != 401 && r.statusCode != 407:
                // 481 and other failures end the subscription (RFC 6665 §4.2.2).
                if let s = self.subscriptions.removeValue(forKey: key) { s.timer?.cancel() }
            case .timeout, .transportError:
                if let s = self.subscriptions.removeValue(forKey: key) { s.timer?.cancel() }
            default: break
            }
        }
    }
}
