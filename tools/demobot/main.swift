import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Media
import SIP
import Speech

/// A demo voicebot for Baton (issue 20): answers one call at a time over SIP (Baton's SIP
/// module), plays spoken prompts (espeak-ng) over RTP (libortp, Baton's `RTPEndpoint`),
/// listens to the caller's turns (talk then silence, spandsp's power meter) and tells Baton
/// what it heard on each turn (`POST /calls/{id}/dialog`): this bot understands nothing, so
/// every turn is a no-match. Baton decides the rest: its own keyword spotter hears "agent"
/// or "person", its rules count the no-matches, and it moves the caller to an agent.
///
///     baton-demobot --sip-port 5090 --rtp-port 31000 --baton http://127.0.0.1:8080
///
/// and a route to it in Baton (`--route '^bot$=127.0.0.1:5090'`); README "Demo".
@main
struct DemoBot: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "baton-demobot", abstract: "A demo voicebot for Baton.")

    @Option(help: "Address to listen on (SIP and RTP).") var ip = "127.0.0.1"
    @Option(help: "SIP port (UDP).") var sipPort = 5090
    @Option(help: "RTP port (even; RTCP on the next).") var rtpPort = 31000
    @Option(help: "Baton's HTTP API.") var baton = "http://127.0.0.1:8080"
    @Option(help: "Bearer token for Baton's API (with http.auth).") var token: String?
    @Option(help: "What the bot says when it answers.") var greeting = "Hello, this is the demo bot. How can I help you?"
    @Option(help: "What it says after each turn it did not understand.") var sorry = "Sorry, I did not understand. Please say it again."
    @Option(help: "espeak-ng voice of the prompts.") var voice = "en-us"
    @Option(help: "Seconds of caller silence that end a turn.") var turnSilence = 0.8
    @Option(help: "Stop after this many calls (0: run until killed).") var calls = 0

    func run() throws {
        let prompts = try Prompts(greeting: greeting, sorry: sorry, voice: voice)
        let sip = try UDPPort(ip: ip, port: sipPort)
        log("listening on sip:bot@\(ip):\(sipPort), RTP \(rtpPort), reporting to \(baton)")
        var done = 0
        var call: BotCall?
        while calls == 0 || done < calls {
            // SIP first: a request changes what the media loop does.
            while let (bytes, from) = sip.receive() {
                guard let m = try? SIPMessage.parse(bytes), m.isRequest, let method = m.method else { continue }
                switch method {
                case "INVITE":
                    if call == nil || call?.callID == m.callID {
                        do {
                            let c = try call ?? BotCall(invite: m, ip: ip, rtpPort: rtpPort, prompts: prompts,
                                                        reporter: Reporter(baton: baton, token: token),
                                                        turnBlocks: max(5, Int(turnSilence / 0.02)))
                            call = c
                            sip.send(try m.makeResponse(100, "Trying").serialize(), to: from)
                            let ok = m.makeResponse(200, "OK", toTag: c.tag)
                            try ok.setContact("<sip:bot@\(ip):\(sipPort)>")
                            ok.setBody(Array(c.answer.utf8), contentType: "application/sdp")
                            sip.send(try ok.serialize(), to: from)
                            log("answered \(m.callID ?? "")")
                        } catch {
                            log("refused an INVITE: \(error)")
                            sip.send((try? m.makeResponse(488, "Not Acceptable Here", toTag: "demobot").serialize()) ?? [], to: from)
                        }
                    } else {
                        sip.send((try? m.makeResponse(486, "Busy Here", toTag: "demobot").serialize()) ?? [], to: from)
                    }
                case "ACK":
                    if let c = call, c.callID == m.callID { c.start() }
                case "BYE", "CANCEL":
                    sip.send((try? m.makeResponse(200, "OK").serialize()) ?? [], to: from)
                    if let c = call, c.callID == m.callID {
                        log("call \(c.callID) ended by \(method) after \(c.turns) turns")
                        call = nil
                        done += 1
                    }
                default:
                    sip.send((try? m.makeResponse(method == "OPTIONS" ? 200 : 405, method == "OPTIONS" ? "OK" : "Method Not Allowed").serialize()) ?? [], to: from)
                }
            }
            if let c = call { c.tick() } else { usleep(20_000) }
        }
    }
}

func log(_ s: String) {
    FileHandle.standardError.write(Data("baton-demobot: \(s)\n".utf8))
}

/// The bot's prompts as 8 kHz PCM, spoken by espeak-ng.
struct Prompts {
    let greeting: [Int16]
    let sorry: [Int16]

