import Foundation
import Logging
import Media
import Synchronization

/// What listening to one call found so far: cumulative figures and the events since the
/// last ``Listener/collect()``.
public struct ListenReport: Sendable, Equatable, Codable {
    /// Keywords the caller said since the last collect, in order.
    public var keywords: [String] = []
    /// In-band DTMF digits since the last collect.
    public var digits = ""
    /// Seconds the caller talked, the other party (the bot) talked, both at once (the caller
    /// talking over the bot), and the longest stretch of mutual silence.
    public var callerTalk: Double = 0
    public var otherTalk: Double = 0
    public var talkOver: Double = 0
    public var longestSilence: Double = 0
    /// The mutual silence going on now (0 while someone talks).
    public var silence: Double = 0
    /// Stretches of mutual silence that reached 4 s.
    public var longSilences = 0
    /// The caller's mean speech level (dBm0), nil before the caller spoke.
    public var callerLevel: Double?
    /// Seconds of the caller's audio heard.
    public var heard: Double = 0
    public init() {}
}

/// One listened call: the caller's and the other party's taps, decoded to 8 kHz and run
/// through the keyword spotter and DTMF receiver (caller) and the activity meters (both).
final class CallListener {
    let caller = AudioTap()
    let other = AudioTap()
    /// Held while the listening thread analyses this call and while signaling collects its
    /// report: signaling waits for one call's round at most, never for the whole pass.
    let lock = NSLock()
    var spotter: KeywordSpotter?
    var spotterFailed = false
    let tones = ToneDetector()
    var callerMeter = ActivityMeter()
    var otherMeter = ActivityMeter()
    var report = ListenReport()
    /// Samples waiting to fill a 20 ms block, per side.
    private var callerPCM: [Int16] = []
    private var otherPCM: [Int16] = []
    /// Talk states of blocks not yet paired with the other side's (the two taps are
    /// drained in the same round; block i of one side is heard at about block i of the other).
    private var callerBlocks: [Bool] = []
    private var otherBlocks: [Bool] = []
    private var opusCaller: OpusCodec?
    private var opusOther: OpusCodec?
    static let block = 160
    static let blockSeconds = 0.02

    init(spotter: KeywordSpotter?) { self.spotter = spotter }

    func decode(_ codec: MediaFormat.Codec, _ payload: UnsafeBufferPointer<UInt8>, opus: inout OpusCodec?, into pcm: inout [Int16]) {
        switch codec {
        case .pcmu: for b in payload { pcm.append(G711.ulaw(b)) }
        case .pcma: for b in payload { pcm.append(G711.alaw(b)) }
        case .opus:
            if opus == nil { opus = try? OpusCodec(sampleRate: 8000) }
            if let d = try? opus?.decode(Array(payload)) { pcm.append(contentsOf: d) }
        }
    }

    /// Drains both taps and analyses what they held.
    func round() {
        var newCaller: [Int16] = []
        caller.drain { codec, payload in decode(codec, payload, opus: &opusCaller, into: &newCaller) }
        other.drain { codec, payload in decode(codec, payload, opus: &opusOther, into: &otherPCM) }
        if !newCaller.isEmpty {
            report.heard += Double(newCaller.count) / 8000
            newCaller.withUnsafeBufferPointer { p in
                if let spotter { report.keywords += spotter.feed(p) }
                report.digits += tones.feed(p)
            }
            callerPCM += newCaller
        }
        blocks(&callerPCM, meter: &callerMeter, into: &callerBlocks)
        blocks(&otherPCM, meter: &otherMeter, into: &otherBlocks)
        if callerMeter.speechBlocks > 0 { report.callerLevel = callerMeter.speechLevelSum / Double(callerMeter.speechBlocks) }
        pair()
    }

    private func blocks(_ pcm: inout [Int16], meter: inout ActivityMeter, into states: inout [Bool]) {
        var used = 0
        while pcm.count - used >= CallListener.block {
            let talking = pcm.withUnsafeBufferPointer { meter.block(UnsafeBufferPointer(rebasing: $0[used..<used + CallListener.block])) }
            states.append(talking)
            used += CallListener.block
        }
        pcm.removeFirst(used)
    }

    /// Pairs the sides' blocks in time; a side that sends nothing for over a second (a
    /// silent bot that stops its RTP) counts as silent.
    private func pair() {
        func step(_ c: Bool, _ o: Bool) {
            if c { report.callerTalk += CallListener.blockSeconds }
            if o { report.otherTalk += CallListener.blockSeconds }
            if c && o { report.talkOver += CallListener.blockSeconds }
            if !c && !o {
                report.silence += CallListener.blockSeconds
                if report.silence >= 4 && report.silence - CallListener.blockSeconds < 4 { report.longSilences += 1 }
                report.longestSilence = max(report.longestSilence, report.silence)
            } else {
                report.silence = 0
            }
        }
        let n = min(callerBlocks.count, otherBlocks.count)
        for i in 0..<n { step(callerBlocks[i], otherBlocks[i]) }
        callerBlocks.removeFirst(n)
        otherBlocks.removeFirst(n)
        while callerBlocks.count > 50 { step(callerBlocks.removeFirst(), false) }
        while otherBlocks.count > 50 { step(false, otherBlocks.removeFirst()) }
    }
}

