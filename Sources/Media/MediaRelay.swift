import CBatonSys
import Foundation
import Logging
import Synchronization

/// The media anchor: allocates ports for a stream's two sides and relays RTP and RTCP
/// between them on dedicated threads.
///
/// ```swift
/// let relay = try MediaRelay(configuration: .init())
/// relay.start()
/// let stream = try relay.allocate()                  // side .a faces the caller, .b the callee
/// relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: 40000)  // from the caller's SDP
/// // advertise stream.port(.a) to the caller and stream.port(.b) to the callee
/// relay.release(stream)
/// ```
/// Each side latches on the first packet from the address its party advertised (or the one
/// ``SourcePolicy`` names; symmetric RTP: the learned source and port are where its media
/// goes from then on) and drops, counting them, packets from any other source.
public final class MediaRelay: Sendable {
    /// Which packets may latch a side's source before it is latched (rtpengine's
    /// `strict-source` is ``advertised``; its learning without it is ``any``). After the
    /// latch only the latched address and port are relayed, whatever the policy.
    public enum SourcePolicy: Sendable, Equatable, Codable, CustomStringConvertible {
        /// Only a packet from the IP address the party advertised (SDP `c=`; any port).
        case advertised
        /// Only a packet from this IP address (a NATed phone: its SIP signaling source).
        case address(String)
        /// A packet from the advertised address or from this one (the party's signaling
        /// source: a phone behind NAT, or one that advertises an address it does not send from).
        case advertisedOr(String)
        /// The first packet from anywhere (a party whose address nobody knows).
        case any

        public var description: String {
            switch self {
            case .advertised: "advertised"
            case .address(let ip): ip
            case .advertisedOr(let ip): "advertised or \(ip)"
            case .any: "any"
            }
        }
    }

    /// Relay settings; every field has the loopback default.
    public struct Configuration: Sendable, Equatable {
        /// Address the RTP sockets bind to.
        public var bindAddress: String = "127.0.0.1"
        /// Address written into SDP (defaults to `bindAddress`).
        public var advertisedAddress: String? = nil
        public var portMin: Int = 20000
        public var portMax: Int = 29999
        /// Relay threads; 0 means one per core.
        public var threads: Int = 0
        /// Pin relay thread i to CPU (firstCPU + i); nil leaves scheduling to the kernel.
        public var firstCPU: Int? = nil
        /// Interrupt moderation: after a wake-up that carried packets, a relay thread waits
        /// this long before it looks again, so one wake-up (epoll_wait) serves several
        /// packets. Adds at most this much latency to a packet; 0 turns it off.
        public var coalesceMicros: Int = 0
        /// Keep a released port pair's two sockets bound ("parked", minimal receive buffer)
        /// and hand them to the next stream that draws the port, instead of closing them and
        /// binding new ones (see ``PortPool``). Costs two descriptors per free pair used once.
        public var reuseSockets: Bool = true
        /// Bit rate of the Opus that Baton encodes when it transcodes G.711 toward an Opus leg.
        public var opusBitrate: Int = 32000
        /// libopus encoder complexity (0–10) when transcoding: the encoder is most of a
        /// transcoded call's CPU; 5 halves it against libopus's default 10 (docs/performance.md).
        public var opusComplexity: Int = 5
        public init() {}
        public var sdpAddress: String { advertisedAddress ?? bindAddress }
    }

    /// Which side of an anchored stream: `a` faces the party that offered, `b` the answerer.
    public enum Side: String, Sendable, Codable { case a, b }

