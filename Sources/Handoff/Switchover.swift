import Calls
import ContactCenter
import Foundation
import Logging
import Media
import NIOCore
import SIP
import Store
import Synchronization

/// A request to move one side of a live call to another device.
public struct SwitchoverRequest: Sendable, Codable, Equatable {
    /// A SIP URI, an address-of-record, or a bare user on Baton's domain.
    public var target: String
    /// `silence` (default): splice at the first silent packet of the old device within the
    /// window; `now`: at once.
    public var mode: SpliceDecider.Mode?
    /// Longest wait for silence once the new device is ready (ms).
    public var windowMs: Int?
    /// The side that moves (the old device): `callee` (default) or `caller`.
    public var leg: CallSide?
    /// How long the far party's audio must have been relayed to the new device before the
    /// splice (ms; default `switchover.priming_ms`).
    public var primingMs: Int?

    public init(target: String, mode: SpliceDecider.Mode? = nil, windowMs: Int? = nil, leg: CallSide? = nil,
                primingMs: Int? = nil) {
        self.target = target; self.mode = mode; self.windowMs = windowMs; self.leg = leg; self.primingMs = primingMs
    }

    enum CodingKeys: String, CodingKey { case target, mode, windowMs = "window_ms", leg, primingMs = "priming_ms" }
}

/// One step of a switchover, as the WebSocket and the store see it.
public struct SwitchoverEvent: Sendable, Codable, Equatable {
    /// Always `switchover` (the WebSocket also carries `shared-call` events).
    public var type = "switchover"
    public enum Kind: String, Sendable, Codable { case requested, ringing, answered, spliced, released, failed }
    public var operation: String
    public var call: String
    public var kind: Kind
    /// Unix time (seconds).
    public var time: Double
    /// A SIP status for ringing, the reason for failed, the target for requested.
    public var detail: String?
    /// For spliced: when, why, the silence wait and the far party's stream at the splice.
    public var splice: SpliceReport?
}

/// A switchover and its progress.
public struct SwitchoverOperation: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable { case requested, ringing, answered, completed, failed }
    public var id: String
    /// `switchover`, or `transfer` (to an agent, with a call key).
    public var kind: String = "switchover"
    public var call: String
    public var target: String
    public var leg: CallSide
    public var mode: SpliceDecider.Mode
    public var windowMs: Int
    /// Priming before the splice (ms): how long the new device hears the far party first.
    public var primingMs: Int
    public var state: State
    public var reason: String?
    public var events: [SwitchoverEvent]
}

/// Why a switchover request was refused.
public enum HandoffError: Error, Sendable, Equatable, CustomStringConvertible {
    case refused(SwitchRefusal)
    case invalid(String)
    case media(String)
    case unavailable(String)

    public var description: String {
        switch self {
        case .refused(let r): r.description
        case .invalid(let s): s
        case .media(let s): "media: \(s)"
        case .unavailable(let s): s
        }
    }

    /// How a REFER that asked for this is answered (the HTTP API maps the same cases to its
    /// statuses in Control).
    public var sipStatus: SIPStatus {
        switch self {
        case .refused(.targetNotFound): .notFound
        case .refused(.alreadyRunning), .refused(.notAnswered): .requestPending
        case .invalid: .badRequest
        default: .serviceUnavailable
        }
    }
}