/// Listens to calls off the relay thread: a thread of its own that, every `interval`,
/// drains the taps of the calls being listened to (at most `maxCalls`) and runs keyword
/// spotting, in-band DTMF and talk/silence on them. Signaling starts and stops calls and
/// collects what was found.
///
/// ```swift
/// let listener = Listener(model: try KeywordModel(), maxCalls: 4)
/// listener.start()
/// if let taps = listener.listen(call: "c1") { relay.tap(stream, side: .a, taps.caller); ... }
/// for (call, report) in listener.collect() { ... }
/// ```
public final class Listener: Sendable {
    public let maxCalls: Int
    public let model: KeywordModel?
    public let interval: Duration
    private struct State {
        var calls: [String: CallListener] = [:]
        var stopping = false
        var cpu: Double = 0
        var audio: Double = 0
    }
    // CallListener is used by the listening thread only, under this lock.
    private nonisolated(unsafe) var stateStorage = State()
    private let lock = Mutex<Void>(())
    private let running = Atomic<Bool>(false)
    private let logger = Logger(label: "baton.speech")

    public init(model: KeywordModel?, maxCalls: Int = 4, interval: Duration = .milliseconds(100)) {
        self.model = model
        self.maxCalls = maxCalls
        self.interval = interval
    }

    private func withState<T>(_ body: (inout State) -> T) -> T { lock.withLock { _ in body(&stateStorage) } }

    /// Starts the listening thread (once).
    public func start() {
        guard !running.exchange(true, ordering: .relaxed) else { return }
        let t = Thread { [self] in loop() }
        t.name = "baton-listen"
        t.start()
    }

    /// Stops the thread after its current round.
    public func stop() { withState { $0.stopping = true } }

    /// Starts listening to `call`: returns the taps to attach to the caller's and the other
    /// party's side, or nil when `maxCalls` calls are listened to already (or it is).
    public func listen(call: String) -> (caller: AudioTap, other: AudioTap)? {
        withState { s in
            guard s.calls[call] == nil, s.calls.count < maxCalls else { return nil }
            let l = CallListener(spotter: nil)
            s.calls[call] = l
            return (l.caller, l.other)
        }
    }

    /// Stops listening to `call` (detach its taps from the relay first).
    public func forget(call: String) { withState { _ = $0.calls.removeValue(forKey: call) } }

    public var listened: [String] { withState { Array($0.calls.keys) } }

    /// What each listened call found: cumulative figures and the keywords and digits since
    /// the last collect.
    public func collect() -> [String: ListenReport] {
        let calls = withState { $0.calls }
        var out: [String: ListenReport] = [:]
        for (id, l) in calls {
            l.lock.withLock {
                out[id] = l.report
                l.report.keywords = []
                l.report.digits = ""
            }
        }
        return out
    }

    /// CPU seconds the listening thread spent and seconds of caller audio it analysed:
    /// their ratio is the CPU cost of one listened call (docs/performance.md).
    public var cost: (cpu: Double, audio: Double) { withState { ($0.cpu, $0.audio) } }

    private func loop() {
        logger.info("listening thread started", metadata: ["max_calls": "\(maxCalls)", "keywords": "\(model?.keywords.count ?? 0)"])
        while true {
            let started = ContinuousClock.now
            let cpu0 = Listener.threadCPU()
            // The calls of this pass, taken under the lock; each analysed under its own.
            let (stop, calls) = withState { s in (s.stopping, Array(s.calls.values)) }
            if stop { break }
            var audio = 0.0
            for l in calls {
                // A spotter per call, made here, off signaling (a decoder loads in tens of ms).
                if l.spotter == nil, !l.spotterFailed, let model {
                    do { l.spotter = try KeywordSpotter(model) } catch {
                        l.spotterFailed = true
                        logger.error("keyword spotter not started for a call: \(error)")
                    }
                }
                l.lock.withLock {
                    let before = l.report.heard
                    l.round()
                    audio += l.report.heard - before
                }
            }
            withState { $0.audio += audio }
            let cpu = Listener.threadCPU() - cpu0
            withState { $0.cpu += cpu }
            let spent = ContinuousClock.now - started
            if spent < interval { Thread.sleep(forTimeInterval: Double((interval - spent).components.attoseconds) / 1e18 + Double((interval - spent).components.seconds)) }
        }
        running.store(false, ordering: .relaxed)
    }

    /// CPU seconds the calling thread has used.
    public static func threadCPU() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
