import Calls
import Control
import Foundation
import Media
import SIP
import Synchronization
import TestSupport

/// The media-side targets, sharing one relay and one call manager per process: `sdp`
/// (offer/answer rewriting), `ng` (bencode commands) and `relay` (per-packet parsing).
final class MediaFuzz: @unchecked Sendable {
    static let shared = MediaFuzz()
    let relay: MediaRelay
    let calls: CallManager
    let ng: NGProtocol

    init() {
        var c = MediaRelay.Configuration()
        // A block of its own, clear of the test suites' (17000-19999), the interop tests' and a
        // running gateway's (20000-29999) ports, and (by process id) of another fuzz process's.
        let base = ProcessInfo.processInfo.environment["BATON_FUZZ_PORT_BASE"].flatMap(Int.init) ?? MediaFuzz.freeBlock()
        c.portMin = base
        c.portMax = base + 499
        c.threads = 1
        relay = try! MediaRelay(configuration: c)
        relay.start()
        calls = CallManager(relay: relay, keepEnded: 4, now: { 5 })
        ng = NGProtocol(calls: calls, started: 0)
    }

    /// A block of 500 ports in 46000-49499 whose first ports nobody holds (another fuzz
    /// process, a test), tried from one the process id picks.
    static func freeBlock() -> Int {
        let start = Int(getpid() % 7)
        for i in 0..<7 {
            let base = 46000 + ((start + i) % 7) * 500
            if (0..<8).allSatisfy({ TestPorts.isFree(base + $0) }) { return base }
        }
        return 46000 + start * 500
    }

    /// Sends one datagram and returns once the relay thread has handled it, then drains what
    /// came out at `parties` (so socket buffers never fill; without waiting: a receive
    /// timeout costs a scheduler tick per call). The datagram is queued when send returns,
    /// and the thread runs commands before sockets in a wake-up, so the second barrier runs
    /// in a wake-up after the one that forwarded the packet.
    func deliver(_ packet: [UInt8], from socket: UDPSocket, to port: Int, draining parties: [UDPSocket]) {
        socket.send(packet, to: port)
        relay.barrierBlocking()
        relay.barrierBlocking()
        var sink = [UInt8](repeating: 0, count: 2048)
        for p in parties {
            while recv(p.fd, &sink, sink.count, Int32(MSG_DONTWAIT)) >= 0 {}
        }
    }

    /// Ends every call an input left (so ports and memory do not pile up across inputs).
    func releaseAll() {
        for c in calls.calls() { calls.release(call: c.id) }
    }

    func switchover(_ flags: UInt8, _ packet: [UInt8]) {
        let call = switching
        let rtcp = flags & 2 != 0
        let (socket, port): (UDPSocket, Int)
        if flags & 16 != 0 {
            socket = call.devices[call.next]
            port = rtcp ? call.leg.rtcpPort : call.leg.port
        } else if flags & 1 != 0 {
            socket = call.devices[1 - call.next]
            port = rtcp ? call.stream.endpoint(.b).rtcpPort : call.stream.port(.b)
        } else {
            socket = call.far
            port = rtcp ? call.stream.endpoint(.a).rtcpPort : call.stream.port(.a)
        }
        deliver(packet, from: socket, to: port, draining: [call.far] + call.devices)
        call.settle()
    }

    // MARK: sdp

    /// First byte: options (bit 0 ICE=remove, bits 1-2 transport-protocol, bits 3-4 transcode);
    /// the rest: the SDP, used as the offer, as the answer, and as a re-offer from the callee.
    func sdp(_ data: [UInt8]) {
        guard let flags = data.first else { return }
        let body = Array(data.dropFirst())
        // The parser and every accessor the call layer uses, on the raw description.
        if let d = try? SessionDescription(parsing: body) {
            for i in d.media.indices {
                _ = d.formats(media: i)
                _ = d.attributes(media: i)
                _ = d.crypto(media: i)
            }
            d.removeICE()
            _ = try? d.serialize()
        }
        var o = CallManager.SDPOptions()
        o.removeICE = flags & 1 != 0
        o.transportProtocol = [nil, "RTP/AVP", "RTP/SAVP", "UDP/TLS/RTP/SAVPF"][Int(flags >> 1) & 3]
        o.transcode = [[], ["opus"], ["PCMU"], ["PCMA", "opus"]][Int(flags >> 3) & 3]
        if flags & 0x20 != 0 { o.source = .any }
        let id = "fuzz-sdp"
        if (try? calls.offer(callID: id, fromTag: "a", sdp: body, options: o)) != nil {
            _ = try? calls.answer(callID: id, fromTag: "a", toTag: "b", sdp: body, options: o)
            _ = try? calls.offer(callID: id, fromTag: "b", sdp: body, options: o)
            _ = try? calls.delete(callID: id)
        }
        releaseAll()
    }

    // MARK: ng

    func ng(_ data: [UInt8]) {
        if let request = try? Bencode.decode(data) {
            var out: [UInt8] = []
            ng.handle(request).encode(into: &out)
        }
        releaseAll()
    }

    // MARK: relay

    /// A call on the relay: side A speaks Opus (PT 111, events PT 101 at 48 kHz) over SRTP,
    /// side B PCMU (events PT 101 at 8 kHz) in the clear, transcoded between them.
    lazy var media: RelayCall = try! RelayCall(relay: relay)