/// Switchover orchestration (make-before-break): one operation for every trigger (HTTP
/// today; REFER and INVITE/Replaces build on the same steps).
///
/// 1. the new device is invited with the far side's SDP anchored on fresh ports;
/// 2. once it answers (200 OK + ACK), the far party's audio is relayed to it as well
///    (priming, so its play-out is full before the far party hears it); once it has been
///    primed for `primingMillis` and its own first packet is in, the relay splices at the
///    old device's first silent packet (or at once, or when the window ends);
/// 3. after the splice the new leg replaces the old one in the call and the old device gets BYE.
/// If the new device is busy, rejects, does not answer, or sends no RTP within
/// `noMediaTimeoutMillis` after answering, the call stays untouched and the operation fails.
///
/// ```swift
/// let handoff = Handoff(sip: sip, calls: calls)
/// let op = try await handoff.switchover(call: id, SwitchoverRequest(target: "speaker@example.com"))
/// for await e in handoff.events.subscribe() { ... }
/// ```
/// The orchestration runs on the SIP event loop; operations are readable from any thread.
public final class Handoff: CallMoveHandler, Sendable {
    public struct Configuration: Sendable, Equatable {
        public var windowMillis = 300
        /// How long the far party's audio is relayed to the new device before the splice may
        /// happen, so the device's jitter and play-out buffers are full when the far party
        /// starts hearing it (`switchover.priming_ms`; docs/switchover.md, "Priming").
        public var primingMillis = 300
        /// After the new device answered, how long its first RTP packet may take.
        public var noMediaTimeoutMillis = 3000
        public init() {}
    }

    /// The per-operation state the SIP loop owns. Not `Sendable`: closures from relay threads
    /// carry it inside an `NIOLoopBound`, which checks that it is read on the loop again.
    final class Run {
        let id: String
        let prepared: PreparedSwitch
        var leg: SwitchLegHandle?
        var answer: SessionDescription?
        var reports: [Int: SpliceReport] = [:]
        /// The no-media bound, on the SIP loop's one timer source (the transaction layer's wheel).
        var timer: SIPTimer?
        var finished = false
        /// A REFER started it: progress goes back to this side as NOTIFY.
        var notify: CallSide?
        init(id: String, prepared: PreparedSwitch) { self.id = id; self.prepared = prepared }
    }

    public let configuration: Configuration
    let sip: SIPServer
    let calls: CallManager
    let logger: Logger
    /// Every switchover event, for WebSocket clients and tests.
    public let events = EventHub<SwitchoverEvent>()
    private let operations = Mutex<[String: SwitchoverOperation]>([:])
    /// Running operations; read and written on the SIP loop only (checked: `NIOLoopBoundBox`).
    private let runs: NIOLoopBoundBox<[String: Run]>
    private let keep = 500

    /// Users' devices: "move to my speaker" (target `speaker`) picks from them.
    public let devices: Devices?
    /// Agents, categories and call keys: transfers to the next agent use them.
    public let contactCenter: ContactCenter?

    /// The conversation type and replacement channel of bot calls (issue 20).
    public let conversation: Conversation

    public init(sip: SIPServer, calls: CallManager, devices: Devices? = nil, contactCenter: ContactCenter? = nil,
                configuration: Configuration = .init(), conversation: Conversation = Conversation(),
                logger: Logger = Logger(label: "baton.handoff")) {
        self.conversation = conversation
        self.sip = sip
        self.runs = .makeBoxSendingValue([:], as: [String: Run].self, eventLoop: sip.loop)
        self.calls = calls
        self.devices = devices
        self.contactCenter = contactCenter
        self.configuration = configuration
        self.logger = logger
    }

    public func operation(id: String) -> SwitchoverOperation? { operations.withLock { $0[id] } }

    /// Operations of one call, oldest first.
    public func operations(call: String) -> [SwitchoverOperation] {
        operations.withLock { $0.values.filter { $0.call == call } }.sorted { ($0.events.first?.time ?? 0) < ($1.events.first?.time ?? 0) }
    }

