import Foundation
import Store

/// What a bot application reports about a call it handles (`POST /calls/{id}/dialog`): the
/// bot's side of the dialog information records (issue 20). Every field is optional; a
/// report says what changed.
public struct BotReport: Codable, Sendable, Equatable {
    /// The intent the bot matched ("billing.balance").
    public var intent: String?
    /// The bot's confidence in that intent, 0..1.
    public var confidence: Double?
    /// The bot did not understand the last turn.
    public var noMatch: Bool?
    /// The caller said nothing in the last turn.
    public var noInput: Bool?
    /// The caller's sentiment, -1 (negative) .. 1 (positive).
    public var sentiment: Double?
    /// What the caller said in the last turn (the bot's recognizer).
    public var transcript: String?
    /// The caller asked for a person.
    public var humanRequested: Bool?

    public init(intent: String? = nil, confidence: Double? = nil, noMatch: Bool? = nil, noInput: Bool? = nil,
                sentiment: Double? = nil, transcript: String? = nil, humanRequested: Bool? = nil) {
        self.intent = intent; self.confidence = confidence; self.noMatch = noMatch; self.noInput = noInput
        self.sentiment = sentiment; self.transcript = transcript; self.humanRequested = humanRequested
    }

    func validate() throws(ContactCenterError) {
        if let i = intent, i.count > 200 { throw .invalid("intent is at most 200 characters") }
        if let c = confidence, !(0...1).contains(c) { throw .invalid("confidence must be 0..1") }
        if let s = sentiment, !(-1...1).contains(s) { throw .invalid("sentiment must be -1..1") }
        if let t = transcript, t.count > 2000 { throw .invalid("transcript is at most 2000 characters") }
        if self == BotReport() { throw .invalid("an empty report") }
    }
}

/// A call's dialog so far, as the transfer model reads it.
public struct DialogSummary: Codable, Sendable, Equatable {
    public var reports = 0
    /// No-match and no-input turns.
    public var noMatch = 0
    public var humanRequested = false
    /// The last sentiment reported (-1..1).
    public var sentiment: Double?
    public var lastIntent: String?
    /// The DTMF digits the caller pressed so far (RFC 4733 events Baton saw in the media).
    public var dtmf = ""
    /// Keywords the caller said, in order of first saying (Baton's keyword spotter on the
    /// caller's audio; `keyword:<word>` signals).
    public var keywords: [String] = []
    /// Talk, silence and level Baton measured on the call's audio (nil: not listened to).
    public var media: MediaMeasures?
    /// SIP facts: re-offers (re-INVITEs, UPDATEs with SDP) since the answer, and holds.
    public var reinvites = 0
    public var holds = 0
    public init() {}

    mutating func add(_ r: BotReport) {
        reports += 1
        if r.noMatch == true { noMatch += 1 }
        if r.noInput == true { noMatch += 1 }
        if r.humanRequested == true { humanRequested = true }
        if let s = r.sentiment { sentiment = s }
        if let i = r.intent { lastIntent = i }
    }

    /// 0 (neutral or positive) .. 1 (most negative).
    public var negativeSentiment: Double { max(0, -(sentiment ?? 0)) }
}

/// What Baton measures on a listened call's audio (seconds, dBm0): the media side of the
/// dialog records.
public struct MediaMeasures: Codable, Sendable, Equatable {
    public var callerTalk: Double
    public var otherTalk: Double
    /// The caller talking while the bot talks.
    public var talkOver: Double
    /// The longest stretch in which neither party talked.
    public var longestSilence: Double
    /// The caller's mean speech level (dBm0), nil before the caller spoke.
    public var callerLevel: Double?
    /// Stretches of 4 s or more in which neither party talked.
    public var longSilences: Int
    public init(callerTalk: Double, otherTalk: Double, talkOver: Double, longestSilence: Double, callerLevel: Double?, longSilences: Int = 0) {
        self.callerTalk = callerTalk; self.otherTalk = otherTalk; self.talkOver = talkOver
        self.longestSilence = longestSilence; self.callerLevel = callerLevel; self.longSilences = longSilences
    }
}

struct DialogState: Sendable {
    var summary = DialogSummary()
    /// Its training samples were stored (at the transfer, or as it ended).
    var sampled = false
    var recent: [Double] = []
    var last: Double = 0
}

extension ContactCenter {
    /// Reports per call per second beyond which a report is refused (429).
    static let reportsPerSecond = 10