    public let configuration: Configuration
    public let pool: PortPool
    private let threads: [RelayThread]
    private let streams = Mutex<[UInt64: AnchoredStream]>([:])
    private let nextID = Atomic<UInt64>(1)
    private let totals = RelayTotals()
    /// Counters of streams already released, so totals stay monotonic.
    private let released = Mutex<StreamStats.Snapshot>(.init())
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger = Logger(label: "baton.media")) throws(MediaError) {
        guard configuration.portMin > 0, configuration.portMax <= 65535,
              configuration.portMax - configuration.portMin >= 1 else {
            throw .portRangeExhausted(min: configuration.portMin, max: configuration.portMax)
        }
        self.configuration = configuration
        self.logger = logger
        pool = PortPool(address: configuration.bindAddress, range: configuration.portMin...configuration.portMax,
                        reuseSockets: configuration.reuseSockets)
        let count = configuration.threads > 0 ? configuration.threads : ProcessInfo.processInfo.activeProcessorCount
        var ts: [RelayThread] = []
        for i in 0..<count {
            ts.append(try RelayThread(index: i, cpu: configuration.firstCPU.map { $0 + i },
                                      coalesceMicros: configuration.coalesceMicros, totals: totals, logger: logger))
        }
        threads = ts
    }

    public func start() { threads.forEach { $0.start() } }

    /// Holds the relay threads' wake-ups for commands the calling thread queues until the
    /// matching ``releaseWakeups()``, which wakes each thread with new commands once.
    /// A control front end that reads requests in bursts (the ng server) brackets a burst
    /// with these, so one eventfd write serves the burst instead of one per request
    /// (the relay thread shares the core with signaling on small hosts). Per thread, nests;
    /// every hold must be released on the same thread, soon: held commands wait for it.
    public func holdWakeups() { baton_wakeups_hold(1) }

    /// Ends a ``holdWakeups()`` and signals the threads that got commands meanwhile.
    public func releaseWakeups() {
        baton_wakeups_hold(-1)
        if baton_wakeups_held() == 0 { threads.forEach { $0.signalIfHeld() } }
    }
    public func shutdown() { threads.forEach { $0.stop() } }

    /// Allocates an anchored stream: an RTP/RTCP port pair for each side.
    public func allocate() throws(MediaError) -> AnchoredStream {
        try anchor(try pool.allocate()) { () throws(MediaError) in try pool.allocate() }
    }

    /// Allocates a stream on given ports (the RTP port of each side's pair): a call resumed
    /// after a restart keeps the ports its parties were told.
    public func allocate(resuming ports: (a: Int, b: Int)) throws(MediaError) -> AnchoredStream {
        try anchor(try pool.allocate(port: ports.a)) { () throws(MediaError) in try pool.allocate(port: ports.b) }
    }

    /// A stream on side a's pair `a` and the pair `drawB` draws for side b (if that fails, `a`
    /// goes back to the pool), registered with a relay thread.
    private func anchor(_ a: PortPool.Pair, _ drawB: () throws(MediaError) -> PortPool.Pair) throws(MediaError) -> AnchoredStream {
        let b: PortPool.Pair
        do { b = try drawB() } catch {
            pool.release(a, owner: a.owner, rtpSlot: a.rtpSlot, rtcpSlot: a.rtcpSlot)   // still parked where it was
            throw error
        }
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        // The thread that still has the first pair registered, so it is adopted as it is;
        // round robin for fresh sockets (a parked pair's thread was itself drawn that way).
        let thread = threads[a.owner >= 0 && a.owner < threads.count ? a.owner : Int(id % UInt64(threads.count))]
        let stream = AnchoredStream(id: id, a: a, b: b, thread: thread.index)
        adopt(stream.a, on: thread.index)
        adopt(stream.b, on: thread.index)
        streams.withLock { $0[id] = stream }
        thread.submit(.add(stream.sockets))
        return stream
    }

    /// A resumed call: the side's sources as they were latched before the restart
    /// ("ip:port", "[v6]:port"), so media goes to a party behind NAT before it sends again.
    public func latch(_ stream: AnchoredStream, side: Side, rtp: String, rtcp: String?) throws(MediaError) {
        let e = stream.endpoint(side)
        threads[stream.thread].submit(.latch(e.rtp, try MediaRelay.address(rtp)))
        if let rtcp { threads[stream.thread].submit(.latch(e.rtcp, try MediaRelay.address(rtcp))) }
    }

    /// A resumed call: the rewrite of what the side's party receives, as it was before the
    /// restart (``StreamSnapshot``), so that party keeps one SSRC and one sequence.
    public func continueEgress(_ stream: AnchoredStream, side: Side, _ c: RTPRewriter.Continuation) {
        threads[stream.thread].submit(.continueEgress(stream.endpoint(side).rtp, c))
    }

    /// What a restart must keep of a stream besides its signaling (ports, latched sources,
    /// egress rewrites), read on its relay thread and handed to `done` there.
    public func snapshot(_ stream: AnchoredStream, _ done: @escaping @Sendable (StreamSnapshot) -> Void) {
        let (a, b) = (stream.endpoint(.a), stream.endpoint(.b))
        threads[stream.thread].submit(.inspect([a.rtp, a.rtcp, b.rtp, b.rtcp]) { s in
            done(StreamSnapshot(
                a: .init(rtpPort: a.rtpPort, latchedRTP: s[0].latched, latchedRTCP: s[1].latched, egress: s[0].egress),
                b: .init(rtpPort: b.rtpPort, latchedRTP: s[2].latched, latchedRTCP: s[3].latched, egress: s[2].egress)))
        })
    }

    /// "1.2.3.4:5", "[::1]:5" as a socket address.
    static func address(_ text: String) throws(MediaError) -> baton_addr {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { throw .badAddress(text) }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var a = baton_addr()
        guard baton_addr_from_string(&a, host, port) == 0 else { throw .badAddress(text) }
        return a
    }

    /// A pair drawn while parked on a relay thread: adopted as it is when it goes to the same
    /// thread, else taken out of that thread's epoll set first (``RelayThread/detach(_:)``).
    private func adopt(_ e: AnchoredStream.Endpoint, on thread: Int) {
        let p = e.pair
        guard p.owner >= 0, p.owner < threads.count else { return }
        if p.owner == thread {
            e.rtp.parkedSlot = p.rtpSlot
            e.rtcp.parkedSlot = p.rtcpSlot
        } else {
            threads[p.owner].detach(p)
        }
    }

    /// The epoll descriptor of relay thread `i` (tests read its registrations in /proc).
    func epollDescriptor(thread i: Int) -> Int32 { threads[i].epoll }

    /// `epoll_ctl(ADD)` calls of all relay threads so far.
    var registrations: Int { threads.reduce(0) { $0 + $1.registrations.load(ordering: .relaxed) } }

    /// Tells the relay where a side's party said (in SDP) it receives RTP; RTCP goes to port + 1.
    /// `source` says which packets may latch the side (by default only the advertised address's).
    public func setRemote(_ stream: AnchoredStream, side: Side, ip: String, port: Int, rtcpPort: Int? = nil,
                          source: SourcePolicy = .advertised) throws(MediaError) {
        try setRemote(stream.endpoint(side), thread: stream.thread, ip: ip, port: port, rtcpPort: rtcpPort, source: source)
    }

    private func setRemote(_ e: AnchoredStream.Endpoint, thread: Int, ip: String, port: Int, rtcpPort: Int?,
                           source: SourcePolicy) throws(MediaError) {
        let (rtp, rtcp) = try MediaRelay.addresses(ip: ip, port: port, rtcpPort: rtcpPort)
        let expected = try MediaRelay.expectedSource(source, rtp)
        threads[thread].submit(.setRemote(e.rtp, rtp, source: expected))
        threads[thread].submit(.setRemote(e.rtcp, rtcp, source: expected))
    }

    /// The addresses a packet may come from to latch (ports ignored); empty: any.
    static func expectedSource(_ policy: SourcePolicy, _ advertised: baton_addr) throws(MediaError) -> ExpectedSources {
        func parse(_ ip: String) throws(MediaError) -> baton_addr {
            var a = baton_addr()
            guard baton_addr_from_string(&a, ip, 0) == 0 else { throw .badAddress(ip) }
            return a
        }
        switch policy {
        case .advertised: return ExpectedSources(advertised)
        case .any: return ExpectedSources()
        case .address(let ip): return ExpectedSources(try parse(ip))
        case .advertisedOr(let ip): return ExpectedSources(advertised, try parse(ip))
        }
    }

    /// Sets what the party on `side` talks (codec, payload types, SRTP keys), as negotiated.
    /// `transcodes` says the other side's codec differs, so this leg needs codec state
    /// (an Opus encoder and decoder when it is Opus). Takes effect between two batches; a
    /// leg configured again (re-INVITE) gets fresh SRTP sessions for its new keys.
    /// Copies what `side`'s party sends (its audio payloads) into `tap` from the next packet
    /// on; nil stops. The relay thread owns the socket: the change is a command. After a
    /// switchover the side's new endpoint has no tap: tap it again.
    public func tap(_ stream: AnchoredStream, side: Side, _ tap: AudioTap?) {
        threads[stream.thread].submit(.tap(stream.endpoint(side).rtp, tap))
    }

    public func configure(_ stream: AnchoredStream, side: Side, _ media: LegMedia, transcodes: Bool = false) throws(MediaError) {
        try configure(stream.endpoint(side), thread: stream.thread, media, transcodes: transcodes)
    }

    private func configure(_ e: AnchoredStream.Endpoint, thread: Int, _ media: LegMedia, transcodes: Bool) throws(MediaError) {
        let previous = e.rtp.configured.withLock { $0 }
        if let previous, previous.same(media, transcodes: transcodes) { return }
        let state = try LegState(media, transcodes: transcodes, opusBitrate: Int32(configuration.opusBitrate),
                                 opusComplexity: Int32(configuration.opusComplexity), previous: previous)
        e.rtp.configured.withLock { $0 = state }
        threads[thread].submit(.configure([e.rtp, e.rtcp], state))
    }

    /// What the party on `side` was last configured with (nil: nothing negotiated).
    public func media(_ stream: AnchoredStream, side: Side) -> LegMedia? {
        stream.endpoint(side).rtp.configured.withLock { $0?.media }
    }

    /// The same for a switchover's new leg (its device may talk another codec than the
    /// one it replaces; the far party's leg keeps its codec and keys).
    public func configure(_ leg: SwitchLeg, _ media: LegMedia, transcodes: Bool = false) throws(MediaError) {
        try configure(leg.endpoint, thread: leg.stream.thread, media, transcodes: transcodes)
    }

    static func addresses(ip: String, port: Int, rtcpPort: Int?) throws(MediaError) -> (baton_addr, baton_addr) {
        guard (0...65535).contains(port) else { throw .badAddress("\(ip):\(port)") }
        var rtp = baton_addr(), rtcp = baton_addr()
        guard baton_addr_from_string(&rtp, ip, UInt16(port)) == 0,
              baton_addr_from_string(&rtcp, ip, UInt16(min(65535, rtcpPort ?? port + 1))) == 0 else {
            throw .badAddress(ip)
        }
        return (rtp, rtcp)
    }

    /// Stops relaying the stream; its ports return to the pool once the relay thread has let go.
    /// `released` is called then (from the relay thread, or at once if the stream was already
    /// released): from that moment the stream's counters no longer move, so a view of the
    /// call's final counters taken there is consistent across its sides.
    public func release(_ stream: AnchoredStream, released done: (@Sendable () -> Void)? = nil) {
        guard streams.withLock({ $0.removeValue(forKey: stream.id) }) != nil else { done?(); return }
        let snap = stream.counters(.a) + stream.counters(.b)
        released.withLock { $0 = $0 + snap }
        let t = threads[stream.thread]
        // A switchover's new leg not committed yet (spliced or not) goes with the stream: the
        // call ended under it, and no commit or abort will take it back after this.
        let legs = stream.takeSwitchLegs()
        t.submit(.remove(stream.sockets + legs.flatMap { [$0.rtp, $0.rtcp] }, [stream.a.pair, stream.b.pair] + legs.map(\.pair), pool))
        if let done { t.submit(.barrier(done)) }
    }

    /// Returns once every relay thread has run the commands submitted before this call, and
    /// the completions those commands call (splice reports, aborts) have been called. Tests
    /// and orderly checks use it instead of sleeping. The relay must be running.
    public func barrier() async {
        for t in threads {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in t.submit(.barrier { c.resume() }) }
        }
    }

    /// ``barrier()`` for synchronous callers (tests, tools): blocks the calling thread until
    /// every relay thread has run the commands submitted before, or `timeout` passed (false).
    /// Never call it on a relay thread.
    @discardableResult
    public func barrierBlocking(timeout: Duration = .seconds(5)) -> Bool {
        let deadline = DispatchTime.now() + .nanoseconds(Int(timeout.components.seconds) * 1_000_000_000
                                                         + Int(timeout.components.attoseconds / 1_000_000_000))
        for t in threads {
            let done = DispatchSemaphore(value: 0)
            t.submit(.barrier { done.signal() })
            if done.wait(timeout: deadline) == .timedOut { return false }
        }
        return true
    }

    // MARK: Switchover (make-before-break)

    /// Allocates the new leg of a switchover that will replace `side`: fresh ports whose
    /// packets are latched and counted but held until the splice.
    public func prepareSwitch(_ stream: AnchoredStream, replacing side: Side) throws(MediaError) -> SwitchLeg {
        let pair = try pool.allocate()
        let new = AnchoredStream.endpoint(pair)
        adopt(new, on: stream.thread)
        let far = stream.endpoint(side == .a ? .b : .a)
        new.rtp.peer = far.rtp
        new.rtcp.peer = far.rtcp
        new.rtp.forwarding = false
        new.rtcp.forwarding = false
        let job = SpliceJob(far: far, old: stream.endpoint(side), new: new)
        stream.addSwitchLeg(new)
        threads[stream.thread].submit(.add([new.rtp, new.rtcp]))
        return SwitchLeg(stream: stream, side: side, endpoint: new, job: job)
    }

    /// Where the new device receives RTP (from its SDP answer).
    public func setRemote(_ leg: SwitchLeg, ip: String, port: Int, rtcpPort: Int? = nil,
                          source: SourcePolicy = .advertised) throws(MediaError) {
        try setRemote(leg.endpoint, thread: leg.stream.thread, ip: ip, port: port, rtcpPort: rtcpPort, source: source)
    }

    /// The new leg is confirmed: from now on the far party's audio is relayed to it as well
    /// (a copy, rewritten for that leg: its SSRC rewrite, codec, keys), so its device plays
    /// the far party at once. Once the new leg's first packet is in and it has been primed for
    /// `primingMillis`, the relay splices at the first silent packet boundary of the old leg
    /// (or at once in `.now` mode, or when the window ends), then calls `onSplice` once, from
    /// the relay thread. After the splice the old leg keeps receiving the far party until
    /// ``commit(_:)``.
    public func arm(_ leg: SwitchLeg, mode: SpliceDecider.Mode, windowMillis: Int, primingMillis: Int = 0,
                    oldLegGone: Bool = false, onSplice: @escaping @Sendable (SpliceReport) -> Void) {
        let decider = SpliceDecider(mode: mode, windowMillis: windowMillis, primingMillis: primingMillis, oldLegGone: oldLegGone)
        threads[leg.stream.thread].submit(.arm(leg.job, decider, onSplice))
    }

    /// After the splice: the new leg takes the old side's place in the stream and the old
    /// side's ports go back to the pool.
    /// A no-op when the stream was released first (the new leg went with it).
    public func commit(_ leg: SwitchLeg) {
        guard leg.stream.takeSwitchLeg(leg.endpoint) else { return }
        let old = leg.stream.replace(leg.side, with: leg.endpoint)
        let gone = old.rtp.stats.snapshot + old.rtcp.stats.snapshot
        released.withLock { $0 = $0 + gone }
        let t = threads[leg.stream.thread]
        t.submit(.endFork(leg.job))
        t.submit(.remove([old.rtp, old.rtcp], [old.pair], pool))
    }

    /// Gives the switchover up: nothing changes for the far party and the new leg's ports go
    /// back. `completion(true)` means the splice had already happened (commit instead).
    public func abort(_ leg: SwitchLeg, completion: @escaping @Sendable (Bool) -> Void) {
        let t = threads[leg.stream.thread]
        let pool = self.pool
        t.submit(.disarm(leg.job, { [t] spliced in
            // Unless the stream's release took the leg already (the call ended first).
            if !spliced, leg.stream.takeSwitchLeg(leg.endpoint) {
                t.submit(.remove([leg.endpoint.rtp, leg.endpoint.rtcp], [leg.endpoint.pair], pool))
            }
            completion(spliced)
        }))
    }

    public var activeStreams: Int { streams.withLock { $0.count } }

    /// Relay-wide totals since start.
    public var totalsSnapshot: Totals {
        Totals(relayedPackets: totals.relayedPackets.load(ordering: .relaxed),
               relayedBytes: totals.relayedBytes.load(ordering: .relaxed),
               droppedSource: totals.droppedSource.load(ordering: .relaxed),
               droppedNoDestination: totals.droppedNoDestination.load(ordering: .relaxed),
               droppedSendError: totals.droppedSendError.load(ordering: .relaxed),
               droppedParked: totals.droppedParked.load(ordering: .relaxed))
    }

    public struct Totals: Sendable, Equatable {
        public var relayedPackets: UInt64
        public var relayedBytes: UInt64
        public var droppedSource: UInt64
        public var droppedNoDestination: UInt64
        public var droppedSendError: UInt64
        /// Arrived on a parked port (``Configuration/reuseSockets``): strays of ended calls
        /// or scans, read and discarded by the relay thread.
        public var droppedParked: UInt64
    }
}