    /// Starts a switchover; returns once the new device is being invited (progress follows
    /// in ``operation(id:)`` and ``events``).
    public func switchover(call id: String, _ request: SwitchoverRequest) async throws(HandoffError) -> SwitchoverOperation {
        let target = request.target.trimmingCharacters(in: .whitespaces)
        guard !target.isEmpty else { throw .invalid("target is required") }
        let window = request.windowMs ?? configuration.windowMillis
        guard (0...10_000).contains(window) else { throw .invalid("window_ms must be 0...10000") }
        let priming = request.primingMs ?? configuration.primingMillis
        guard (0...10_000).contains(priming) else { throw .invalid("priming_ms must be 0...10000") }
        let req = SwitchoverRequest(target: target, mode: request.mode ?? .silence, windowMs: window, leg: request.leg ?? .callee,
                                    primingMs: priming)
        let result: Result<SwitchoverOperation, HandoffError>
        do {
            result = try await sip.onLoop { self.start(call: id, req) }
        } catch {
            throw .unavailable("the SIP service is not running")
        }
        return try result.get()
    }

    /// Installs the SIP triggers on the SIP loop: a REFER inside a call moves the REFERring
    /// device's side to the Refer-To target (push).
    public func installSIPTriggers() async throws {
        calls.install { $0.moves = self }
    }

    // MARK: On the SIP loop

    /// Pull: S sent INVITE with Replaces naming P's dialog. Baton answers S with the far
    /// side's SDP on fresh ports, and after S's ACK splices and sends P its BYE.
    public func pulled(_ r: ReplacesRequest) {
        let b2bua = sip.b2bua
        let t = r.transaction
        func reject(_ status: SIPStatus, _ why: String) {
            t.respond(status, toTag: String(UUID().uuidString.prefix(8))) { $0.setHeader("Warning", "399 baton \"\(why)\"") }
        }
        let prepared: PreparedSwitch
        let body: [UInt8]
        do {
            let far = try SessionDescription(parsing: try b2bua.farSDP(call: r.call, replacing: r.side))
            prepared = try calls.prepareSwitch(call: r.call, replacing: r.side, offer: far, negotiate: false)
            body = try far.serialize()
        } catch {
            reject(.notAcceptableHere, "\(error)")
            return
        }
        do {
            try calls.answerSwitch(prepared, answer: try SessionDescription(parsing: r.offer), signaling: t.peer.host)
        } catch {
            calls.abortSwitch(prepared) { _ in }
            reject(.notAcceptableHere, "unusable SDP offer: \(error)")
            return
        }
        let from = r.request.from.map(SIPURI.addressText) ?? "the pulling device"
        let (run, op) = register(call: r.call, prepared: prepared, target: from, leg: r.side, mode: .silence,
                                 window: configuration.windowMillis, priming: configuration.primingMillis,
                                 detail: "INVITE with Replaces from \(from)")
        do {
            run.leg = try b2bua.acceptSwitchLeg(r, body: body) { [weak self] ev in self?.legEvent(ev, run: run, op: op) }
        } catch {
            calls.abortSwitch(prepared) { _ in }
            runs.value[run.id] = nil
            reject(.busyHere, error.description)
            fail(run, .abandoned(error.description))
        }
    }

    /// Push: P sent REFER. Baton answers 202, does the switchover itself (F never sees the
    /// REFER), reports to P with NOTIFY (sipfrag "100 Trying", then "200 OK" at the splice or
    /// the failure) and sends P its BYE after the splice.
    public func referred(_ r: ReferRequest) {
        let req = SwitchoverRequest(target: r.referTo, mode: .silence, windowMs: configuration.windowMillis, leg: r.side,
                                    primingMs: configuration.primingMillis)
        var headers: [(String, String)] = []
        if let by = r.referredBy { headers.append(("Referred-By", by)) }
        switch start(call: r.call, req, notify: r.side, headers: headers) {
        case .success:
            r.transaction.respond(.accepted)
            sip.b2bua.notifyRefer(call: r.call, side: r.side, status: SIPStatus.trying.description, terminated: false)
        case .failure(let e):
            r.transaction.respond(e.sipStatus) { $0.setHeader("Warning", "399 baton \"\(e.description)\"") }
        }
    }

