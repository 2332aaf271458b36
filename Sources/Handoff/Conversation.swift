import Calls
import ContactCenter
import Foundation
import Logging
import SIP
import Speech
import Synchronization

/// Decides, from a bot call's dialog records, the conversation type and the replacement
/// channel (``ConversationRules``), and couples it: a transfer to an agent of the category
/// (make-before-break, the call data behind a call key, the bot leg released after the
/// splice), or a callback record, or nothing (the bot keeps the call). Once per call. When
/// the chosen channel has nobody (no agent logged in and no contact), `fallback` decides;
/// a call is never dropped for it. Every decision is stored with its rule and the signals
/// that fired it, and published (``events``; `/events` type "conversation").
public final class Conversation: Sendable {
    private let rules: Mutex<ConversationRules>
    private let decisions = Mutex<[String: ConversationDecision]>([:])
    public let events = EventHub<ConversationDecision>()
    /// The channel when the chosen one cannot take the call: `callback` (default) or `bot`.
    public let fallback: String
    private let tenant: String
    private let logger = Logger(label: "baton.conversation")

    /// Listens to the audio of calls whose called user matches `called` (nil: none).
    public let listener: Listener?
    // Immutable once made; Regex is not marked Sendable.
    nonisolated(unsafe) private let called: Regex<AnyRegexOutput>?

    public init(rules: ConversationRules = try! ConversationRules(), fallback: String = "callback", tenant: String = "default",
                listener: Listener? = nil, called: Regex<AnyRegexOutput>? = nil) {
        self.rules = Mutex(rules)
        self.fallback = fallback
        self.tenant = tenant
        self.listener = listener
        self.called = called
    }

    public var current: ConversationRules { rules.withLock { $0 } }

    /// Replaces the rules (validated as a whole; the running ones stay on error).
    public func replace(_ list: [ConversationRule]) throws(ContactCenterError) {
        let r = try ConversationRules(list)
        rules.withLock { $0 = r }
        logger.notice("conversation rules replaced", metadata: ["rules": "\(list.count)"])
    }

    public func decision(call: String) -> ConversationDecision? { decisions.withLock { $0[call] } }

    /// After a report: decide (once) and couple the channel through `handoff`.
    public func reported(call: String, summary: DialogSummary, handoff: Handoff) async -> ConversationDecision? {
        guard decision(call: call) == nil, let info = handoff.calls.call(id: call), info.state == .answered else { return nil }
        let now = handoff.calls.currentTime
        guard var d = current.decide(call: call, summary, minutes: max(0, now - info.started) / 60, at: now) else { return nil }
        // Claim the call before acting: a second report arriving meanwhile does not decide again.
        let first = decisions.withLock { m -> Bool in
            guard m[call] == nil else { return false }
            // Bounded: the oldest decisions go first (each is stored as a dialog record too).
            if m.count >= 10_000, let oldest = m.min(by: { $0.value.time < $1.value.time })?.key { m[oldest] = nil }
            m[call] = d
            return true
        }
        guard first else { return nil }
        d.outcome = await couple(d, channel: d.channel, handoff: handoff, fallbackTaken: false)
        decisions.withLock { [d] in $0[call] = d }
        await handoff.contactCenter?.appendRecord(call: call, kind: "decision", detail: ContactCenter.json(d))
        logger.info("conversation decided", metadata: ["call": "\(call)", "rule": "\(d.rule)", "type": "\(d.type)",
                                                        "channel": "\(d.channel)", "outcome": "\(d.outcome ?? "")"])
        events.publish(d)
        return d
    }

    /// What the media watch carries between rounds.
    public struct WatchState: Sendable {
        /// RFC 4733 event counts per call at the last round.
        var events: [String: Int] = [:]
        /// When each listened call's media measures were last stored.
        var stored: [String: Double] = [:]
        /// Calls not listened to because `speech.max_calls` were (logged once each).
        var refused: Set<String> = []
        /// The answered calls of the last round (one that left ended: its training samples).
        var answered: Set<String> = []
        /// SIP facts (re-offers, holds) per bot call at the last round.
        var sip: [String: [Int]] = [:]
        public init() {}
    }