/// What a restart keeps of one anchored stream, per side: the RTP port the party was told,
/// the sources latched (RTP and RTCP), and the egress rewrite in force after a switchover.
public struct StreamSnapshot: Codable, Sendable, Equatable {
    public struct Side: Codable, Sendable, Equatable {
        public var rtpPort: Int
        public var latchedRTP: String?
        public var latchedRTCP: String?
        public var egress: RTPRewriter.Continuation?
        public init(rtpPort: Int, latchedRTP: String? = nil, latchedRTCP: String? = nil, egress: RTPRewriter.Continuation? = nil) {
            self.rtpPort = rtpPort; self.latchedRTP = latchedRTP; self.latchedRTCP = latchedRTCP; self.egress = egress
        }
    }
    public var a: Side
    public var b: Side
    public init(a: Side, b: Side) { self.a = a; self.b = b }
    public func side(_ s: MediaRelay.Side) -> Side { s == .a ? a : b }
}

/// One anchored media stream (one SDP m-line): two sides, each an RTP and an RTCP socket.
public final class AnchoredStream: Sendable, Hashable {
    public struct Endpoint: Sendable {
        let pair: PortPool.Pair
        let rtp: RelaySocket
        let rtcp: RelaySocket
        public var rtpPort: Int { Int(pair.rtpPort) }
        public var rtcpPort: Int { Int(pair.rtcpPort) }
    }