    func start(call id: String, _ req: SwitchoverRequest, notify: CallSide? = nil,
               headers: [(String, String)] = [], kind: String = "switchover") -> Result<SwitchoverOperation, HandoffError> {
        let b2bua = sip.b2bua
        let side = req.leg ?? .callee
        let farBytes: [UInt8]
        do { farBytes = try b2bua.farSDP(call: id, replacing: side) } catch { return .failure(.refused(error)) }
        let target: (peer: SIPPeer, uri: String)
        switch pickTarget(req.target, call: id, side: side) {
        case .success(let t): target = t
        case .failure(let e): return .failure(e)
        }
        let offer: SessionDescription
        let prepared: PreparedSwitch
        let body: [UInt8]
        do {
            offer = try SessionDescription(parsing: farBytes)
            prepared = try calls.prepareSwitch(call: id, replacing: side, offer: offer,
                                               keysToDevice: b2bua.sdesAllowed(call: id, toward: target.peer))
        } catch {
            return .failure(.media("\(error)"))
        }
        do { body = try offer.serialize() } catch {
            calls.abortSwitch(prepared) { _ in }
            return .failure(.media("\(error)"))
        }
        let (run, op) = register(call: id, prepared: prepared, target: target.uri, leg: side, mode: req.mode ?? .silence,
                                 window: req.windowMs ?? configuration.windowMillis,
                                 priming: req.primingMs ?? configuration.primingMillis, detail: target.uri, kind: kind,
                                 users: [Handoff.user(named: req.target)])
        run.notify = notify
        do {
            run.leg = try b2bua.inviteSwitchLeg(call: id, replacing: side, target: target, body: body, headers: headers) { [weak self] ev in
                self?.legEvent(ev, run: run, op: op)
            }
        } catch {
            calls.abortSwitch(prepared) { _ in }
            runs.value[run.id] = nil
            run.notify = nil   // the REFER itself gets the error response
            fail(run, .abandoned(error.description))
            return .failure(.refused(error))
        }
        return .success(operation(id: run.id) ?? op)
    }

    /// The user a target names: "sip:agent1@example.com" and "agent1@example.com" -> "agent1";
    /// a bare name stays as it is.
    static func user(named target: String) -> String {
        var t = SIPURI.addressText(target.trimmingCharacters(in: .whitespaces))
        for p in ["sip:", "sips:"] where t.lowercased().hasPrefix(p) { t = String(t.dropFirst(p.count)) }
        return String(t.split(separator: "@").first ?? Substring(t)).lowercased()
    }

    /// `speaker`: the first speaker of the moving device's user that is registered and not
    /// in a call; a device id of that user: the device; anything else (or a device Baton
    /// does not know) resolves like an INVITE's Request-URI.
    private func pickTarget(_ text: String, call id: String, side: CallSide) -> Result<(peer: SIPPeer, uri: String), HandoffError> {
        let b2bua = sip.b2bua
        if text.lowercased() == "speaker", let devices, let aor = b2bua.aor(call: id, side: side),
           let owner = devices.owner(aor: aor) {
            let group = devices.speakers(user: owner.user)
            guard !group.isEmpty else { return .failure(.refused(.targetNotFound("speaker (user \(owner.user) has no speakers)"))) }
            for d in group {
                if let key = Devices.normalize(d.aor), let free = b2bua.freeContact(aor: key) { return .success(free) }
            }
            return .failure(.refused(.targetNotFound("speaker (no speaker of user \(owner.user) is registered and free)")))
        }
        // A device id of the moving device's user ("kitchen"): that device's AOR.
        if let devices, let aor = b2bua.aor(call: id, side: side), let owner = devices.owner(aor: aor),
           let device = devices.list(user: owner.user).first(where: { $0.id == text }), let key = Devices.normalize(device.aor) {
            if let free = b2bua.freeContact(aor: key) { return .success(free) }
            return .failure(.refused(.targetNotFound("\(text) (device \(owner.user)/\(device.id) is not registered or is in a call)")))
        }
        guard let t = b2bua.resolveTarget(text) else { return .failure(.refused(.targetNotFound(text))) }
        return .success(t)
    }

