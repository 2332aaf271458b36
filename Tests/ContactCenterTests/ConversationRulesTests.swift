import Foundation
import Testing
@testable import ContactCenter

/// Conversation type rules (issue 20): the first rule that holds decides, with the signals
/// that fired it; bad rules are refused as a whole with a message naming the problem.
@Suite struct ConversationRulesTests {
    static let rules = [
        ConversationRule(name: "asked for a person", type: "human-request", when: ["human_request >= 1"], channel: "category:support"),
        ConversationRule(name: "not understood", type: "frustrated", when: ["no_match >= 3"], channel: "category:specialists"),
        ConversationRule(name: "angry billing", type: "complaint", when: ["intent:billing >= 1", "negative_sentiment > 0.5"], channel: "agent:ann"),
        ConversationRule(name: "long", type: "stays-with-bot", when: ["minutes > 30"], channel: "bot"),
    ]

    @Test func theFirstRuleThatHoldsDecidesWithItsSignals() throws {
        let r = try ConversationRules(Self.rules)
        var s = DialogSummary()
        #expect(r.decide(call: "c", s, minutes: 1, at: 0) == nil, "nothing holds yet")
        for _ in 0..<2 { s.add(BotReport(noMatch: true)) }
        #expect(r.decide(call: "c", s, minutes: 1, at: 0) == nil, "two no-matches are not three")
        s.add(BotReport(noInput: true))
        let d = try #require(r.decide(call: "c", s, minutes: 1, at: 5))
        #expect(d.rule == "not understood" && d.type == "frustrated" && d.channel == "category:specialists")
        #expect(d.signals == ["no_match": 3] && d.time == 5)
        // A request for a person comes first in the list: it wins over the no-matches.
        s.add(BotReport(humanRequested: true))
        #expect(r.decide(call: "c", s, minutes: 1, at: 6)?.type == "human-request")
        var billing = DialogSummary()
        billing.add(BotReport(intent: "billing", sentiment: -0.9))
        let angry = try #require(r.decide(call: "b", billing, minutes: 2, at: 0))
        #expect(angry.channel == "agent:ann" && angry.signals == ["intent:billing": 1, "negative_sentiment": 0.9])
        billing.add(BotReport(intent: "weather"))
        #expect(r.decide(call: "b", billing, minutes: 2, at: 0) == nil, "the last intent counts")
        #expect(r.decide(call: "x", DialogSummary(), minutes: 31, at: 0)?.channel == "bot")
        // DTMF digits the caller pressed.
        let zero = try ConversationRules([ConversationRule(name: "zero", type: "human-request", when: ["dtmf:0 >= 1"], channel: "category:support")])
        var pressed = DialogSummary()
        pressed.dtmf = "12"
        #expect(zero.decide(call: "d", pressed, minutes: 0, at: 0) == nil)
        pressed.dtmf += "0"
        #expect(zero.decide(call: "d", pressed, minutes: 0, at: 0)?.signals == ["dtmf:0": 1])
    }

    /// What Baton hears on a listened call: keywords the caller said, talking over the bot,
    /// long silences, the caller's level.
    @Test func keywordsAndMediaMeasuresAreSignals() throws {
        let r = try ConversationRules([
            ConversationRule(name: "fraud", type: "fraud-urgent", when: ["keyword:fraud >= 1"], channel: "category:fraud"),
            ConversationRule(name: "talks over", type: "frustrated", when: ["talk_over >= 3", "caller_level > -30"], channel: "category:specialists"),
            ConversationRule(name: "gone quiet", type: "stays-with-bot", when: ["longest_silence >= 10"], channel: "bot"),
        ])
        var s = DialogSummary()
        s.keywords = ["agent"]
        #expect(r.decide(call: "c", s, minutes: 0, at: 0) == nil, "no media measured yet: levels count as -96 dBm0, times as 0")
        s.media = MediaMeasures(callerTalk: 8, otherTalk: 9, talkOver: 3.5, longestSilence: 2, callerLevel: -25)
        let d = try #require(r.decide(call: "c", s, minutes: 0, at: 0))
        #expect(d.rule == "talks over" && d.signals == ["talk_over": 3.5, "caller_level": -25])
        s.keywords.append("fraud")
        #expect(r.decide(call: "c", s, minutes: 0, at: 0)?.signals == ["keyword:fraud": 1])
        s = DialogSummary()
        s.media = MediaMeasures(callerTalk: 1, otherTalk: 1, talkOver: 0, longestSilence: 12, callerLevel: nil)
        #expect(r.decide(call: "q", s, minutes: 0, at: 0)?.channel == "bot")
        #expect(throws: ContactCenterError.self) {
            try ConversationRules([ConversationRule(name: "x", type: "t", when: ["keyword: >= 1"], channel: "bot")])
        }
        // SIP facts and counted silences.
        let sip = try ConversationRules([
            ConversationRule(name: "holds a lot", type: "complaint", when: ["holds >= 2", "reinvites >= 3"], channel: "category:support"),
            ConversationRule(name: "silent", type: "stays-with-bot", when: ["long_silences >= 2"], channel: "bot"),
        ])
        var h = DialogSummary()
        h.reinvites = 4
        h.holds = 1
        #expect(sip.decide(call: "h", h, minutes: 0, at: 0) == nil)
        h.holds = 2
        #expect(sip.decide(call: "h", h, minutes: 0, at: 0)?.signals == ["holds": 2, "reinvites": 4])
        var quiet = DialogSummary()
        quiet.media = MediaMeasures(callerTalk: 1, otherTalk: 1, talkOver: 0, longestSilence: 9, callerLevel: nil, longSilences: 2)
        #expect(sip.decide(call: "q", quiet, minutes: 0, at: 0)?.rule == "silent")
    }

    @Test func badRulesAreRefusedAsAWhole() {
        func refused(_ rule: ConversationRule, _ needle: String) {
            #expect {
                try ConversationRules(Self.rules + [rule])
            } throws: { e in
                guard case .invalid(let why) = e as? ContactCenterError else { return false }
                return why.contains(needle)
            }
        }
        refused(ConversationRule(name: "x", type: "t", when: ["shouting >= 1"], channel: "bot"), "unknown signal 'shouting'")
        refused(ConversationRule(name: "x", type: "t", when: ["no_match => 1"], channel: "bot"), "is not 'SIGNAL OP NUMBER'")
        refused(ConversationRule(name: "x", type: "t", when: ["no_match >= lots"], channel: "bot"), "is not 'SIGNAL OP NUMBER'")
        refused(ConversationRule(name: "x", type: "t", when: [], channel: "bot"), "no condition")
        refused(ConversationRule(name: "x", type: "t", when: ["dtmf:9x >= 1"], channel: "bot"), "unknown signal 'dtmf:9x'")
        refused(ConversationRule(name: "x", type: "t", when: ["minutes > 1"], channel: "queue:7"), "channel 'queue:7'")
        refused(ConversationRule(name: "long", type: "t", when: ["minutes > 1"], channel: "bot"), "unique")
        #expect(throws: ContactCenterError.self) { try ConversationRules(Array(repeating: Self.rules[0], count: 201)) }
    }
}