    init(greeting: String, sorry: String, voice: String) throws {
        self.greeting = try Prompts.speak(greeting, voice: voice)
        self.sorry = try Prompts.speak(sorry, voice: voice)
    }

    static func speak(_ text: String, voice: String) throws -> [Int16] {
        let wav = FileManager.default.temporaryDirectory.appendingPathComponent("demobot-\(getpid())-\(UInt32.random(in: 0 ... .max)).wav")
        defer { try? FileManager.default.removeItem(at: wav) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/espeak-ng")
        p.arguments = ["-v", voice, "-w", wav.path, text]
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw ValidationError("espeak-ng failed (install Debian's espeak-ng)") }
        let data = try Data(contentsOf: wav)
        // RIFF/WAVE, 16-bit mono: the sample rate at byte 24, samples after the "data" chunk.
        guard data.count > 44, let range = data.range(of: Data("data".utf8)) else { throw ValidationError("espeak-ng wrote no WAV") }
        let rate = Double(data[24..<28].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) })
        let start = range.upperBound + 4
        let samples = stride(from: start, to: data.count - 1, by: 2).map { Int16(bitPattern: UInt16(data[$0]) | UInt16(data[$0 + 1]) << 8) }
        return Resampler.to8k(samples, from: rate)
    }
}

/// Rate conversion to 8 kHz: windowed-sinc interpolation with the cut-off below 4 kHz.
enum Resampler {
    static func to8k(_ x: [Int16], from rate: Double) -> [Int16] {
        let step = rate / 8000, cutoff = 3600 / rate, half = 16
        let n = Int(Double(x.count) / step)
        return (0..<n).map { i in
            let t = Double(i) * step
            let c = Int(t)
            var acc = 0.0
            for k in (c - half)...(c + half) where k >= 0 && k < x.count {
                let d = t - Double(k)
                let sinc = d == 0 ? 2 * cutoff : sin(2 * .pi * cutoff * d) / (.pi * d)
                let w = 0.5 + 0.5 * cos(.pi * d / Double(half + 1))
                acc += Double(x[k]) * sinc * w
            }
            return Int16(clamping: Int(acc.rounded()))
        }
    }
}

/// One answered call: the RTP side (prompts out, the caller's audio in) and the turn taking.
final class BotCall {
    let callID: String
    let tag = "demobot\(UInt32.random(in: 0 ... .max))"
    let answer: String
    let rtp: RTPEndpoint
    let prompts: Prompts
    let reporter: Reporter
    private var started = false
    private var playing: [Int16] = []
    private var position = 0
    private var sent = 0
    private var clock = ContinuousClock.now
    private var meter = ActivityMeter()
    private var talking = false
    private var quietBlocks = 0
    private(set) var turns = 0
    private var pcm: [Int16] = []

    /// 20 ms blocks of caller silence that end a turn.
    let turnBlocks: Int

    init(invite: SIPMessage, ip: String, rtpPort: Int, prompts: Prompts, reporter: Reporter, turnBlocks: Int) throws {
        self.turnBlocks = turnBlocks
        guard let callID = invite.callID, !invite.body.isEmpty else { throw ValidationError("an INVITE without SDP") }
        let sdp = try SessionDescription(parsing: invite.body)
        guard let audio = sdp.media.first(where: { $0.kind == "audio" }), audio.port > 0 else { throw ValidationError("no audio in the offer") }
        self.callID = callID
        self.prompts = prompts
        self.reporter = reporter
        rtp = try RTPEndpoint(localIP: ip, localPort: rtpPort)
        try rtp.setRemote(ip: audio.address, port: audio.port)
        answer = """
            v=0\r
            o=demobot 1 1 IN IP4 \(ip)\r
            s=baton demo bot\r
            c=IN IP4 \(ip)\r
            t=0 0\r
            m=audio \(rtpPort) RTP/AVP 0 101\r
            a=rtpmap:0 PCMU/8000\r
            a=rtpmap:101 telephone-event/8000\r
            a=fmtp:101 0-15\r
            a=sendrecv\r

            """
        reporter.find(callID: callID)
    }

    func start() {
        guard !started else { return }
        started = true
        clock = ContinuousClock.now
        say(prompts.greeting)
    }

    private func say(_ pcm: [Int16]) {
        playing = pcm
        position = 0
    }