    /// Records a bot report for `call` (stored in `dialog_records`) and returns the call's
    /// summary. Bad fields: `.invalid`; more than ``reportsPerSecond`` in a second: `.tooMany`.
    public func report(call: String, _ r: BotReport) async throws(ContactCenterError) -> DialogSummary {
        try r.validate()
        let t = now()
        let admitted: Bool = dialogs.withLock { d in
            ContactCenter.prune(&d, at: t)
            var s = d[call] ?? DialogState()
            s.last = t
            s.recent = s.recent.filter { t - $0 < 1 }
            guard s.recent.count < ContactCenter.reportsPerSecond else { return false }
            s.recent.append(t)
            d[call] = s
            return true
        }
        guard admitted else { throw .tooMany("more than \(ContactCenter.reportsPerSecond) reports a second for call \(call)") }
        do {
            try await store.append(DialogRecord(callID: call, time: t, kind: "bot", detail: ContactCenter.json(r)))
        } catch { throw .unavailable("store: \(error)") }
        return dialogs.withLock { d in
            d[call, default: DialogState()].summary.add(r)
            return d[call]!.summary
        }
    }

    /// A DTMF digit the caller pressed (Baton saw it in the media): stored as a record
    /// (kind "dtmf"), added to the summary (`dtmf:<digit>` signals).
    public func noteDTMF(call: String, digit: String) async -> DialogSummary {
        await appendRecord(call: call, kind: "dtmf", detail: ContactCenter.json(["digit": digit]))
        return updateSummary(call: call) { $0.dtmf += digit }
    }

    /// A keyword the caller said (Baton's keyword spotter): stored as a record (kind
    /// "keyword"), added to the summary (`keyword:<word>` signals).
    public func noteKeyword(call: String, keyword: String) async -> DialogSummary {
        await appendRecord(call: call, kind: "keyword", detail: ContactCenter.json(["keyword": keyword]))
        return updateSummary(call: call) { if !$0.keywords.contains(keyword) { $0.keywords.append(keyword) } }
    }

    /// The listened call's media measures so far; stored as a record (kind "media") when
    /// `store` (the caller's periodic snapshot), always put in the summary.
    public func noteMedia(call: String, _ m: MediaMeasures, store: Bool) async -> DialogSummary {
        if store { await appendRecord(call: call, kind: "media", detail: ContactCenter.json(m)) }
        return updateSummary(call: call) { $0.media = m }
    }

    /// The call's SIP facts changed (a re-INVITE, a hold): stored as a record (kind "sip"),
    /// put in the summary (`reinvites`, `holds` signals).
    public func noteSIP(call: String, reinvites: Int, holds: Int) async -> DialogSummary {
        await appendRecord(call: call, kind: "sip", detail: ContactCenter.json(["reinvites": reinvites, "holds": holds]))
        return updateSummary(call: call) { $0.reinvites = reinvites; $0.holds = holds }
    }

    private func updateSummary(call: String, _ change: (inout DialogSummary) -> Void) -> DialogSummary {
        let t = now()
        return dialogs.withLock { d in
            ContactCenter.prune(&d, at: t)
            change(&d[call, default: DialogState()].summary)
            d[call]!.last = t
            return d[call]!.summary
        }
    }

    /// Bounded: past 10 000 calls, those not reported on for an hour are forgotten (their
    /// records stay stored).
    private static func prune(_ d: inout [String: DialogState], at t: Double) {
        if d.count > 10_000 { d = d.filter { t - $0.value.last < 3600 } }
    }

    /// The call's summary (empty when nothing was reported).
    public func dialogSummary(call: String) -> DialogSummary { dialogs.withLock { $0[call]?.summary ?? DialogSummary() } }

    /// The call's stored reports, oldest first.
    public func dialogRecords(call: String) async throws(ContactCenterError) -> [(time: Double, report: BotReport)] {
        let rows: [DialogRecord]
        do { rows = try await store.dialogRecords(callID: call, limit: 1000) } catch { throw .unavailable("store: \(error)") }
        return rows.compactMap { r in
            guard r.kind == "bot", let b = try? JSONDecoder().decode(BotReport.self, from: Data(r.detail.utf8)) else { return nil }
            return (r.time, b)
        }
    }

    /// Stores another kind of record for the call (a decision, a callback).
    public func appendRecord(call: String, kind: String, detail: String) async {
        try? await store.append(DialogRecord(callID: call, time: now(), kind: kind, detail: detail))
    }

    /// Records a transfer of `caller`'s call to `candidate` (an agent id or "category:<id>").
    public func recordTransfer(call: String, caller: String, candidate: String) async {
        try? await store.append(TransferRecord(callID: call, caller: ContactCenter.normalizeAOR(caller), candidate: candidate, time: now()))
    }

    /// The prior-transfer features for `caller` and `candidate`: the caller's earlier
    /// transfers to it, and the candidate's share of all transfers.
    public func transferHistory(caller: String, candidate: String) async -> (prior: Int, share: Double) {
        guard let c = try? await store.transferCounts(caller: ContactCenter.normalizeAOR(caller), candidate: candidate) else { return (0, 0) }
        return (c.callerToCandidate, c.all > 0 ? Double(c.toCandidate) / Double(c.all) : 0)
    }
}
