// Relays N RTP packets through a MediaRelay and prints how many heap allocations the
// process made while doing it. Run by MediaTests/AllocationTests with N = 10k and 100k:
// if the relay allocated per packet, the counts would differ by about 90k.
import AllocationCounter
import Foundation
import CSRTP2
import Media

let n = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 10_000
let base = Int(CommandLine.arguments.dropFirst(2).first ?? "") ?? 34400
// "plain": passthrough. "media": the caller's PCMU is transcoded to Opus and SRTP-protected
// toward the callee (decode table, libopus encode, libsrtp2 protect, all in place).
// "fork": passthrough to the callee plus a switchover's priming copy of every packet to a
// new leg that talks Opus (copy into the fork batch, transcode, a second sendmmsg).
let mode = CommandLine.arguments.dropFirst(3).first ?? "plain"

func udp() -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    var size: Int32 = 4 << 20
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, 4)
    return (fd, Int(UInt16(bigEndian: a.sin_port)))
}

// "srtp-lib": libsrtp2 alone (no relay), protecting n packets in place: what the library
// itself allocates per packet, to tell it apart from what Baton's relay adds.
if mode == "srtp-lib" {
    _ = srtp_init()
    var policy = srtp_policy_t()
    srtp_crypto_policy_set_rtp_default(&policy.rtp)
    srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
    policy.ssrc.type = ssrc_any_outbound
    policy.window_size = 128
    let key = UnsafeMutablePointer<UInt8>.allocate(capacity: 30)
    key.initialize(repeating: 7, count: 30)
    policy.key = key
    var session: srtp_t?
    guard srtp_create(&session, &policy) == srtp_err_status_ok else { print("srtp_create failed"); exit(1) }
    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 2048)
    func fill(_ i: Int) {
        buffer.initialize(repeating: 0xD5, count: 172)
        buffer[0] = 0x80; buffer[1] = 0
        buffer[2] = UInt8(truncatingIfNeeded: i >> 8); buffer[3] = UInt8(truncatingIfNeeded: i)
    }
    var len: Int32 = 172
    fill(0)
    _ = srtp_protect(session, buffer, &len)   // creates the stream for the SSRC (once)
    let before = baton_allocation_count()
    for i in 1...n {
        fill(i)
        len = 172
        _ = srtp_protect(session, buffer, &len)
    }
    print("packets=\(n) received=\(n) allocations=\(baton_allocation_count() - before)")
    exit(0)
}

var config = MediaRelay.Configuration()
config.portMin = base
config.portMax = base + 9
config.threads = 1
let relay = try MediaRelay(configuration: config)
relay.start()
let stream = try relay.allocate()
let caller = udp(), callee = udp()
if mode != "plain" && mode != "tap" {
    let key = SRTPSession.generateKey(.aesCM128HmacSHA1_80)
    let srtp = mode == "transcode" ? nil : SRTPKeys(suite: .aesCM128HmacSHA1_80, receive: key, send: key)
    let codec: MediaFormat = mode == "srtp" ? .init(codec: .pcmu, payloadType: 0) : .init(codec: .opus, payloadType: 111)
    try relay.configure(stream, side: .a, LegMedia(format: .init(codec: .pcmu, payloadType: 0)), transcodes: true)
    try relay.configure(stream, side: .b, LegMedia(format: codec, srtp: srtp), transcodes: true)
}
try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: caller.port)
try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: callee.port)
let forkSink = udp()
if mode == "fork" {
    try relay.configure(stream, side: .a, LegMedia(format: .init(codec: .pcmu, payloadType: 0)), transcodes: true)
    try relay.configure(stream, side: .b, LegMedia(format: .init(codec: .pcmu, payloadType: 0)))
    let leg = try relay.prepareSwitch(stream, replacing: .b)
    try relay.configure(leg, LegMedia(format: .init(codec: .opus, payloadType: 111)), transcodes: true)
    try relay.setRemote(leg, ip: "127.0.0.1", port: forkSink.port)
    // Armed but never ready (the new leg sends nothing): the copy flows, no splice happens.
    relay.arm(leg, mode: .now, windowMillis: 300, primingMillis: 300) { _ in }
}
// A listened call: the caller's audio copied into a tap, drained as the listener would.
let tap = AudioTap()
var tapped = 0
if mode == "tap" {
    try relay.configure(stream, side: .a, LegMedia(format: .init(codec: .pcmu, payloadType: 0)))
    relay.tap(stream, side: .a, tap)
}
usleep(50_000)

// Everything the loop below touches is allocated here, before counting starts.
var dest = sockaddr_in()
dest.sin_family = sa_family_t(AF_INET)
dest.sin_addr.s_addr = inet_addr("127.0.0.1")
dest.sin_port = UInt16(ProcessInfo.processInfo.environment["DIRECT"] != nil ? callee.port : stream.port(.a)).bigEndian
let packet = UnsafeMutablePointer<UInt8>.allocate(capacity: 172)
packet.initialize(repeating: 0xD5, count: 172)
packet[0] = 0x80
packet[1] = 0  // PCMU
let sink = UnsafeMutablePointer<UInt8>.allocate(capacity: 2048)

let drainTap = mode == "tap"
let before = baton_allocation_count()
var sent = 0, received = 0, forked = 0
while sent < n {
    // Bursts of 64, then drain what the relay forwarded, so no socket buffer overflows.
    for _ in 0..<64 where sent < n {
        packet[2] = UInt8(truncatingIfNeeded: sent >> 8)
        packet[3] = UInt8(truncatingIfNeeded: sent)
        _ = withUnsafePointer(to: &dest) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            sendto(caller.fd, packet, 172, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        } }
        sent += 1
    }
    // Wait for the relay (transcoding takes tens of µs a packet), giving up after 500 ms
    // without a packet.
    var idle = 0
    while received < sent && idle < 500 {
        if recv(callee.fd, sink, 2048, Int32(MSG_DONTWAIT)) > 0 { received += 1; idle = 0 } else { idle += 1; usleep(1000) }
        while mode == "fork", recv(forkSink.fd, sink, 2048, Int32(MSG_DONTWAIT)) > 0 { forked += 1 }
        if drainTap { tap.drain { _, payload in tapped += payload.count == 160 ? 1 : 0 } }
    }
}
let after = baton_allocation_count()
if mode == "fork" {
    var idle = 0
    while forked < sent && idle < 500 {
        if recv(forkSink.fd, sink, 2048, Int32(MSG_DONTWAIT)) > 0 { forked += 1; idle = 0 } else { idle += 1; usleep(1000) }
    }
}
if mode == "tap" { tap.drain { _, payload in tapped += payload.count == 160 ? 1 : 0 } }
print("packets=\(n) received=\(received) allocations=\(after - before) forked=\(mode == "tap" ? tapped : forked)")
relay.shutdown()
