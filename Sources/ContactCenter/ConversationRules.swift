import Foundation

/// The conversation type of a bot call and the replacement channel it gets (issue 20): rules
/// an operator reads and changes at run time (`[[conversation.rules]]` in the file,
/// `PUT /conversation-rules`), evaluated in order over the call's dialog summary after every
/// report; the first rule whose conditions all hold decides, once per call.
///
/// ```toml
/// [[conversation.rules]]
/// name = "asked for a person"
/// type = "human-request"
/// when = ["human_request >= 1"]
/// channel = "category:support"
/// ```
public struct ConversationRule: Codable, Sendable, Equatable {
    public var name: String
    /// The conversation type it assigns ("human-request", "frustrated", "billing", "bot", ...).
    public var type: String
    /// Conditions that must all hold: "SIGNAL OP NUMBER", OP one of >= > <= < ==.
    public var when: [String]
    /// Where the call goes: `category:<id>` (a logged-in agent of that skill, else the
    /// category's contacts), `agent:<id>`, `callback` (a callback record; the bot keeps the
    /// call to tell the caller), or `bot` (the bot keeps the call).
    public var channel: String

    public init(name: String, type: String, when: [String], channel: String) {
        self.name = name; self.type = type; self.when = when; self.channel = channel
    }

    /// The signals a condition may name: the summary's, by the transfer model's names.
    /// `intent:<name>` is 1 when the bot's last intent is that name; `dtmf:<digit>` is 1 once
    /// the caller pressed that digit (RFC 4733 events in the caller's media).
    /// `keyword:<word>` is 1 once the caller said that keyword (Baton's keyword spotter).
    /// The media measures of a listened call: `caller_talk`, `bot_talk`, `talk_over` and
    /// `longest_silence` in seconds, `caller_level` in dBm0 (-96 before the caller spoke).
    public static let signals: Set<String> = ["no_match", "human_request", "negative_sentiment", "minutes", "reports",
                                              "caller_talk", "bot_talk", "talk_over", "longest_silence", "caller_level",
                                              "long_silences", "reinvites", "holds"]

    struct Condition: Equatable {
        var signal: String
        var op: String
        var value: Double
        func holds(_ v: Double) -> Bool {
            switch op {
            case ">=": v >= value
            case ">": v > value
            case "<=": v <= value
            case "<": v < value
            default: v == value
            }
        }
    }

    func conditions() throws(ContactCenterError) -> [Condition] {
        var out: [Condition] = []
        for text in when {
            let parts = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard parts.count == 3, [">=", ">", "<=", "<", "=="].contains(parts[1]), let v = Double(parts[2]), v.isFinite else {
                throw .invalid("rule '\(name)': condition '\(text)' is not 'SIGNAL OP NUMBER' (OP: >= > <= < ==)")
            }
            let dtmf = parts[0].hasPrefix("dtmf:") && parts[0].count == 6 && "0123456789*#ABCD".contains(parts[0].last!)
            let keyword = parts[0].hasPrefix("keyword:") && parts[0].count > 8
            guard ConversationRule.signals.contains(parts[0]) || (parts[0].hasPrefix("intent:") && parts[0].count > 7) || dtmf || keyword else {
                throw .invalid("rule '\(name)': unknown signal '\(parts[0])' (known: \(ConversationRule.signals.sorted().joined(separator: ", ")), intent:<name>, dtmf:<digit>, keyword:<word>)")
            }
            out.append(Condition(signal: parts[0], op: parts[1], value: v))
        }
        return out
    }

    /// Checks names, conditions and the channel's form.
    public func validate() throws(ContactCenterError) {
        guard !name.isEmpty, name.count <= 100 else { throw .invalid("a rule needs a name of 1-100 characters") }
        guard !type.isEmpty, type.count <= 64 else { throw .invalid("rule '\(name)': type must be 1-64 characters") }
        guard !when.isEmpty else { throw .invalid("rule '\(name)': no condition (when)") }
        _ = try conditions()
        let ok = channel == "callback" || channel == "bot"
            || (channel.hasPrefix("category:") && channel.count > 9) || (channel.hasPrefix("agent:") && channel.count > 6)
        guard ok else { throw .invalid("rule '\(name)': channel '\(channel)' is not category:<id>, agent:<id>, callback or bot") }
    }
}