    final class RelayCall {
        let stream: AnchoredStream
        let a: UDPSocket, b: UDPSocket
        let keyA: [UInt8]
        init(relay: MediaRelay) throws {
            stream = try relay.allocate()
            a = try UDPSocket(receiveTimeout: .milliseconds(1))
            b = try UDPSocket(receiveTimeout: .milliseconds(1))
            keyA = SRTPSession.generateKey(.aesCM128HmacSHA1_80)
            let keyToA = SRTPSession.generateKey(.aesCM128HmacSHA1_80)
            try relay.configure(stream, side: .a, LegMedia(
                format: .init(codec: .opus, payloadType: 111, telephoneEvent: 101, telephoneEventClockRate: 48000),
                srtp: SRTPKeys(suite: .aesCM128HmacSHA1_80, receive: keyA, send: keyToA)), transcodes: true)
            try relay.configure(stream, side: .b, LegMedia(
                format: .init(codec: .pcmu, payloadType: 0, telephoneEvent: 101, telephoneEventClockRate: 8000)), transcodes: true)
            // RTCP of each party to its RTP port + 1 is not needed: RTCP goes back to the same socket.
            try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: a.port, rtcpPort: a.port)
            try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: b.port, rtcpPort: b.port)
            _ = relay.barrierBlocking()
        }
    }

    /// A switchover in progress on a second call: the far party (side A, PCMU), the device
    /// being replaced (side B, PCMU) and the new device (Opus, transcoded), armed to splice at
    /// the old device's first silent packet once the new one has sent (or when the 1 s
    /// window ends, so the splice keeps coming around). After each splice the
    /// leg is committed and a new switchover back to the other device is armed, so the splice
    /// decision, the fork to the new leg and the rewriter of the spliced stream (one SSRC, a
    /// continuous sequence toward the far party) keep being exercised.
    lazy var switching: SwitchCall = try! SwitchCall(relay: relay)

    final class SwitchCall: @unchecked Sendable {
        let relay: MediaRelay
        let stream: AnchoredStream
        let far: UDPSocket, devices: [UDPSocket]
        var leg: SwitchLeg!
        /// Which of `devices` the current leg is toward.
        var next = 1
        /// Set by the relay thread's splice report, read after the input's barriers.
        let spliced = SpliceFlag()
        final class SpliceFlag: Sendable { let value = Atomic<Bool>(false) }

        init(relay: MediaRelay) throws {
            self.relay = relay
            stream = try relay.allocate()
            far = try UDPSocket(receiveTimeout: .milliseconds(1))
            devices = [try UDPSocket(receiveTimeout: .milliseconds(1)), try UDPSocket(receiveTimeout: .milliseconds(1))]
            let pcmu = LegMedia(format: .init(codec: .pcmu, payloadType: 0, telephoneEvent: 101, telephoneEventClockRate: 8000))
            try relay.configure(stream, side: .a, pcmu, transcodes: true)
            try relay.configure(stream, side: .b, pcmu, transcodes: true)
            try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: far.port, rtcpPort: far.port)
            try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: devices[0].port, rtcpPort: devices[0].port)
            try arm()
        }

        /// A new leg toward the device not in the call, armed.
        func arm() throws {
            let device = devices[next]
            leg = try relay.prepareSwitch(stream, replacing: .b)
            try relay.configure(leg, LegMedia(format: .init(codec: .opus, payloadType: 111, telephoneEvent: 101,
                                                            telephoneEventClockRate: 48000)), transcodes: true)
            try relay.setRemote(leg, ip: "127.0.0.1", port: device.port, rtcpPort: device.port)
            spliced.value.store(false, ordering: .relaxed)
            let flag = spliced
            relay.arm(leg, mode: .silence, windowMillis: 1000, primingMillis: 0) { _ in flag.value.store(true, ordering: .releasing) }
            _ = relay.barrierBlocking()
        }

        /// After an input: a splice that happened is committed and the next switchover armed.
        func settle() {
            guard spliced.value.load(ordering: .acquiring) else { return }
            if ProcessInfo.processInfo.environment["BATON_FUZZ_DEBUG"] != nil { print("relay: spliced to device \(next)") }
            relay.commit(leg)
            next = 1 - next
            try? arm()
        }
    }

    /// First byte: bit 0 side B (else A), bit 1 to the RTCP port, bit 2 protect with A's key
    /// (so the packet passes authentication and reaches the parsers behind SRTP); bit 3 to the
    /// switchover call instead (bit 0 then: the device in the call, bit 4: the new device).
    func relay(_ data: [UInt8]) {
        guard let flags = data.first, data.count > 1 else { return }
        if flags & 8 != 0 { return switchover(flags, Array(data.dropFirst())) }
        let call = media
        var packet = Array(data.dropFirst())
        let side: MediaRelay.Side = flags & 1 != 0 ? .b : .a
        let rtcp = flags & 2 != 0
        if side == .a, flags & 4 != 0, let s = try? SRTPSession(key: call.keyA, direction: .outbound) {
            if rtcp { try? s.protectRTCP(&packet) } else { try? s.protect(&packet) }
        }
        let port = rtcp ? call.stream.endpoint(side).rtcpPort : call.stream.port(side)
        deliver(packet, from: side == .a ? call.a : call.b, to: port, draining: [call.a, call.b])
    }
}
