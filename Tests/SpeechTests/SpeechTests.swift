import CSpanDSP
import Foundation
import Testing
@testable import Media
@testable import Speech

/// The Speech module on audio with a known answer: keywords in recorded synthetic speech
/// (flite, telephone band: fixtures/*.ulaw), DTMF tones made by spandsp's generator, talk
/// and silence from tones and zeros, and the listener that pairs both sides of a call.
@Suite struct SpeechTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("fixtures")

    static func ulaw(_ name: String) throws -> [Int16] {
        try Data(contentsOf: fixtures.appendingPathComponent(name)).map { G711.ulaw($0) }
    }

    /// spandsp's DTMF generator: `digits` as 8 kHz samples, then `silence` samples of zeros.
    static func dtmf(_ digits: String, silence: Int = 1600) -> [Int16] {
        let tx = dtmf_tx_init(nil)
        defer { dtmf_tx_free(tx) }
        dtmf_tx_put(tx, digits, -1)
        var out: [Int16] = []
        var block = [Int16](repeating: 0, count: 160)
        while true {
            let n = Int(dtmf_tx(tx, &block, 160))
            if n <= 0 { break }
            out += block[0..<n]
        }
        return out + [Int16](repeating: 0, count: silence)
    }

    static func tone(seconds: Double, amplitude: Double = 8000) -> [Int16] {
        (0..<Int(seconds * 8000)).map { Int16(amplitude * sin(2 * Double.pi * 440 * Double($0) / 8000)) }
    }

    @Test func theKeywordListIsCheckedAgainstTheDictionary() throws {
        #expect(throws: SpeechError.invalid("not in the model's dictionary: agentx")) {
            try KeywordModel([KeywordSpec(keyword: "agentx")])
        }
        #expect(throws: SpeechError.invalid("no keyword")) { try KeywordModel([]) }
        #expect(throws: SpeechError.self) { try KeywordModel([KeywordSpec(keyword: "agent", threshold: 2)]) }
        #expect(throws: SpeechError.self) { try KeywordModel([KeywordSpec(keyword: "agent"), KeywordSpec(keyword: "agents", phrases: ["agent"])]) }
        #expect(throws: SpeechError.model("no acoustic model under /nonexistent/en-us (install Debian's pocketsphinx-en-us)")) {
            try KeywordModel(directory: "/nonexistent")
        }
        let m = try KeywordModel([KeywordSpec(keyword: "agent", phrases: ["Talk  to an Agent", "agent"], threshold: 1e-20)])
        #expect(m.keyphraseFile == "talk to an agent /1e-20/\nagent /1e-20/\n")
        #expect(m.keyword(phrase: "talk to an agent") == "agent")
        #expect(m.pronunciations.contains { $0.hasPrefix("agent ") })
    }

    @Test func theSpotterHearsAKeywordAndNothingInAnotherPhrase() throws {
        let spotter = try KeywordSpotter(try KeywordModel())
        var found: [String] = []
        let speech = try SpeechTests.ulaw("agent.ulaw") + [Int16](repeating: 0, count: 4000)
        // Fed as the relay hands it over: 20 ms at a time.
        for i in stride(from: 0, to: speech.count, by: 160) { found += spotter.feed(Array(speech[i..<min(i + 160, speech.count)])) }
        #expect(found == ["agent"], "one saying of 'agent please' is reported once")
        let other = try SpeechTests.ulaw("none.ulaw") + [Int16](repeating: 0, count: 4000)
        var more: [String] = []
        for i in stride(from: 0, to: other.count, by: 160) { more += spotter.feed(Array(other[i..<min(i + 160, other.count)])) }
        #expect(more.isEmpty, "'what is my account balance' has no keyword: \(more)")
    }

    @Test func inBandDigitsAreDetectedThroughG711() {
        let tones = ToneDetector()
        // Through the telephone codec, as the relay carries them.
        let pcm = SpeechTests.dtmf("0#5").map { G711.ulaw(G711.ulawEncode($0)) }
        var digits = ""
        for i in stride(from: 0, to: pcm.count, by: 160) { digits += tones.feed(Array(pcm[i..<min(i + 160, pcm.count)])) }
        #expect(digits == "0#5")
        #expect(ToneDetector().feed(SpeechTests.tone(seconds: 1)) == "", "a 440 Hz tone is no digit")
    }

    @Test func theActivityMeterTellsTalkFromSilence() {
        var meter = ActivityMeter()
        let talk = SpeechTests.tone(seconds: 0.2)
        var states: [Bool] = []
        for chunk in [talk, [Int16](repeating: 0, count: 8000)] {
            for i in stride(from: 0, to: chunk.count, by: 160) {
                states.append(chunk.withUnsafeBufferPointer { meter.block(UnsafeBufferPointer(rebasing: $0[i..<i + 160])) })
            }
        }
        #expect(states[2...9].allSatisfy { $0 }, "talking during the tone")
        #expect(states.suffix(20).allSatisfy { !$0 }, "silent after the hangover")
        #expect(meter.speechBlocks > 0 && meter.speechLevelSum / Double(meter.speechBlocks) > -20)
    }

    /// Both sides of a call through taps: the caller's digits, talk while the bot talks, and
    /// a silence in which neither talks.
    @Test func theListenerPairsBothSidesOfACall() throws {
        let listener = Listener(model: nil, maxCalls: 1, interval: .milliseconds(20))
        let (caller, bot) = try #require(listener.listen(call: "c1"))
        #expect(listener.listen(call: "c2") == nil, "max_calls bounds the listened calls")
        listener.start()
        defer { listener.stop() }
        func send(_ pcm: [Int16], _ tap: AudioTap) {
            for i in stride(from: 0, to: pcm.count - 159, by: 160) {
                let frame = pcm[i..<i + 160].map { G711.ulawEncode($0) }
                frame.withUnsafeBufferPointer { tap.put(0, $0.baseAddress!, count: 160) }
            }
        }
        // 1 s: the bot talks, the caller talks over it for the last 0.5 s; then 1 s of silence;
        // then the caller presses 7.
        send(SpeechTests.tone(seconds: 1), bot)
        send([Int16](repeating: 0, count: 4000) + SpeechTests.tone(seconds: 0.5), caller)
        send([Int16](repeating: 0, count: 8000), bot)
        send([Int16](repeating: 0, count: 8000), caller)
        let digits = SpeechTests.dtmf("7")
        send(digits, caller)
        send([Int16](repeating: 0, count: digits.count), bot)
        var report = ListenReport()
        var got = ""
        let end = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < end {
            if let r = listener.collect()["c1"] { got += r.digits; report = r }
            if !got.isEmpty && report.heard >= 2.5 { break }
            usleep(20_000)
        }
        #expect(got == "7")
        // 0.5 s of overlap, plus the 200 ms hangover both sides keep after their last word.
        #expect(abs(report.talkOver - 0.7) < 0.1, "talk-over \(report.talkOver)")
        #expect(report.longestSilence > 0.6 && report.longestSilence < 1.0, "silence \(report.longestSilence)")
        #expect(report.otherTalk >= 1.0 && report.callerTalk >= 0.5)
        listener.forget(call: "c1")
        #expect(listener.listen(call: "c2") != nil, "a forgotten call frees its place")
    }
}
