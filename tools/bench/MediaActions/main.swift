// What each forwarding action costs the relay thread per packet: plain passthrough, SRTP
// protect / unprotect / both, and PCMU <-> Opus transcoding (with and without SRTP).
//
// One relay thread pinned to one CPU, the sender and the sink (this process's main thread)
// pinned to another; K anchored streams, one packet per stream per round (so a wake-up of
// the relay sees many sockets with a packet or two each, as with real calls), every packet
// prepared before measuring. Relay CPU is the relay thread's own run time from
// /proc/self/task/<tid>/schedstat (nanoseconds), divided by packets relayed.
//
//   swift build -c release --product baton-media-actions-bench
//   .build/release/baton-media-actions-bench [--packets 50000] [--streams 200] [--relay-cpu 0] [--sender-cpu 1] [--opus-complexity 5]
import CBatonSys
import Foundation
import Media

var packets = 50_000, streamCount = 200, relayCPU = 0, senderCPU = 1, complexity = 5
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    let v = Int(args.popFirst() ?? "") ?? -1
    switch a {
    case "--packets": packets = v
    case "--streams": streamCount = v
    case "--relay-cpu": relayCPU = v
    case "--sender-cpu": senderCPU = v
    case "--opus-complexity": complexity = v
    default: print("unknown option \(a)"); exit(2)
    }
}
_ = baton_pin_cpu(Int32(senderCPU))

struct Mode {
    let name: String
    let inCodec: MediaFormat.Codec, outCodec: MediaFormat.Codec
    let srtpIn: Bool, srtpOut: Bool
    var suite: SRTPSuite = .aesCM128HmacSHA1_80
}
let modes: [Mode] = [
    Mode(name: "plain", inCodec: .pcmu, outCodec: .pcmu, srtpIn: false, srtpOut: false),
    Mode(name: "srtp-protect", inCodec: .pcmu, outCodec: .pcmu, srtpIn: false, srtpOut: true),
    Mode(name: "srtp-unprotect", inCodec: .pcmu, outCodec: .pcmu, srtpIn: true, srtpOut: false),
    Mode(name: "srtp-both", inCodec: .pcmu, outCodec: .pcmu, srtpIn: true, srtpOut: true),
    Mode(name: "srtp-gcm-protect", inCodec: .pcmu, outCodec: .pcmu, srtpIn: false, srtpOut: true, suite: .aeadAES128GCM),
    Mode(name: "srtp-gcm-both", inCodec: .pcmu, outCodec: .pcmu, srtpIn: true, srtpOut: true, suite: .aeadAES128GCM),
    Mode(name: "pcmu-to-opus", inCodec: .pcmu, outCodec: .opus, srtpIn: false, srtpOut: false),
    Mode(name: "opus-to-pcmu", inCodec: .opus, outCodec: .pcmu, srtpIn: false, srtpOut: false),
    Mode(name: "pcmu-to-opus-srtp", inCodec: .pcmu, outCodec: .opus, srtpIn: false, srtpOut: true),
]

func udp() -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    var size: Int32 = 8 << 20
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, 4)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, 4)
    return (fd, Int(UInt16(bigEndian: a.sin_port)))
}

/// The relay thread's run time so far (ns), from schedstat.
func relayNanos() -> Int64 {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    for t in tasks {
        let comm = (try? String(contentsOfFile: "/proc/self/task/\(t)/comm", encoding: .utf8)) ?? ""
        if comm.hasPrefix("baton-relay-0") {
            let stat = (try? String(contentsOfFile: "/proc/self/task/\(t)/schedstat", encoding: .utf8)) ?? ""
            return Int64(stat.split(separator: " ").first ?? "") ?? -1
        }
    }
    return -1
}

func rtp(pt: UInt8, seq: Int, ssrc: UInt32, payload: [UInt8]) -> [UInt8] {
    let ts = UInt32(truncatingIfNeeded: seq * (pt == 0 ? 160 : 960))
    return [0x80, pt, UInt8(truncatingIfNeeded: seq >> 8), UInt8(truncatingIfNeeded: seq),
            UInt8(ts >> 24), UInt8((ts >> 16) & 0xFF), UInt8((ts >> 8) & 0xFF), UInt8(ts & 0xFF),
            UInt8(ssrc >> 24), UInt8((ssrc >> 16) & 0xFF), UInt8((ssrc >> 8) & 0xFF), UInt8(ssrc & 0xFF)] + payload
}

// 20 ms frames of a 1 kHz tone, as PCMU and as Opus (48 kHz, 32 kbit/s).
let tone8 = (0..<8000).map { Int16(8000 * sin(2 * Double.pi * 1000 * Double($0) / 8000)) }
let pcmuFrames = (0..<50).map { f in tone8[f * 160..<(f + 1) * 160].map(G711.ulawEncode) }
let encoder = try OpusCodec(sampleRate: 48000, channels: 1, bitrate: 32000)
let opusFrames = try (0..<50).map { f in
    try encoder.encode((0..<960).map { Int16(8000 * sin(2 * Double.pi * 1000 * Double(f * 960 + $0) / 48000)) })
}