/// A rule that fired for a call: which, and the signals' values that made it fire.
public struct ConversationDecision: Codable, Sendable, Equatable {
    public var call: String
    public var rule: String
    public var type: String
    public var channel: String
    public var signals: [String: Double]
    public var time: Double
    /// What was done: "transferred to <target>", "callback recorded", "kept by the bot",
    /// or why the channel could not be used and the fallback was taken.
    public var outcome: String?
    public init(call: String, rule: String, type: String, channel: String, signals: [String: Double], time: Double, outcome: String? = nil) {
        self.call = call; self.rule = rule; self.type = type; self.channel = channel; self.signals = signals; self.time = time; self.outcome = outcome
    }
}

extension DialogSummary {
    /// The value of a signal a rule names.
    func value(_ signal: String, minutes: Double) -> Double {
        switch signal {
        case "no_match": Double(noMatch)
        case "human_request": humanRequested ? 1 : 0
        case "negative_sentiment": negativeSentiment
        case "minutes": minutes
        case "reports": Double(reports)
        case "caller_talk": media?.callerTalk ?? 0
        case "bot_talk": media?.otherTalk ?? 0
        case "talk_over": media?.talkOver ?? 0
        case "longest_silence": media?.longestSilence ?? 0
        case "caller_level": media?.callerLevel ?? -96
        case "long_silences": Double(media?.longSilences ?? 0)
        case "reinvites": Double(reinvites)
        case "holds": Double(holds)
        default:
            if signal.hasPrefix("dtmf:") { dtmf.contains(signal.dropFirst(5)) ? 1 : 0 }
            else if signal.hasPrefix("keyword:") { keywords.contains(String(signal.dropFirst(8))) ? 1 : 0 }
            else { signal.hasPrefix("intent:") && lastIntent == String(signal.dropFirst(7)) ? 1 : 0 }
        }
    }
}

/// The rules in force, replaced as a whole (never half-applied: a list with one bad rule is
/// refused and the running one stays).
public struct ConversationRules: Sendable, Equatable {
    public private(set) var rules: [ConversationRule]

    public init(_ rules: [ConversationRule] = []) throws(ContactCenterError) {
        guard rules.count <= 200 else { throw .invalid("at most 200 rules") }
        for r in rules { try r.validate() }
        guard Set(rules.map(\.name)).count == rules.count else { throw .invalid("rule names must be unique") }
        self.rules = rules
    }

    /// The first rule that holds for `summary`, with the values of the signals it named.
    public func decide(call: String, _ summary: DialogSummary, minutes: Double, at time: Double) -> ConversationDecision? {
        for r in rules {
            guard let conditions = try? r.conditions() else { continue }
            var fired: [String: Double] = [:]
            let holds = conditions.allSatisfy { c in
                let v = summary.value(c.signal, minutes: minutes)
                fired[c.signal] = v
                return c.holds(v)
            }
            if holds { return ConversationDecision(call: call, rule: r.name, type: r.type, channel: r.channel, signals: fired, time: time) }
        }
        return nil
    }
}

extension ContactCenter {
    static let rulesSetting = "conversation.rules"

    /// Keeps `rules` (a valid list) in the store, so they outlive a restart.
    public func saveConversationRules(_ rules: [ConversationRule]) async throws(ContactCenterError) {
        do {
            try await store.saveStoredSetting(ContactCenter.rulesSetting, value: ContactCenter.json(rules), at: now())
        } catch { throw .unavailable("store: \(error)") }
    }

    /// The rules last saved over the API and when, if any; a stored list that no longer
    /// validates (a signal renamed by an upgrade) is skipped with an error logged.
    public func storedConversationRules() async -> (rules: [ConversationRule], updated: Double)? {
        guard let (value, updated) = try? await store.storedSetting(ContactCenter.rulesSetting) else { return nil }
        guard let rules = try? JSONDecoder().decode([ConversationRule].self, from: Data(value.utf8)),
              (try? ConversationRules(rules)) != nil else {
            logger.error("the stored conversation rules do not parse or validate; the file's rules are used")
            return nil
        }
        return (rules, updated)
    }
}
