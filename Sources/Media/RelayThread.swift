import CBatonSys
import Foundation
import Logging
import Synchronization

/// One dedicated relay thread: an epoll loop over its sockets that receives in batches
/// (`recvmmsg`) and forwards in batches (`sendmmsg`).
///
/// The per-packet path does no allocation, takes no lock, never awaits and calls no
/// existential: the receive/send buffers and addresses are allocated once per thread,
/// the socket table is a plain array indexed by the epoll data, and counters are added
/// once per batch. Signaling talks to the thread only through a command queue that the
/// thread drains between batches, woken by an eventfd.
final class RelayThread: @unchecked Sendable {
    enum Command {
        case add([RelaySocket])
        case setRemote(RelaySocket, baton_addr, source: ExpectedSources)
        /// The leg's codec and SRTP state for its RTP and RTCP sockets.
        case configure([RelaySocket], LegState)
        case remove([RelaySocket], [PortPool.Pair], PortPool)
        /// Parked sockets (fd, slot) another thread adopted: their registration here was
        /// already deleted (``detach(_:)``); free the slots.
        case forget([(fd: Int32, slot: Int)])
        /// Start choosing the splice point of a switchover whose new leg is confirmed.
        case arm(SpliceJob, SpliceDecider, @Sendable (SpliceReport) -> Void)
        /// Give up a switchover; the callback says whether the splice had already happened.
        case disarm(SpliceJob, @Sendable (Bool) -> Void)
        /// The old leg of a spliced switchover is being released: stop copying the far
        /// party's audio to it.
        case endFork(SpliceJob)
        /// Calls back once every command queued before it has been applied (a released
        /// stream's counters are final then: this thread no longer touches its sockets).
        case barrier(@Sendable () -> Void)
        /// Starts (a tap) or stops (nil) copying a socket's audio for a listener.
        case tap(RelaySocket, AudioTap?)
        /// A resumed call (after a restart): the side's source as it was latched before.
        case latch(RelaySocket, baton_addr)
        /// A resumed call: the egress rewrite in force before the restart (after a switchover).
        case continueEgress(RelaySocket, RTPRewriter.Continuation)
        /// Reads what a restart must keep of the sockets (latched sources, egress rewrites)
        /// on the thread that owns them, and hands it to the callback there.
        case inspect([RelaySocket], @Sendable ([RelaySocket.Saved]) -> Void)
    }

    /// Bounds the reads of one socket per wake-up, so one busy socket cannot starve others
    /// (rtpengine `max_recv_iters`).
    static let maxRecvIterations = 16
    private static let wakeData = UInt64.max
    private static let maxEvents: Int32 = 64