@MainActor func run(_ mode: Mode) throws -> (received: Int, nsPerPacket: Double) {
    var config = MediaRelay.Configuration()
    config.portMin = 35000
    config.portMax = 35000 + 4 * streamCount + 10
    config.threads = 1
    config.firstCPU = relayCPU
    config.opusComplexity = complexity
    let relay = try MediaRelay(configuration: config)
    relay.start()
    defer { relay.shutdown() }
    let sender = udp(), sink = udp()
    let perStream = packets / streamCount
    var streams: [AnchoredStream] = []
    var prepared: [[[UInt8]]] = []
    let suite = mode.suite
    for s in 0..<streamCount {
        let stream = try relay.allocate()
        let inKey = SRTPSession.generateKey(suite), outKey = SRTPSession.generateKey(suite)
        let pt: (MediaFormat.Codec) -> UInt8 = { $0 == .pcmu ? 0 : 111 }
        try relay.configure(stream, side: .a, LegMedia(format: .init(codec: mode.inCodec, payloadType: pt(mode.inCodec)),
                                                       srtp: mode.srtpIn ? SRTPKeys(suite: suite, receive: inKey, send: inKey) : nil),
                            transcodes: mode.inCodec != mode.outCodec)
        try relay.configure(stream, side: .b, LegMedia(format: .init(codec: mode.outCodec, payloadType: pt(mode.outCodec)),
                                                       srtp: mode.srtpOut ? SRTPKeys(suite: suite, receive: outKey, send: outKey) : nil),
                            transcodes: mode.inCodec != mode.outCodec)
        try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: sender.port)
        try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: sink.port)
        let tx = try SRTPSession(suite: suite, key: inKey, direction: .outbound)
        var list: [[UInt8]] = []
        for k in 0..<perStream {
            let payload = mode.inCodec == .pcmu ? pcmuFrames[k % 50] : opusFrames[k % 50]
            var p = rtp(pt: pt(mode.inCodec), seq: k, ssrc: UInt32(s + 1), payload: payload)
            if mode.srtpIn { try tx.protect(&p) }
            list.append(p)
        }
        streams.append(stream)
        prepared.append(list)
    }
    usleep(100_000)
    let dests: [sockaddr_in] = streams.map { st in
        var d = sockaddr_in()
        d.sin_family = sa_family_t(AF_INET)
        d.sin_addr.s_addr = inet_addr("127.0.0.1")
        d.sin_port = UInt16(st.port(.a)).bigEndian
        return d
    }
    let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: 2048)
    defer { buf.deallocate() }
    var received = 0, sent = 0
    let before = relayNanos()
    for k in 0..<perStream {
        for s in 0..<streamCount {
            var d = dests[s]
            prepared[s][k].withUnsafeBytes { p in
                _ = withUnsafePointer(to: &d) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(sender.fd, p.baseAddress, p.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                } }
            }
            sent += 1
        }
        var idle = 0
        while received < sent && idle < 200 {
            if recv(sink.fd, buf, 2048, Int32(MSG_DONTWAIT)) > 0 { received += 1; idle = 0 } else { idle += 1; usleep(500) }
        }
    }
    let spent = relayNanos() - before
    close(sender.fd)
    close(sink.fd)
    streams.forEach { relay.release($0) }
    return (received, Double(spent) / Double(max(received, 1)))
}

print("relay CPU \(relayCPU), sender CPU \(senderCPU), \(streamCount) streams, \(packets) packets per mode, libsrtp2 suite AES_CM_128_HMAC_SHA1_80 unless named, Opus 32 kbit/s complexity \(complexity)")
print("mode                 relayed   loss %   relay CPU µs/pkt   extra over plain µs/pkt")
var results: [String: Double] = [:]
for m in modes {
    let r = try run(m)
    results[m.name] = r.nsPerPacket / 1000
    let extra = m.name == "plain" ? "" : String(format: "%+.2f", r.nsPerPacket / 1000 - (results["plain"] ?? 0))
    print(m.name.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: " %8d %8.2f %18.2f   %@", r.received,
                 100 * Double(packets / streamCount * streamCount - r.received) / Double(packets / streamCount * streamCount),
                 r.nsPerPacket / 1000, extra as NSString))
}
if let a = results["pcmu-to-opus"], let b = results["opus-to-pcmu"] {
    // A transcoded call: 50 packets/s each way at 20 ms.
    let perCall = 50 * (a + b)
    print(String(format: "transcoded PCMU <-> Opus calls per core (50 pps each way): %.0f (%.1f µs of relay CPU per call-second)",
                 1_000_000 / perCall, perCall))
}