    /// Each speaker of a user with its live state (registered, in a call).
    public func speakers(user: String) async throws -> [SpeakerState] {
        let group = devices?.speakers(user: user) ?? []
        return try await sip.onLoop { [sip] in
            group.map { d in
                let key = Devices.normalize(d.aor) ?? d.aor
                let registered = !sip.registrar.lookup(aor: key).isEmpty
                return SpeakerState(device: d, registered: registered,
                                    busy: registered && sip.b2bua.freeContact(aor: key) == nil)
            }
        }
    }

    /// A new operation, in the table and announced (`requested`).
    private func register(call id: String, prepared: PreparedSwitch, target: String, leg side: CallSide,
                          mode: SpliceDecider.Mode, window: Int, priming: Int, detail: String, kind: String = "switchover",
                          users: [String] = []) -> (Run, SwitchoverOperation) {
        let opID = "sw-" + UUID().uuidString.lowercased().prefix(12)
        let run = Run(id: String(opID), prepared: prepared)
        let op = SwitchoverOperation(id: run.id, kind: kind, call: id, target: target, leg: side, mode: mode, windowMs: window,
                                     primingMs: priming, state: .requested, reason: nil, events: [])
        operations.withLock { ops in
            ops[run.id] = op
            if ops.count > keep, let oldest = ops.values.filter({ $0.state == .completed || $0.state == .failed })
                .min(by: { ($0.events.first?.time ?? 0) < ($1.events.first?.time ?? 0) }) {
                ops[oldest.id] = nil
            }
        }
        runs.value[run.id] = run
        // The new device's leg joins the call's shared operation; its user is the one the
        // request named ("agent1@example.com" -> agent1), not the contact it resolved to.
        calls.shared.addLeg(run.id, kind: kind, call: id, peer: target, users: users)
        emit(run.id, .requested, detail: detail)
        logger.info("switchover requested", metadata: ["call": "\(id)", "operation": "\(run.id)", "target": "\(target)",
                                                        "leg": "\(side.rawValue)", "mode": "\(mode.rawValue)"])
        return (run, op)
    }

    private func legEvent(_ ev: SwitchLegEvent, run: Run, op: SwitchoverOperation) {
        guard !run.finished else { return }
        switch ev {
        case .ringing(let code):
            emit(run.id, .ringing, detail: "\(code)", state: .ringing)
        case .answered(let sdp):
            do {
                let answer = try SessionDescription(parsing: sdp)
                try calls.answerSwitch(run.prepared, answer: answer, signaling: run.leg?.peer.host)
                run.answer = answer
            } catch {
                giveUp(run, reason: "unusable SDP answer from the target: \(error)")
                return
            }
            emit(run.id, .answered, state: .answered)
            let loop = sip.loop
            let bound = NIOLoopBound(run, eventLoop: loop)
            calls.armSwitch(run.prepared, mode: op.mode, windowMillis: op.windowMs, primingMillis: op.primingMs,
                            oldLegGone: run.leg?.replacedHungUp == true) { [weak self] index, report in
                loop.execute { [weak self] in self?.spliced(bound.value, index: index, report: report) }
            }
            let noMedia = Int64(op.primingMs + op.windowMs + configuration.noMediaTimeoutMillis)
            run.timer = sip.layer.wheel.schedule(in: .milliseconds(noMedia)) { [weak self] in
                self?.giveUp(run, reason: "no RTP from the target within \(self?.configuration.noMediaTimeoutMillis ?? 0) ms of its answer")
            }
        case .failed(let failure):
            run.finished = true
            run.timer?.cancel()
            calls.abortSwitch(run.prepared) { _ in }
            runs.value[run.id] = nil
            fail(run, failure)
        }
    }