    let index: Int
    let epoll: Int32
    private let wake: Int32
    let commands = Mutex<[Command]>([])
    /// The commands being applied; only the relay thread touches it (see `applyCommands`).
    var drained: [Command] = []
    /// A held submit made the queue non-empty and did not signal.
    private let heldWake = Atomic<Bool>(false)
    private let running = Atomic<Bool>(true)
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)
    // Owned by the relay thread only:
    var table: [RelaySocket?] = []
    /// Per slot: the descriptor of a parked socket still registered here (-1: none). Its
    /// events drain it; ``Command/add`` adopts it as it is.
    var parkedFDs: [Int32] = []
    var freeSlots: [Int] = []
    /// Bumped whenever a command or a splice may have changed a socket's legs, peer or fork:
    /// a socket whose actions were chosen under another generation chooses them again.
    var configGeneration = 0
    /// `epoll_ctl(ADD)` calls so far: what socket reuse saves (tests).
    let registrations = Atomic<Int>(0)
    private let batch: OpaquePointer
    /// Copies of the far party's packets for a switchover's second receiver (``RelaySocket/fork``),
    /// rewritten for that leg in their own buffers; allocated once like `batch`.
    private let forkBatch: OpaquePointer
    private let events: UnsafeMutablePointer<UInt64>
    /// 8 kHz PCM of the frame being transcoded (120 ms, Opus's longest frame).
    private let pcm: UnsafeMutablePointer<Int16>
    private let cpu: Int?
    private let coalesceNanos: Int64
    private let totals: RelayTotals
    let logger: Logger

    init(index: Int, cpu: Int?, coalesceMicros: Int = 0, totals: RelayTotals, logger: Logger) throws(MediaError) {
        self.index = index
        self.cpu = cpu
        self.coalesceNanos = Int64(coalesceMicros) * 1000
        self.totals = totals
        self.logger = logger
        let ep = baton_epoll_create()
        guard ep >= 0 else { throw .system(call: "epoll_create1", errno: -ep) }
        let ev = baton_eventfd()
        guard ev >= 0 else { close_(ep); throw .system(call: "eventfd", errno: -ev) }
        do { try SystemCall.check(baton_epoll_add(ep, ev, RelayThread.wakeData), "epoll_ctl(ADD eventfd)") } catch {
            close_(ep); close_(ev)
            throw error
        }
        guard let b = baton_batch_new() else { close_(ep); close_(ev); throw .system(call: "calloc", errno: ENOMEM) }
        guard let fb = baton_batch_new() else {
            baton_batch_free(b); close_(ep); close_(ev)
            throw .system(call: "calloc", errno: ENOMEM)
        }
        epoll = ep
        wake = ev
        batch = b
        forkBatch = fb
        events = .allocate(capacity: Int(RelayThread.maxEvents))
        pcm = .allocate(capacity: PacketAdapter.pcmCapacity)
        pcm.initialize(repeating: 0, count: PacketAdapter.pcmCapacity)
    }

    deinit {
        baton_batch_free(batch)
        baton_batch_free(forkBatch)
        events.deallocate()
        pcm.deallocate()
        close_(epoll)
        close_(wake)
    }

    func start() {
        let t = Thread { [self] in self.run() }
        t.name = "baton-relay-\(index)"
        thread = t
        t.start()
    }

    func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        baton_eventfd_signal(wake)
        if thread != nil { done.wait() }
    }

    /// Queues a command; only the command that makes the queue non-empty signals the
    /// eventfd (the thread drains the whole queue per wake-up), so a burst of commands from
    /// one ng offer costs one write(2), not one per command.
    ///
    /// While the calling thread holds wake-ups (``MediaRelay/holdWakeups()``), the signal
    /// is left to ``signalIfHeld()``: an ng read burst of 16 offers wakes the thread once.
    func submit(_ c: Command) {
        let first = commands.withLock { q -> Bool in
            q.append(c)
            return q.count == 1
        }
        guard first else { return }
        if baton_wakeups_held() != 0 {
            heldWake.store(true, ordering: .releasing)
        } else {
            baton_eventfd_signal(wake)
        }
    }

    /// Signals the eventfd if a held submit left the queue non-empty without a signal.
    func signalIfHeld() {
        if heldWake.load(ordering: .relaxed), heldWake.exchange(false, ordering: .acquiringAndReleasing) {
            baton_eventfd_signal(wake)
        }
    }

    private func run() {
        baton_thread_name("baton-relay-\(index)")
        if let cpu {
            do { try SystemCall.check(baton_pin_cpu(Int32(cpu)), "pthread_setaffinity_np") } catch {
                logger.warning("relay thread not pinned", metadata: ["thread": "\(index)", "cpu": "\(cpu)", "error": "\(error)"])
            }
        }
        var sawPackets = false
        while running.load(ordering: .relaxed) {
            let n = baton_epoll_wait(epoll, events, RelayThread.maxEvents, 200)
            if n < 0 { logger.error("epoll_wait failed", metadata: ["errno": "\(-n)"]); break }
            // Commands first: a leg configured (SRTP keys, codecs) before its party's first
            // packet must not see that packet forwarded under the old action because both
            // became ready in the same wake-up.
            var k = 0
            while k < Int(n) {
                if events[k] == RelayThread.wakeData {
                    baton_eventfd_drain(wake)
                    applyCommands()
                    break
                }
                k += 1
            }
            k = 0
            while k < Int(n) {
                let data = events[k]
                k += 1
                if data == RelayThread.wakeData { continue }
                let slot = Int(truncatingIfNeeded: data)
                guard slot < table.count, let socket = table[slot] else {
                    // A parked socket: nothing it receives belongs to a call.
                    if slot < parkedFDs.count, parkedFDs[slot] >= 0 {
                        StreamStats.bump(totals.droppedParked, UInt64(baton_udp_drain(parkedFDs[slot])))
                    }
                    continue
                }
                var iterations = 0
                while iterations < RelayThread.maxRecvIterations {
                    let got = baton_batch_recv(socket.fd, batch)
                    if got <= 0 { break }
                    forward(from: socket, count: Int(got), arrivalNanos: RelayThread.monotonicNanos())
                    // A short batch drained the socket: epoll is level-triggered, so stop
                    // here instead of paying one more recvmmsg that returns EAGAIN.
                    if got < BATON_BATCH { break }
                    iterations += 1
                }
                sawPackets = true
            }
            // Interrupt moderation: after a wake-up that carried packets, let the next ones
            // gather for up to `coalesceNanos` so one wake-up serves several of them. An idle
            // relay still blocks in epoll_wait and adds nothing to an isolated packet; a
            // saturated one (every event slot used) goes straight back to work.
            if sawPackets && coalesceNanos > 0 && n < RelayThread.maxEvents {
                sawPackets = false
                baton_sleep_nanos(coalesceNanos)
            }
        }
        applyCommands()
        done.signal()
    }

    /// The hot path: latch or check the source of each datagram, queue it for the peer's
    /// remote (through the peer's egress rewrite), send the batch with one `sendmmsg`.
    /// A socket taking part in a switchover also decides the splice here, at packet boundaries.
    @inline(__always)
    private func forward(from socket: RelaySocket, count: Int, arrivalNanos: Int64) {
        if socket.firstPacketNanos == 0 { socket.firstPacketNanos = arrivalNanos }
        if let job = socket.splice, job.armed, socket === job.newRTP {
            // The new leg's packets: the first makes it ready; if the old leg has sent
            // nothing past the deadline, splice here, before this batch is forwarded.
            job.decider.newLegReady(at: arrivalNanos)
            if let reason = job.decider.decide(oldPacketSilent: nil, atOldPacket: false, now: arrivalNanos) {
                job.perform(reason: reason, now: arrivalNanos)
                configGeneration &+= 1
            }
        }
        let peer: RelaySocket = socket.peer
        let inLeg = socket.leg, outLeg = peer.leg
        // What RTP gets toward the peer and toward a fork (pass through, or adapt: payload
        // type renumbering or transcoding), chosen again only after a command or a splice
        // changed a leg, the peer or the fork.
        socket.chooseActions(generation: configGeneration)
        let action = socket.action
        let warmDecoder = !socket.forwarding && !socket.isRTCP && socket.splice != nil && action.decodesOpus
        // A second receiver (switchover priming: the far party's audio to the new leg before
        // the splice, to the old one after it until released), with its own action.
        let fork: RelaySocket? = socket.isRTCP ? nil : socket.fork
        let forkOn = fork?.hasRemote ?? false
        let forkLeg = fork?.leg
        let forkAction = socket.forkAction
        var forkQueued: Int32 = 0
        var forkBytes: UInt64 = 0
        var queued: Int32 = 0
        var rxBytes: UInt64 = 0, txBytes: UInt64 = 0, rx: UInt64 = 0
        var badSource: UInt64 = 0, noDest: UInt64 = 0, badSRTP: UInt64 = 0, badCodec: UInt64 = 0
        // A while loop, not `for in 0..<Int32(n)`: unoptimized builds iterate a Range<Int32>
        // through unspecialized generic code that allocates per call.
        var i: Int32 = -1
        let n = Int32(count)
        while true {
            i += 1
            if i >= n { break }
            let source = baton_batch_addr(batch, i)!
            let p = baton_batch_data(batch, i)!
            var len = Int(baton_batch_len(batch, i))
            let received = len
            // SRTP first: a packet that fails authentication or replay protection neither
            // latches the source nor counts as received.
            if let srtp = inLeg?.srtpIn {
                len = srtp.unprotectInPlace(p, length: len, rtcp: socket.isRTCP)
                if len < 0 { badSRTP &+= 1; continue }
            }
            // Strict source (rtpengine's `strict-source`): before latching, only the expected
            // address may latch; after it, only the latched address and port are relayed.
            if !socket.latched {
                guard socket.mayLatch(source) else {
                    badSource &+= 1
                    socket.noteRefused(source)
                    continue
                }
                socket.latch(source)
            } else if baton_addr_equal(socket.remote, source) == 0 {
                badSource &+= 1
                socket.noteRefused(source)
                continue
            }
            rx &+= 1
            rxBytes &+= UInt64(received)
            // Held: a new leg before the splice, an old leg after it. A new leg that talks Opus
            // to a far party of another codec has its frames decoded all the same (and the PCM
            // dropped): a decoder started mid-stream at the splice codes its first frames badly
            // (F heard up to 50 ms of that), a primed one goes on as if it had always run.
            if !socket.forwarding {
                if warmDecoder, RTPHeader.isRTP(p, length: len) { PacketAdapter.decodeOnly(p, length: len, leg: inLeg!, pcm: pcm) }
                continue
            }
            let isRTP = !socket.isRTCP && RTPHeader.isRTP(p, length: len)
            var seq: UInt16 = 0, ts: UInt32 = 0
            if isRTP {
                seq = RTPHeader.sequence(p)
                ts = RTPHeader.timestamp(p)
                socket.sequence.update(seq: seq, timestamp: ts, arrival: arrivalNanos &* socket.clockRate / 1_000_000_000)
                // RFC 4733 telephone events (DTMF) the party sends: counted per event (its
                // packets share one timestamp), the last event code kept (an atomic, no allocation).
                if let te = inLeg?.format?.telephoneEvent, p[1] & 0x7F == te { socket.noteTelephoneEvent(p, length: len, timestamp: ts) }
                // A listened call: the audio payload, copied into the tap's ring (no allocation).
                if let tap = socket.tap { RelayThread.feed(tap, p, length: len, format: inLeg?.format) }
            }
            // Samples of this packet already decoded into `pcm` (the fork and the main
            // direction decode the same frame once: an Opus decoder must see each frame once).
            var decoded = 0
            if isRTP, forkOn, let fork {
                let q = baton_batch_data(forkBatch, forkQueued)!
                q.update(from: p, count: len)
                var flen = len
                if case let .adapt(from, to) = forkAction {
                    flen = PacketAdapter.adapt(q, length: flen, from: from, to: to, inLeg: inLeg!,
                                               outLeg: forkLeg!, map: &socket.forkTSMap, pcm: pcm, decoded: &decoded)
                }
                if flen < 0 {
                    badCodec &+= 1
                } else {
                    let fts = forkAction == .passThrough ? ts : RTPHeader.timestamp(q)
                    RTPHeader.rewrite(q, seq: seq, timestamp: fts, egress: &fork.egress, source: socket.serial, nanos: arrivalNanos)
                    if let srtp = forkLeg?.srtpOut { flen = srtp.protectInPlace(q, length: flen, rtcp: false) }
                    if flen < 0 {
                        badSRTP &+= 1
                    } else {
                        baton_batch_set_len(forkBatch, forkQueued, UInt32(flen))
                        baton_batch_queue(forkBatch, forkQueued, forkQueued, fork.remote)
                        forkQueued += 1
                        forkBytes &+= UInt64(flen)
                    }
                }
                if let job = socket.splice, job.decider.firstForkNanos == nil { job.decider.forked(at: arrivalNanos) }
            }
            guard peer.hasRemote else { noDest &+= 1; continue }
            if isRTP {
                if case let .adapt(from, to) = action {
                    len = PacketAdapter.adapt(p, length: len, from: from, to: to, inLeg: inLeg!,
                                              outLeg: outLeg!, map: &socket.tsMap, pcm: pcm, decoded: &decoded)
                    if len < 0 { badCodec &+= 1; continue }
                    ts = RTPHeader.timestamp(p)
                }
                RTPHeader.rewrite(p, seq: seq, timestamp: ts, egress: &peer.egress, source: socket.serial, nanos: arrivalNanos)
            } else if socket.isRTCP, len >= 8, let sibling = peer.rtpSibling, sibling.egress.rewriting {
                RTPHeader.rewriteReport(p, length: len, egress: sibling.egress)
            }
            // The old leg's packet about to go out is a boundary: judged on the plain payload.
            var silent: Bool?? = nil
            if isRTP, let job = socket.splice, job.armed, socket === job.oldRTP, job.decider.isReady(at: arrivalNanos) {
                silent = .some(RTPHeader.silence(p, length: len))
            }
            if let srtp = outLeg?.srtpOut {
                len = srtp.protectInPlace(p, length: len, rtcp: socket.isRTCP)
                if len < 0 { badSRTP &+= 1; continue }
            }
            if len != received { baton_batch_set_len(batch, i, UInt32(len)) }
            baton_batch_queue(batch, i, queued, peer.remote)
            queued += 1
            txBytes &+= UInt64(len)
            // Splice here if that packet was silent (or the window ran out). Later packets
            // of this batch are then held.
            if let silent, let job = socket.splice {
                if let reason = job.decider.decide(oldPacketSilent: silent, atOldPacket: true, now: arrivalNanos) {
                    job.perform(reason: reason, now: arrivalNanos)
                    configGeneration &+= 1
                }
            }
        }
        var sent: Int32 = 0
        if queued > 0 {
            sent = baton_batch_send(peer.fd, batch, queued)
            if sent < 0 { sent = 0 }
            if sent < queued { txBytes = txBytes * UInt64(sent) / UInt64(queued) } // rare: estimate
        }
        if forkQueued > 0, let fork {
            var forkSent = baton_batch_send(fork.fd, forkBatch, forkQueued)
            if forkSent < 0 { forkSent = 0 }
            if forkSent < forkQueued { forkBytes = forkBytes * UInt64(forkSent) / UInt64(forkQueued) }
            StreamStats.bump(fork.stats.txPackets, UInt64(forkSent))
            StreamStats.bump(fork.stats.txBytes, forkBytes)
            StreamStats.bump(fork.stats.droppedSendError, UInt64(forkQueued - forkSent))
            totals.add(relayed: UInt64(forkSent), bytes: forkBytes, badSource: 0, noDestination: 0,
                       sendError: UInt64(forkQueued - forkSent))
        }
        let stats = socket.stats
        StreamStats.bump(stats.rxPackets, rx)
        StreamStats.bump(stats.rxBytes, rxBytes)
        StreamStats.bump(stats.droppedSource, badSource)
        StreamStats.bump(stats.droppedNoDestination, noDest)
        StreamStats.bump(stats.droppedSRTP, badSRTP)
        StreamStats.bump(stats.droppedCodec, badCodec)
        if !socket.isRTCP {
            stats.sequenceGaps.store(socket.sequence.gaps, ordering: .relaxed)
            stats.duplicates.store(socket.sequence.duplicates, ordering: .relaxed)
            stats.jitter.store(socket.sequence.jitter, ordering: .relaxed)
        }
        StreamStats.bump(peer.stats.txPackets, UInt64(sent))
        StreamStats.bump(peer.stats.txBytes, txBytes)
        StreamStats.bump(peer.stats.droppedSendError, UInt64(queued - sent))
        totals.add(relayed: UInt64(sent), bytes: txBytes, badSource: badSource,
                   noDestination: noDest, sendError: UInt64(queued - sent))
    }

    /// CLOCK_MONOTONIC in nanoseconds: once per batch, for jitter.
    @inline(__always) static func monotonicNanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }
}

/// Relay-wide totals for `/metrics`, added once per batch.
final class RelayTotals: Sendable {
    let relayedPackets = Atomic<UInt64>(0)
    let relayedBytes = Atomic<UInt64>(0)
    let droppedSource = Atomic<UInt64>(0)
    let droppedNoDestination = Atomic<UInt64>(0)
    let droppedSendError = Atomic<UInt64>(0)
    /// Datagrams that arrived on a parked port (no call owns it) and were discarded.
    let droppedParked = Atomic<UInt64>(0)

    @inline(__always)
    func add(relayed: UInt64, bytes: UInt64, badSource: UInt64, noDestination: UInt64, sendError: UInt64) {
        StreamStats.bump(relayedPackets, relayed)
        StreamStats.bump(relayedBytes, bytes)
        StreamStats.bump(droppedSource, badSource)
        StreamStats.bump(droppedNoDestination, noDestination)
        StreamStats.bump(droppedSendError, sendError)
    }
}