    /// Every 20 ms: one frame out (the prompt, or silence), what came in analysed.
    func tick() {
        guard started else { usleep(5_000); return }
        let due = clock + .milliseconds(20 * (sent + 1))
        let now = ContinuousClock.now
        if now < due { usleep(UInt32(max(0, (due - now).components.attoseconds / 1_000_000_000_000))); return }
        var frame = [UInt8](repeating: 0xFF, count: 160)
        if position < playing.count {
            for i in 0..<160 where position + i < playing.count { frame[i] = G711.ulawEncode(playing[position + i]) }
            position += 160
        }
        try? rtp.send(payload: frame, timestamp: UInt32(truncatingIfNeeded: sent * 160))
        sent += 1
        for payload in rtp.receiveAvailable(timestamp: UInt32(truncatingIfNeeded: sent * 160)) {
            pcm += payload.map { G711.ulaw($0) }
        }
        while pcm.count >= 160 {
            let speech = pcm.withUnsafeBufferPointer { meter.block(UnsafeBufferPointer(rebasing: $0[0..<160])) }
            pcm.removeFirst(160)
            turn(speech)
        }
    }

    /// Turn taking: the caller talked, then was silent for `turnSilence`: a turn the bot did
    /// not understand (a no-match report), and the bot says so.
    private func turn(_ speech: Bool) {
        if speech {
            talking = true
            quietBlocks = 0
            return
        }
        guard talking else { return }
        quietBlocks += 1
        if quietBlocks >= turnBlocks {
            talking = false
            turns += 1
            log("turn \(turns) of \(callID): not understood")
            reporter.report(["noMatch": true, "intent": "fallback", "transcript": "(turn \(turns), not understood)"])
            say(prompts.sorry)
        }
    }
}

/// Tells Baton what the bot heard: finds Baton's call id by the bot leg's Call-ID
/// (`GET /calls`), then posts reports (`POST /calls/{id}/dialog`), off the media loop.
final class Reporter: @unchecked Sendable {
    let baton: String
    let token: String?
    private let queue = DispatchQueue(label: "demobot.reporter")
    private var callID: String?
    private var id: String?

    init(baton: String, token: String?) { self.baton = baton; self.token = token }

    func find(callID: String) { queue.async { self.callID = callID } }

    func report(_ body: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: body) else { return }
        queue.async {
            guard let id = self.lookUp() else { log("Baton does not know this call (yet)"); return }
            let (code, text) = self.request("POST", "/calls/\(id)/dialog", body: data)
            log("reported to Baton: HTTP \(code) \(text.prefix(200))")
        }
    }

    private func lookUp() -> String? {
        if let id { return id }
        guard let callID else { return nil }
        let (code, text) = request("GET", "/calls", body: nil)
        guard code == 200, let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let active = json["active"] as? [[String: Any]] else { return nil }
        id = active.first { call in
            (call["legs"] as? [[String: Any]])?.contains { $0["callID"] as? String == callID } == true
        }?["id"] as? String
        return id
    }

    private func request(_ method: String, _ path: String, body: Data?) -> (Int, String) {
        guard let url = URL(string: baton + path) else { return (0, "bad URL") }
        var r = URLRequest(url: url, timeoutInterval: 3)
        r.httpMethod = method
        r.httpBody = body
        if body != nil { r.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        if let token { r.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result = (0, "")
        URLSession.shared.dataTask(with: r) { data, response, error in
            result = ((response as? HTTPURLResponse)?.statusCode ?? 0, data.map { String(decoding: $0, as: UTF8.self) } ?? "\(error.map { "\($0)" } ?? "")")
            done.signal()
        }.resume()
        _ = done.wait(timeout: .now() + 4)
        return result
    }
}

/// A non-blocking UDP socket for SIP.
final class UDPPort {
    let fd: Int32

    init(ip: String, port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw ValidationError("socket: \(errno)") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, ip, &addr.sin_addr) == 1 else { throw ValidationError("not an IPv4 address: \(ip)") }
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0 else { throw ValidationError("cannot bind \(ip):\(port) (errno \(errno))") }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    func receive() -> ([UInt8], sockaddr_in)? {
        var buf = [UInt8](repeating: 0, count: 65535)
        var from = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = buf.withUnsafeMutableBytes { b in
            withUnsafeMutablePointer(to: &from) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, b.baseAddress, b.count, 0, $0, &len) } }
        }
        guard n > 0 else { return nil }
        return (Array(buf.prefix(n)), from)
    }

    func send(_ bytes: [UInt8], to: sockaddr_in) {
        var to = to
        _ = bytes.withUnsafeBytes { b in
            withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
    }
}