    public let id: UInt64
    let thread: Int
    /// The two sides; a committed switchover replaces one of them.
    private let ends: Mutex<(a: Endpoint, b: Endpoint)>
    var a: Endpoint { ends.withLock { $0.a } }
    var b: Endpoint { ends.withLock { $0.b } }

    init(id: UInt64, a pa: PortPool.Pair, b pb: PortPool.Pair, thread: Int) {
        self.id = id
        self.thread = thread
        let a = AnchoredStream.endpoint(pa)
        let b = AnchoredStream.endpoint(pb)
        a.rtp.peer = b.rtp; b.rtp.peer = a.rtp; a.rtcp.peer = b.rtcp; b.rtcp.peer = a.rtcp
        ends = Mutex((a, b))
    }

    static func endpoint(_ pair: PortPool.Pair) -> Endpoint {
        let rtp = RelaySocket(fd: pair.rtpFD, port: pair.rtpPort, isRTCP: false)
        let rtcp = RelaySocket(fd: pair.rtcpFD, port: pair.rtcpPort, isRTCP: true)
        rtcp.rtpSibling = rtp
        return Endpoint(pair: pair, rtp: rtp, rtcp: rtcp)
    }

    /// New legs of switchovers in progress (prepared, not committed or aborted): whoever takes
    /// one out (commit, abort, or the stream's release) frees its ports, exactly once.
    private let switchLegs = Mutex<[Endpoint]>([])