    /// One round of the media watch, for every answered call: DTMF digits the caller sent
    /// (RFC 4733 events counted by the relay) since the last round become dialog records
    /// and may decide the call (`dtmf:<digit>` signals); calls to a listened user (the
    /// `speech.called` pattern) get their audio tapped for the ``Listener`` (keywords,
    /// in-band DTMF, talk and silence) until they are decided or end.
    public func watchRound(handoff: Handoff, state: inout WatchState) async {
        guard let cc = handoff.contactCenter else { return }
        let answered = handoff.calls.answeredCallIDs()
        var next: [String: Int] = [:]
        for id in answered {
            guard let (count, digit) = handoff.calls.callerTelephoneEvents(call: id) else { continue }
            let before = state.events[id] ?? 0
            next[id] = count
            // Fewer than before: a switchover replaced the caller's leg, counting starts again.
            guard count > (count < before ? 0 : before) else { continue }
            let summary = await cc.noteDTMF(call: id, digit: digit)
            _ = await reported(call: id, summary: summary, handoff: handoff)
        }
        state.events = next
        // Bot calls that ended since the last round without a transfer: their training
        // samples (the transfer stored them already for the others).
        let live = Set(answered)
        for id in state.answered.subtracting(live) where cc.hasDialog(call: id) {
            guard let info = handoff.calls.call(id: id) else { continue }
            let minutes = max(0, (info.ended ?? handoff.calls.currentTime) - info.started) / 60
            await cc.recordSamples(call: id, caller: info.from, minutes: minutes, transferredTo: nil)
        }
        state.answered = live
        // SIP facts of bot calls (ones with dialog records): re-INVITEs and holds.
        var sip: [String: [Int]] = [:]
        for id in answered where cc.hasDialog(call: id) && decision(call: id) == nil {
            guard let f = handoff.calls.sipFacts(call: id) else { continue }
            sip[id] = [f.reoffers, f.holds]
            if f.reoffers > 0, state.sip[id] != sip[id] {
                let summary = await cc.noteSIP(call: id, reinvites: f.reoffers, holds: f.holds)
                _ = await reported(call: id, summary: summary, handoff: handoff)
            }
        }
        state.sip = sip
        guard let listener else { return }
        state.refused.formIntersection(live)
        // Stop listening to calls that ended or were decided (the bot is gone or stays).
        for id in listener.listened where !live.contains(id) || decision(call: id) != nil {
            handoff.calls.tap(call: id, caller: nil, callee: nil)
            listener.forget(call: id)
            state.stored[id] = nil
        }
        let listened = Set(listener.listened)
        for id in answered where !listened.contains(id) && !state.refused.contains(id) && decision(call: id) == nil {
            guard let info = handoff.calls.call(id: id), listens(to: info.to) else { continue }
            if let taps = listener.listen(call: id) {
                handoff.calls.tap(call: id, caller: taps.caller, callee: taps.other)
                logger.info("listening to the call", metadata: ["call": "\(id)", "to": "\(info.to)"])
            } else {
                state.refused.insert(id)
                logger.warning("call not listened to: speech.max_calls reached", metadata: ["call": "\(id)", "max_calls": "\(listener.maxCalls)"])
            }
        }
        let now = handoff.calls.currentTime
        for (id, r) in listener.collect() where decision(call: id) == nil {
            for k in r.keywords {
                logger.info("keyword heard", metadata: ["call": "\(id)", "keyword": "\(k)"])
                _ = await cc.noteKeyword(call: id, keyword: k)
            }
            for d in r.digits { _ = await cc.noteDTMF(call: id, digit: String(d)) }
            let m = MediaMeasures(callerTalk: r.callerTalk, otherTalk: r.otherTalk, talkOver: r.talkOver,
                                  longestSilence: r.longestSilence, callerLevel: r.callerLevel, longSilences: r.longSilences)
            // A stored snapshot every 5 s (the timeline); the summary gets every round's.
            let store = now - (state.stored[id] ?? 0) >= 5
            if store { state.stored[id] = now }
            let summary = await cc.noteMedia(call: id, m, store: store)
            _ = await reported(call: id, summary: summary, handoff: handoff)
        }
    }

    /// Whether calls to `to` (a To header) are listened to: its user part matches `called`.
    func listens(to: String) -> Bool {
        guard let called else { return false }
        let user = SIPURI(parsing: SIPURI.addressText(to))?.user ?? to
        return user.contains(called)
    }

    private func couple(_ d: ConversationDecision, channel: String, handoff: Handoff, fallbackTaken: Bool) async -> String {
        var request: TransferRequest?
        if channel.hasPrefix("category:") { request = TransferRequest(category: String(channel.dropFirst(9))) }
        if channel.hasPrefix("agent:") { request = TransferRequest(agent: String(channel.dropFirst(6))) }
        if let request {
            do {
                let r = try await handoff.transfer(call: d.call, tenant: tenant, request)
                return "transferred to \(r.target) (key \(r.key.key))"
            } catch {
                guard !fallbackTaken else { return "\(channel) failed (\(error)); the bot keeps the call" }
                let next = await couple(d, channel: fallback, handoff: handoff, fallbackTaken: true)
                return "\(channel) unavailable (\(error)); fallback \(fallback): \(next)"
            }
        }
        if channel == "callback" {
            // The caller's address of record from its From header ("Ann <sip:ann@x>;tag=1" -> "ann@x").
            let from = handoff.calls.call(id: d.call)?.from ?? ""
            let caller = SIPURI(parsing: SIPURI.addressText(from))?.aor ?? ContactCenter.normalizeAOR(from)
            await handoff.contactCenter?.appendRecord(call: d.call, kind: "callback", detail: ContactCenter.json(["caller": caller]))
            return "callback recorded for \(caller); the bot tells the caller"
        }
        return "kept by the bot"
    }
}
