import CBatonSys
import Synchronization

/// One anchored UDP socket: the port a remote party sends to and receives from.
///
/// Ownership: created by signaling, then owned by exactly one relay thread, which alone
/// touches `remote`, `hasRemote`, `latched` and `peer` after registration. Signaling
/// changes them only through ``RelayThread`` commands. `latchedText` (a lock taken once
/// per latch, never per packet) and `stats` (atomics) are what signaling reads.
final class RelaySocket: @unchecked Sendable {
    let fd: Int32
    let port: UInt16
    let isRTCP: Bool
    /// The socket whose remote party receives what arrives here.
    unowned(unsafe) var peer: RelaySocket!
    /// Where this side's remote party is: from SDP until latched, then the learned source.
    let remote: UnsafeMutablePointer<baton_addr>
    var hasRemote = false
    var latched = false
    /// Before latching, only a packet from one of these IP addresses (any port) may latch
    /// the source; none: the first packet from anywhere does. Relay thread only.
    var expected = ExpectedSources()
    /// Whether a packet was refused for its source yet (relay thread only); the first refused
    /// source is kept in ``firstRefused`` for signaling to log (no allocation: a C struct).
    var refusedSeen = false
    let firstRefused = Mutex<baton_addr?>(nil)
    /// Slot in the owning thread's socket table (epoll data).
    var slot: Int = -1
    /// Set by signaling before ``RelayThread/Command/add``: the slot under which this
    /// (parked) socket is still registered with the thread it is added to (-1: register it).
    var parkedSlot: Int = -1
    let stats = StreamStats()
    /// RFC 4733 events received: (count << 8) | last event code. Written by the relay thread
    /// only, read by signaling.
    let telephoneEvents = Atomic<UInt64>(0)
    /// A copy of the party's audio for a listener (``AudioTap``); relay thread only.
    var tap: AudioTap?
    /// Timestamp of the last event counted (relay thread only): an event's packets share it.
    var lastEventTimestamp: UInt32?
    /// RTP analysis of what arrives here (RTP sockets only); relay thread only.
    let sequence = RTPSequence()
    /// RTP clock rate of the stream (Hz), for jitter; 8000 unless SDP says otherwise.
    var clockRate: Int64 = 8000
    let latchedText = Mutex<String?>(nil)
    /// Unique per socket (slots are reused): names the source feeding an egress rewriter.
    let serial: Int
    private static let serials = Atomic<Int>(0)
    /// False for a switchover's new leg until the splice, and for the old leg after it:
    /// what arrives is received and latched but not forwarded. Relay thread only.
    var forwarding = true
    /// What the party behind this socket receives, rewritten across splices (RTP sockets).
    var egress = RTPRewriter()
    /// RTCP socket: the RTP socket of the same endpoint (its egress rewrite applies to SRs).
    unowned(unsafe) var rtpSibling: RelaySocket?
    /// A switchover in progress that involves this socket (old or new leg). Relay thread only.
    var splice: SpliceJob?
    /// Monotonic time of the first packet received (0 = none yet). Relay thread only.
    var firstPacketNanos: Int64 = 0
    /// The party's codec and SRTP state (nil: plain RTP, codec unknown). Relay thread only.
    var leg: LegState?
    /// The state last handed to the relay thread for this leg: signaling's copy, so a
    /// re-negotiation can reuse SRTP sessions and codec state (RTP socket only).
    let configured = Mutex<LegState?>(nil)
    /// Timestamp mapping of what arrives here when it is transcoded to the peer's clock.
    var tsMap = TimestampMap()
    /// A second receiver of what arrives here (RTP sockets, relay thread only). During a
    /// switchover the far party's audio also goes to the new leg from its confirmation on
    /// (priming), and after the splice to the old leg until that one is released. Each copy
    /// goes through the fork's own egress rewrite, codec and SRTP keys. Strong: a socket
    /// freed while still named here must not leave a dangling pointer on the hot path.
    var fork: RelaySocket?
    /// ``tsMap`` of the fork's direction; the two swap at the splice, when the fork's
    /// direction becomes the main one.
    var forkTSMap = TimestampMap()
    /// What RTP arriving here gets toward ``peer`` and toward ``fork`` (relay thread only).
    private(set) var action = ForwardAction.passThrough
    private(set) var forkAction = ForwardAction.passThrough
    /// The relay thread's configuration generation the actions were chosen under.
    private var actionGeneration = -1

    /// Chooses ``action`` and ``forkAction`` again if the thread's configuration changed
    /// since they were chosen (a leg configured, a socket added, a splice, a fork started or
    /// ended); otherwise one integer comparison.
    @inline(__always)
    func chooseActions(generation: Int) {
        guard actionGeneration != generation else { return }
        actionGeneration = generation
        action = ForwardAction(from: leg, to: peer?.leg)
        forkAction = isRTCP ? .passThrough : ForwardAction(from: leg, to: fork?.leg)
    }