    func addSwitchLeg(_ e: Endpoint) { switchLegs.withLock { $0.append(e) } }

    /// Takes `e` out of the pending legs; false when someone else took it already.
    func takeSwitchLeg(_ e: Endpoint) -> Bool {
        switchLegs.withLock { legs in
            guard let i = legs.firstIndex(where: { $0.rtp === e.rtp }) else { return false }
            legs.remove(at: i)
            return true
        }
    }

    func takeSwitchLegs() -> [Endpoint] { switchLegs.withLock { l in defer { l.removeAll() }; return l } }

    /// Puts `new` in place of `side`'s endpoint; returns the one it replaced.
    func replace(_ side: MediaRelay.Side, with new: Endpoint) -> Endpoint {
        ends.withLock { e in
            if side == .a { defer { e.a = new }; return e.a }
            defer { e.b = new }
            return e.b
        }
    }

    var sockets: [RelaySocket] { ends.withLock { [$0.a.rtp, $0.a.rtcp, $0.b.rtp, $0.b.rtcp] } }

    public func endpoint(_ side: MediaRelay.Side) -> Endpoint { ends.withLock { side == .a ? $0.a : $0.b } }
    /// The local RTP port the party on `side` must send to.
    public func port(_ side: MediaRelay.Side) -> Int { endpoint(side).rtpPort }
    /// RTP counters of one side (rx = from that side's party, tx = to it).
    public func rtpCounters(_ side: MediaRelay.Side) -> StreamStats.Snapshot { endpoint(side).rtp.stats.snapshot }
    /// RTCP counters of one side.
    public func rtcpCounters(_ side: MediaRelay.Side) -> StreamStats.Snapshot { endpoint(side).rtcp.stats.snapshot }
    /// RTP plus RTCP counters of one side.
    public func counters(_ side: MediaRelay.Side) -> StreamStats.Snapshot {
        endpoint(side).rtp.stats.snapshot + endpoint(side).rtcp.stats.snapshot
    }
    /// The source address latched for the side's RTP, e.g. "127.0.0.1:40000", if any yet.
    public func latchedAddress(_ side: MediaRelay.Side) -> String? {
        endpoint(side).rtp.latchedText.withLock { $0 }
    }