    /// Media-side failure after the answer: take the new leg down unless the splice won the race.
    private func giveUp(_ run: Run, reason: String) {
        guard !run.finished else { return }
        run.timer?.cancel()
        let loop = sip.loop
        let bound = NIOLoopBound(run, eventLoop: loop)
        calls.abortSwitch(run.prepared) { [weak self] spliced in
            loop.execute { [weak self] in
                let run = bound.value
                guard let self, !spliced, !run.finished else { return }
                run.finished = true
                self.runs.value[run.id] = nil
                if let leg = run.leg { self.sip.b2bua.abandonSwitch(leg, reason: reason) }
                self.fail(run, .abandoned(reason))
            }
        }
    }

    private func spliced(_ run: Run, index: Int, report: SpliceReport) {
        guard !run.finished else { return }
        run.reports[index] = report
        guard run.reports.count == run.prepared.streamCount, let leg = run.leg else { return }
        run.finished = true
        run.timer?.cancel()
        runs.value[run.id] = nil
        let first = run.reports.sorted { $0.key < $1.key }.first!.value
        emit(run.id, .spliced, splice: first)
        calls.commitSwitch(run.prepared, legCallID: leg.legCallID, peer: leg.peer, answer: run.answer)
        if let side = run.notify {
            sip.b2bua.notifyRefer(call: run.prepared.call, side: side, status: SIPStatus.ok.description, terminated: true)
        }
        sip.b2bua.completeSwitch(leg)
        emit(run.id, .released, detail: "BYE sent to the old \(run.prepared.side.rawValue) leg", state: .completed)
        logger.info("switchover completed", metadata: [
            "operation": "\(run.id)", "call": "\(run.prepared.call)", "reason": "\(first.reason.rawValue)",
            "silence_wait_ms": "\(first.silenceWaitMillis)", "seq": "\(first.lastSeq)", "ts": "\(first.lastTimestamp)"])
    }

    private func fail(_ run: Run, _ failure: SwitchLegFailure) {
        let reason = failure.description
        if let side = run.notify {
            sip.b2bua.notifyRefer(call: run.prepared.call, side: side, status: failure.status.description, terminated: true)
        }
        emit(run.id, .failed, detail: reason, state: .failed, reason: reason)
        logger.warning("switchover failed", metadata: ["operation": "\(run.id)", "call": "\(run.prepared.call)", "reason": "\(reason)"])
    }

    private func emit(_ id: String, _ kind: SwitchoverEvent.Kind, detail: String? = nil, splice: SpliceReport? = nil,
                      state: SwitchoverOperation.State? = nil, reason: String? = nil) {
        let event: (SwitchoverEvent, SwitchoverOperation)? = operations.withLock { ops in
            guard var op = ops[id] else { return nil }
            let e = SwitchoverEvent(operation: id, call: op.call, kind: kind, time: Date().timeIntervalSince1970,
                                    detail: detail, splice: splice)
            op.events.append(e)
            if let state { op.state = state }
            if let reason { op.reason = reason }
            ops[id] = op
            return (e, op)
        }
        guard let (event, _) = event else { return }
        events.publish(event)
        // The new device's leg is a member of the call's shared operation.
        switch kind {
        case .ringing: calls.shared.setStatus(member: id, .ringing)
        case .answered: calls.shared.setStatus(member: id, .active)
        case .failed: calls.shared.setStatus(member: id, .ended)
        case .requested, .spliced, .released: break
        }
        let json = (try? JSONEncoder().encode(event)).map { String(decoding: $0, as: UTF8.self) }
        calls.record(.event(CallEventRecord(callID: event.call, time: event.time, kind: "switchover.\(kind.rawValue)",
                                            operation: id, detail: json)))
    }
}

/// A speaker of a user's group and whether "move to my speaker" could pick it now.
public struct SpeakerState: Sendable, Codable, Equatable {
    public var device: DeviceRecord
    public var registered: Bool
    public var busy: Bool
}