    init(fd: Int32, port: UInt16, isRTCP: Bool) {
        self.fd = fd
        self.port = port
        self.isRTCP = isRTCP
        serial = RelaySocket.serials.wrappingAdd(1, ordering: .relaxed).oldValue
        remote = .allocate(capacity: 1)
        remote.initialize(to: baton_addr())
    }

    deinit { remote.deallocate() }

    /// Sets the SDP-advertised destination and which sources may latch; a changed address or
    /// source rule unlatches (a re-INVITE moved the party).
    func setExpected(_ addr: baton_addr, source: ExpectedSources) {
        var a = addr
        let same = hasRemote && withUnsafePointer(to: &a.ss) { baton_addr_equal(remote, $0) } != 0
        let sameSource = source.sameIPs(as: expected)
        expected = source
        if !same || !sameSource {
            remote.pointee = addr
            hasRemote = true
            latched = false
        }
    }

    /// Whether a packet from `source` may latch this socket (before latching).
    @inline(__always)
    func mayLatch(_ source: UnsafePointer<sockaddr_storage>) -> Bool { expected.admits(source) }

    /// Counts a telephone-event packet's event once (its first packet; the retransmitted end
    /// packets share its timestamp).
    @inline(__always)
    func noteTelephoneEvent(_ p: UnsafeMutablePointer<UInt8>, length: Int, timestamp: UInt32) {
        guard lastEventTimestamp != timestamp, let (offset, end) = RTPHeader.payload(p, length: length), end - offset >= 4 else { return }
        lastEventTimestamp = timestamp
        let count = telephoneEvents.load(ordering: .relaxed) >> 8
        telephoneEvents.store((count &+ 1) << 8 | UInt64(p[offset]), ordering: .relaxed)
    }

    /// Keeps the first refused source for signaling (once per socket, relay thread).
    func noteRefused(_ source: UnsafePointer<sockaddr_storage>) {
        guard !refusedSeen else { return }
        refusedSeen = true
        var a = baton_addr()
        baton_addr_set(&a, source)
        firstRefused.withLock { $0 = a }
    }

    func latch(_ source: UnsafePointer<sockaddr_storage>) {
        baton_addr_set(remote, source)
        markLatched()
    }

    /// A latch from before a restart: the source is known without waiting for a packet.
    func restoreLatch(_ addr: baton_addr) {
        remote.pointee = addr
        markLatched()
    }

    private func markLatched() {
        hasRemote = true
        latched = true
        let text = RelaySocket.describe(remote)
        latchedText.withLock { $0 = text }
    }

    /// What a restart keeps of this socket (relay thread only): the latched source and the
    /// egress rewrite in force.
    struct Saved: Sendable {
        var latched: String?
        var egress: RTPRewriter.Continuation?
    }

    var saved: Saved { Saved(latched: latched ? RelaySocket.describe(remote) : nil, egress: isRTCP ? nil : egress.continuation) }

    static func describe(_ a: UnsafePointer<baton_addr>) -> String? {
        var buf = [CChar](repeating: 0, count: 64)
        let port = baton_addr_to_string(a, &buf, 64)
        guard port >= 0 else { return nil }
        let ip = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return ip.contains(":" as Character) ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}

/// Up to two IP addresses a relay socket may latch on (the SDP's, the signaling source's),
/// held inline: a value the relay thread compares without allocating. Empty: any source.
struct ExpectedSources: @unchecked Sendable {
    private var first = baton_addr()
    private var second = baton_addr()
    private(set) var count = 0

    init() {}
    init(_ a: baton_addr) { first = a; count = 1 }
    init(_ a: baton_addr, _ b: baton_addr) { first = a; second = b; count = 2 }

    /// Whether a packet from `source` may latch (any when empty).
    @inline(__always)
    func admits(_ source: UnsafePointer<sockaddr_storage>) -> Bool {
        if count == 0 { return true }
        var f = first
        if baton_addr_same_ip(&f, source) != 0 { return true }
        guard count == 2 else { return false }
        var s = second
        return baton_addr_same_ip(&s, source) != 0
    }

    /// Same addresses (ports ignored), in the same order.
    func sameIPs(as other: ExpectedSources) -> Bool {
        guard count == other.count else { return false }
        func same(_ a: baton_addr, _ b: baton_addr) -> Bool {
            var x = a, y = b
            return withUnsafePointer(to: &y.ss) { baton_addr_same_ip(&x, $0) } != 0
        }
        if count >= 1 && !same(first, other.first) { return false }
        if count == 2 && !same(second, other.second) { return false }
        return true
    }
}
