import Foundation
import Metrics
import Identity
import Logging
import NIOCore
import SIP
import Synchronization

/// STIR/SHAKEN on new INVITEs, asked by the call controller (``CallManager/checkInvite(_:on:completion:)``,
/// the B2BUA's delegate) before a call is routed: the verification
/// service (RFC 8224 §6.2) for Identity fields the caller sent, and the authentication
/// service (§5) for callers whose number Baton signs for.
///
/// ```swift
/// let stir = STIRService(configuration: .init(signer: identity, signNumbers: ["1202555"], mode: .continue, verifier: verifier))
/// calls.install { $0.stir = stir }          // CallManager asks it for every new INVITE
/// ```
public final class STIRService: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        /// Identity fields pass through unchecked.
        case off
        /// Verify; the call goes on whatever the result, marked with `verstat`, and a failure
        /// is named in a `Reason: STIR;cause=...` header (RFC 9410).
        case `continue`
        /// Verify; when no field validates the INVITE is refused with the field's status
        /// (428, 436, 437, 438, 403 Stale Date).
        case reject
    }

    /// Where the Identity fields of calls to users likely to forward are kept (the store).
    public protocol IdentityKeeper: Sendable {
        func keep(orig: String, dest: String, values: [String], expires: Double) async throws
        /// The values kept for a call from `orig` to `dest`, removed as they are returned: a
        /// kept identity serves one forwarded INVITE.
        func take(orig: String, dest: String, now: Double) async throws -> [String]?
    }

    public struct Configuration: Sendable {
        /// Called numbers likely to forward (they have forwarding rules, or are listed):
        /// calls to them have their Identity fields kept for `holdSeconds`.
        public var likelyToForward: @Sendable (String) -> Bool = { _ in false }
        /// Learns from the calls it sees which numbers forward (counted in `decide`); the
        /// caller's `likelyToForward` consults it beside the rules.
        public var history: ForwardingHistory?
        public var keeper: (any IdentityKeeper)?
        public var holdSeconds: Double = 60
        public var signer: SigningIdentity?
        /// Canonical number prefixes Baton signs for ("*" signs every caller with a number).
        public var signNumbers: [String]
        public var attest: PASSporT.Attestation
        public var mode: Mode
        public var verifier: STIRVerifier?

        public init(signer: SigningIdentity? = nil, signNumbers: [String] = [], attest: PASSporT.Attestation = .a,
                    mode: Mode = .off, verifier: STIRVerifier? = nil) {
            self.signer = signer; self.signNumbers = signNumbers; self.attest = attest; self.mode = mode; self.verifier = verifier
        }
    }

    public let configuration: Configuration
    private let logger: Logger
    private let limiter = Mutex(LogRateLimiter(burst: 5))
    /// Forwarded INVITEs that named a kept identity but did not come from the diverting
    /// user's device.
    private let launderingRefused = Counter(label: "baton_stir_kept_identity_refused_total")

    /// A check waiting for a worker: what ``decide(identities:orig:dest:diverted:)`` needs, and
    /// where the verdict goes (a hop back onto the SIP loop).
    struct Job: Sendable {
        var identities: [String]
        var orig, dest, diverted: String?
        /// The numbers the sender of the INVITE speaks for (its digest user, the AORs it is
        /// registered for), canonical: a kept identity needs the diverting number among them.
        var forwarder: [String] = []
        var done: @Sendable (InviteVerdict) -> Void
    }
    private let jobs = AsyncStream<Job>.makeStream()
    /// Checks queued or running; beyond ``maxPending`` a new INVITE is refused at once.
    private let pending = Mutex(0)
    /// At most this many checks run at once (each may wait on a certificate fetch).
    public let maxConcurrent: Int
    /// At most this many checks wait or run; more INVITEs get 503 + Retry-After, as an
    /// overloaded server answers, instead of queueing without bound.
    public let maxPending: Int

    public init(configuration: Configuration, maxConcurrent: Int = 64, maxPending: Int = 4096,
                logger: Logger = Logger(label: "baton.stir")) {
        self.configuration = configuration
        self.maxConcurrent = max(1, maxConcurrent)
        self.maxPending = max(1, maxPending)
        self.logger = logger
    }

    /// The caller's canonical number: P-Asserted-Identity, else From.
    /// "+12025550102@gw" -> "12025550102".
    static func number(ofAOR aor: String) -> String? {
        aor.split(separator: "@").first.flatMap { TelephoneNumber.canonical(String($0)) }
    }

    static func orig(_ req: SIPMessage) -> String? {
        req.header("P-Asserted-Identity").flatMap(TelephoneNumber.canonical) ?? req.from.flatMap(TelephoneNumber.canonical)
    }

    func signs(_ number: String) -> Bool {
        configuration.signer != nil && configuration.signNumbers.contains { $0 == "*" || number.hasPrefix($0) }
    }

    /// Checks a new INVITE (the call controller's ``CallManager/checkInvite(_:on:completion:)``);
    /// `completion` runs on `loop`.
    public func check(_ req: SIPMessage, from source: InviteSource = InviteSource(), on loop: any EventLoop,
                      completion done: @escaping (InviteVerdict) -> Void) {
        let identities = req.headers("Identity")
        let orig = STIRService.orig(req)
        let dest = req.to.flatMap(TelephoneNumber.canonical)
        // The number a forwarded INVITE names as diverting (RFC 5806 Diversion, else the
        // first History-Info entry, RFC 7044).
        let diverted = (req.header("Diversion") ?? req.headers("History-Info").first)
            .map(SIPURI.addressText).flatMap(TelephoneNumber.canonical)
        let bound = NIOLoopBound(done, eventLoop: loop)
        let admitted = pending.withLock { n in
            guard n < maxPending else { return false }
            n += 1
            return true
        }
        guard admitted else {
            done(.reject(code: SIPStatus.serviceUnavailable.code, reason: SIPStatus.serviceUnavailable.reason, headers: [("Retry-After", "5")]))
            let logger = self.logger, maxPending = self.maxPending
            limiter.withLock { $0.log(logger, .warning, "STIR checks queue full; INVITE refused with 503", metadata: ["pending": "\(maxPending)"]) }
            return
        }
        var forwarder = source.registeredAORs.compactMap { STIRService.number(ofAOR: $0) }
        if case .user(let u) = source.requester, let n = TelephoneNumber.canonical(u) { forwarder.append(n) }
        jobs.continuation.yield(Job(identities: identities, orig: orig, dest: dest, diverted: diverted, forwarder: forwarder) { verdict in
            loop.execute { bound.value(verdict) }
        })
    }

    /// Runs the queued checks, at most ``maxConcurrent`` at a time, as child tasks of one task
    /// group (no task per INVITE outside it), until ``finish()``; checks already queued then
    /// still run. The service that owns the STIR service runs this (Serve: `STIRWorkers`).
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for await job in jobs.stream {
                if running >= maxConcurrent {
                    await group.next()
                    running -= 1
                }
                group.addTask {
                    let verdict = await self.decide(identities: job.identities, orig: job.orig, dest: job.dest, diverted: job.diverted,
                                                    forwarder: job.forwarder)
                    self.pending.withLock { $0 -= 1 }
                    job.done(verdict)
                }
                running += 1
            }
        }
    }

    /// Ends ``run()`` once the queued checks are done.
    public func finish() { jobs.continuation.finish() }

    /// The decision for a request with these Identity values and numbers.
    public func decide(identities: [String], orig: String?, dest: String?, diverted: String? = nil,
                       forwarder: [String] = []) async -> InviteVerdict {
        var add: [(String, String)] = []
        var verstat: String?
        // A forwarded INVITE without Identity whose diverting number had a call from the same
        // caller moments ago: that call's Identity fields, plus a div PASSporT to here. Only
        // for the diverting user's own device (authenticated as that number, or sending from
        // a contact registered for it): Diversion and From are the sender's to write, so
        // anything else would launder someone else's identity. Used once.
        if identities.isEmpty, let orig, let dest, let diverted, diverted != dest, let keeper = configuration.keeper {
            guard forwarder.contains(diverted) else {
                launderingRefused.increment()
                limiter.withLock { [logger] in
                    $0.log(logger, .warning, "forwarded INVITE not from the diverting user's device: no kept identity", metadata: [
                        "orig": "\(orig)", "diverted": "\(diverted)", "dest": "\(dest)", "sender": "\(forwarder)"])
                }
                return await decide(identities: identities, orig: orig, dest: dest)
            }
            // The diverting user's device forwarded: its number's history learns it, kept
            // identity or not (the next call to it is kept when forwards are its habit).
            configuration.history?.noteForward(by: diverted)
            guard let kept = try? await keeper.take(orig: orig, dest: diverted, now: Date().timeIntervalSince1970), !kept.isEmpty else {
                return await decide(identities: identities, orig: orig, dest: dest)
            }
            add = kept.map { ("Identity", $0) }
            if let signer = configuration.signer, let last = kept.compactMap({ v in
                (try? IdentityHeader(parsing: v)).flatMap { try? PASSporT.parse($0.jws).passport }
            }).last, let div = try? signer.div(diverting: last, to: [dest]) {
                add.append(("Identity", div.value))
            }
            return .proceed(add: add)
        }
        var verified = configuration.mode == .off
        if configuration.mode != .off, let verifier = configuration.verifier {
            let outcome = await verifier.verify(headers: identities, orig: orig, dest: dest)
            verified = !outcome.valid.isEmpty
            // Our own callers (numbers Baton signs for) come without Identity: they are
            // signed below, not refused.
            let ours = identities.isEmpty && orig.map(signs) == true
            if configuration.mode == .reject, !ours, let error = outcome.rejection {
                note("rejected", error, orig: orig, dest: dest)
                let (code, reason) = error.status
                return .reject(code: code, reason: reason, headers: [("Reason", STIRService.reason(error))])
            }
            if !identities.isEmpty { verstat = outcome.verstat.rawValue }
            if outcome.valid.isEmpty, let error = outcome.failures.first {
                note("failed (continuing)", error, orig: orig, dest: dest)
                add.append(("Reason", STIRService.reason(error)))
            }
        }
        if let dest, diverted == nil { configuration.history?.noteCall(to: dest) }
        // Keep what this call carries when its callee is likely to forward it.
        if verified, !identities.isEmpty, let orig, let dest, let keeper = configuration.keeper, configuration.likelyToForward(dest) {
            do {
                try await keeper.keep(orig: orig, dest: dest, values: identities,
                                      expires: Date().timeIntervalSince1970 + configuration.holdSeconds)
            } catch {
                logger.error("could not keep the call's Identity", metadata: ["error": "\(error)"])
            }
        }
        // Sign when the caller is ours and nobody signed for it already.
        if let orig, let dest, let signer = configuration.signer, signs(orig), identities.isEmpty {
            do {
                add.append(("Identity", try signer.shaken(orig: orig, dest: [dest], attest: configuration.attest).value))
            } catch {
                logger.error("could not sign", metadata: ["orig": "\(orig)", "error": "\(error)"])
            }
        }
        return .proceed(add: add, verstat: verstat)
    }

    /// Forwarding with identity (RFC 8946): the INVITE that goes on to `target` after a
    /// redirect keeps every Identity field it had and gets a `div` PASSporT, signed by
    /// Baton, from the last PASSporT's destination to the new one. Nothing when Baton has no
    /// signing key, the request carries no PASSporT, or the number did not change.
    public func divHeaders(request: SIPMessage, target: String) -> [(String, String)] {
        guard let signer = configuration.signer, let dest = TelephoneNumber.canonical(target) else { return [] }
        let last = request.headers("Identity").compactMap { v -> PASSporT? in
            guard let h = try? IdentityHeader(parsing: v) else { return nil }
            return try? PASSporT.parse(h.jws).passport
        }.last
        guard let last else { return [] }
        do {
            guard let div = try signer.div(diverting: last, to: [dest]) else { return [] }
            return [("Identity", div.value)]
        } catch {
            logger.error("could not sign a div PASSporT", metadata: ["target": "\(target)", "error": "\(error)"])
            return []
        }
    }

    /// `Reason: STIR;cause=438;text="Invalid Identity Header"` (RFC 9410 §3).
    static func reason(_ e: IdentityError) -> String {
        let (code, text) = e.status
        return "STIR;cause=\(code);text=\"\(text)\""
    }

    private func note(_ what: String, _ e: IdentityError, orig: String?, dest: String?) {
        let logger = self.logger
        limiter.withLock {
            $0.log(logger, .warning, "Identity \(what)", metadata: ["orig": "\(orig ?? "-")", "dest": "\(dest ?? "-")", "error": "\(e)"])
        }
    }
}