    /// The source address latched for the side's RTCP, if any yet.
    public func latchedRTCPAddress(_ side: MediaRelay.Side) -> String? {
        endpoint(side).rtcp.latchedText.withLock { $0 }
    }

    /// RFC 4733 events (DTMF) the side's party sent so far, and the last event's code (0-9
    /// digits, 10 `*`, 11 `#`, 12-15 A-D); count 0: none.
    public func telephoneEvents(_ side: MediaRelay.Side) -> (count: Int, last: UInt8) {
        let v = endpoint(side).rtp.telephoneEvents.load(ordering: .relaxed)
        return (Int(v >> 8), UInt8(truncatingIfNeeded: v))
    }

    /// The first source whose packets the side refused (RTP or RTCP; "203.0.113.9:4000"),
    /// if any: what a log line names when the side dropped packets for their source.
    public func refusedSource(_ side: MediaRelay.Side) -> String? {
        let e = endpoint(side)
        for s in [e.rtp, e.rtcp] {
            if var a = s.firstRefused.withLock({ $0 }) { return RelaySocket.describe(&a) }
        }
        return nil
    }

    public static func == (l: AnchoredStream, r: AnchoredStream) -> Bool { l.id == r.id }
    public func hash(into h: inout Hasher) { h.combine(id) }
}
