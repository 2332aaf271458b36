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
        case setRemote(RelaySocket, baton_addr)
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
    }

    /// Bounds the reads of one socket per wake-up, so one busy socket cannot starve others
    /// (rtpengine `max_recv_iters`).
    static let maxRecvIterations = 16
    private static let wakeData = UInt64.max
    private static let maxEvents: Int32 = 64

    let index: Int
    let epoll: Int32
    private let wake: Int32
    private let commands = Mutex<[Command]>([])
    /// The commands being applied; only the relay thread touches it (see `applyCommands`).
    private var drained: [Command] = []
    /// A held submit made the queue non-empty and did not signal.
    private let heldWake = Atomic<Bool>(false)
    private let running = Atomic<Bool>(true)
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)
    // Owned by the relay thread only:
    private var table: [RelaySocket?] = []
    /// Per slot: the descriptor of a parked socket still registered here (-1: none). Its
    /// events drain it; ``Command/add`` adopts it as it is.
    private var parkedFDs: [Int32] = []
    private var freeSlots: [Int] = []
    /// `epoll_ctl(ADD)` calls so far: what socket reuse saves (tests).
    let registrations = Atomic<Int>(0)
    private let batch: OpaquePointer
    /// Copies of the far party's packets for a switchover's second receiver (``RelaySocket/fork``),
    /// rewritten for that leg in their own buffers; allocated once like `batch`.
    private let forkBatch: OpaquePointer
    private let events: UnsafeMutablePointer<UInt64>
    /// 8 kHz PCM of the frame being transcoded (120 ms, Opus's longest frame).
    static let pcmCapacity = 960
    private let pcm: UnsafeMutablePointer<Int16>
    private let cpu: Int?
    private let coalesceNanos: Int64
    private let totals: RelayTotals
    private let logger: Logger

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
        pcm = .allocate(capacity: RelayThread.pcmCapacity)
        pcm.initialize(repeating: 0, count: RelayThread.pcmCapacity)
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
            }
        }
        let peer: RelaySocket = socket.peer
        let inLeg = socket.leg, outLeg = peer.leg
        // The forwarding entry's action for RTP, chosen once per batch: pass through, or
        // adapt (payload type renumbering, or transcoding between the two legs' codecs).
        var adapt = false
        if let a = inLeg?.format, let b = outLeg?.format, a != b { adapt = true }
        let warmDecoder = !socket.forwarding && adapt && !socket.isRTCP && socket.splice != nil
            && inLeg?.format?.codec == .opus && outLeg?.format?.codec != .opus
        // A second receiver (switchover priming: the far party's audio to the new leg before
        // the splice, to the old one after it until released), with its own action.
        let fork: RelaySocket? = socket.isRTCP ? nil : socket.fork
        let forkOn = fork?.hasRemote ?? false
        let forkLeg = fork?.leg
        var forkAdapt = false
        if forkOn, let a = inLeg?.format, let b = forkLeg?.format, a != b { forkAdapt = true }
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
            if !socket.latched {
                socket.latch(source)
            } else if baton_addr_equal(socket.remote, source) == 0 {
                badSource &+= 1
                continue
            }
            rx &+= 1
            rxBytes &+= UInt64(received)
            // Held: a new leg before the splice, an old leg after it. A new leg that talks Opus
            // to a far party of another codec has its frames decoded all the same (and the PCM
            // dropped): a decoder started mid-stream at the splice codes its first frames badly
            // (F heard up to 50 ms of that), a primed one goes on as if it had always run.
            if !socket.forwarding {
                if warmDecoder, len >= 12, p[0] & 0xC0 == 0x80 { RelayThread.decodeOnly(p, length: len, leg: inLeg!, pcm: pcm) }
                continue
            }
            let isRTP = !socket.isRTCP && len >= 12 && p[0] & 0xC0 == 0x80
            var seq: UInt16 = 0, ts: UInt32 = 0
            if isRTP {
                seq = UInt16(p[2]) << 8 | UInt16(p[3])
                ts = UInt32(p[4]) << 24 | UInt32(p[5]) << 16 | UInt32(p[6]) << 8 | UInt32(p[7])
                socket.sequence.update(seq: seq, timestamp: ts, arrival: arrivalNanos &* socket.clockRate / 1_000_000_000)
            }
            // Samples of this packet already decoded into `pcm` (the fork and the main
            // direction decode the same frame once: an Opus decoder must see each frame once).
            var decoded = 0
            if isRTP, forkOn, let fork {
                let q = baton_batch_data(forkBatch, forkQueued)!
                q.update(from: p, count: len)
                var flen = len
                if forkAdapt {
                    flen = RelayThread.adapt(q, length: flen, from: inLeg!.format!, to: forkLeg!.format!, inLeg: inLeg!,
                                             outLeg: forkLeg!, map: &socket.forkTSMap, pcm: pcm, decoded: &decoded)
                }
                if flen < 0 {
                    badCodec &+= 1
                } else {
                    let fts = forkAdapt ? UInt32(q[4]) << 24 | UInt32(q[5]) << 16 | UInt32(q[6]) << 8 | UInt32(q[7]) : ts
                    RelayThread.rewriteRTP(q, seq: seq, timestamp: fts, egress: &fork.egress, source: socket.serial, nanos: arrivalNanos)
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
                if adapt {
                    len = RelayThread.adapt(p, length: len, from: inLeg!.format!, to: outLeg!.format!, inLeg: inLeg!,
                                            outLeg: outLeg!, map: &socket.tsMap, pcm: pcm, decoded: &decoded)
                    if len < 0 { badCodec &+= 1; continue }
                    ts = UInt32(p[4]) << 24 | UInt32(p[5]) << 16 | UInt32(p[6]) << 8 | UInt32(p[7])
                }
                RelayThread.rewriteRTP(p, seq: seq, timestamp: ts, egress: &peer.egress, source: socket.serial, nanos: arrivalNanos)
            } else if socket.isRTCP, len >= 8, let sibling = peer.rtpSibling, sibling.egress.rewriting {
                RelayThread.rewriteRTCP(p, length: len, egress: sibling.egress)
            }
            // The old leg's packet about to go out is a boundary: judged on the plain payload.
            var silent: Bool?? = nil
            if isRTP, let job = socket.splice, job.armed, socket === job.oldRTP, job.decider.isReady(at: arrivalNanos) {
                silent = .some(RelayThread.silence(p, length: len))
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

    /// Runs the RTP header through the egress rewriter; writes it back only when a splice
    /// made the rewriter active (before any switchover this is a read).
    @inline(__always)
    static func rewriteRTP(_ p: UnsafeMutablePointer<UInt8>, seq: UInt16, timestamp: UInt32, egress: inout RTPRewriter,
                           source: Int, nanos: Int64) {
        let h = RTPRewriter.Header(
            ssrc: UInt32(p[8]) << 24 | UInt32(p[9]) << 16 | UInt32(p[10]) << 8 | UInt32(p[11]),
            seq: seq, timestamp: timestamp, marker: p[1] & 0x80 != 0)
        let out = egress.rewrite(source: source, h, nanos: nanos)
        guard egress.rewriting else { return }
        p[1] = out.marker ? p[1] | 0x80 : p[1] & 0x7F
        p[2] = UInt8(truncatingIfNeeded: out.seq >> 8); p[3] = UInt8(truncatingIfNeeded: out.seq)
        p[4] = UInt8(truncatingIfNeeded: out.timestamp >> 24); p[5] = UInt8(truncatingIfNeeded: out.timestamp >> 16)
        p[6] = UInt8(truncatingIfNeeded: out.timestamp >> 8); p[7] = UInt8(truncatingIfNeeded: out.timestamp)
        p[8] = UInt8(truncatingIfNeeded: out.ssrc >> 24); p[9] = UInt8(truncatingIfNeeded: out.ssrc >> 16)
        p[10] = UInt8(truncatingIfNeeded: out.ssrc >> 8); p[11] = UInt8(truncatingIfNeeded: out.ssrc)
    }

    /// After a splice, the first RTCP packet of a compound toward the far party carries the
    /// far party's SSRC, and a sender report's RTP timestamp moves with the RTP stream.
    @inline(__always)
    static func rewriteRTCP(_ p: UnsafeMutablePointer<UInt8>, length: Int, egress: RTPRewriter) {
        let pt = p[1]
        guard pt == 200 || pt == 201 else { return }
        let ssrc = egress.ssrc
        p[4] = UInt8(truncatingIfNeeded: ssrc >> 24); p[5] = UInt8(truncatingIfNeeded: ssrc >> 16)
        p[6] = UInt8(truncatingIfNeeded: ssrc >> 8); p[7] = UInt8(truncatingIfNeeded: ssrc)
        if pt == 200, length >= 20 {
            let ts = (UInt32(p[16]) << 24 | UInt32(p[17]) << 16 | UInt32(p[18]) << 8 | UInt32(p[19])) &+ egress.tsDelta
            p[16] = UInt8(truncatingIfNeeded: ts >> 24); p[17] = UInt8(truncatingIfNeeded: ts >> 16)
            p[18] = UInt8(truncatingIfNeeded: ts >> 8); p[19] = UInt8(truncatingIfNeeded: ts)
        }
    }

    /// Makes an RTP packet from one leg fit the other: telephone-event and same-codec packets
    /// get the other leg's payload type (events also its clock), a G.711 or Opus frame is
    /// decoded to 8 kHz PCM and encoded in the other leg's codec, in place. Returns the new
    /// length, or -1 to drop (a payload type the leg did not negotiate, e.g. comfort noise,
    /// or a frame the codec refused).
    @inline(__always)
    static func adapt(_ p: UnsafeMutablePointer<UInt8>, length: Int, from inFmt: MediaFormat, to outFmt: MediaFormat,
                      inLeg: LegState, outLeg: LegState, map: inout TimestampMap, pcm: UnsafeMutablePointer<Int16>,
                      decoded: inout Int) -> Int {
        let pt = p[1] & 0x7F
        let marker = p[1] & 0x80
        let ts = UInt32(p[4]) << 24 | UInt32(p[5]) << 16 | UInt32(p[6]) << 8 | UInt32(p[7])
        guard let (offset, end) = RelayThread.payload(p, length: length) else { return -1 }
        let out = map.map(ts, from: inFmt.clockRate, to: outFmt.clockRate)
        if pt == inFmt.telephoneEvent {
            // RFC 4733: event, E/R/volume, 16-bit duration in the event clock.
            guard let te = outFmt.telephoneEvent, end - offset >= 4 else { return -1 }
            p[1] = marker | te
            if inFmt.telephoneEventClockRate != outFmt.telephoneEventClockRate {
                let d = Int(p[offset + 2]) << 8 | Int(p[offset + 3])
                let scaled = min(0xFFFF, d * outFmt.telephoneEventClockRate / inFmt.telephoneEventClockRate)
                p[offset + 2] = UInt8(truncatingIfNeeded: scaled >> 8); p[offset + 3] = UInt8(truncatingIfNeeded: scaled)
            }
            RelayThread.writeTimestamp(p, out)
            return length
        }
        guard pt == inFmt.payloadType else { return -1 }
        if inFmt.codec == outFmt.codec {
            p[1] = marker | outFmt.payloadType
            return length
        }
        // Decode to 8 kHz PCM (unless this frame already is in `pcm`: `decoded` samples).
        var samples = decoded
        let payload = p + offset
        let count = end - offset
        if samples == 0 {
        switch inFmt.codec {
        case .pcmu:
            samples = min(count, RelayThread.pcmCapacity)
            var k = 0
            while k < samples { pcm[k] = G711.ulaw(payload[k]); k += 1 }
        case .pcma:
            samples = min(count, RelayThread.pcmCapacity)
            var k = 0
            while k < samples { pcm[k] = G711.alaw(payload[k]); k += 1 }
        case .opus:
            guard let opus = inLeg.opus else { return -1 }
            samples = opus.decode(payload, count: count, into: pcm, capacity: RelayThread.pcmCapacity)
        }
        }
        guard samples > 0 else { return -1 }
        decoded = samples
        // Encode over the old payload.
        var written = 0
        switch outFmt.codec {
        case .pcmu:
            var k = 0
            while k < samples { payload[k] = G711.ulawEncode(pcm[k]); k += 1 }
            written = samples
        case .pcma:
            var k = 0
            while k < samples { payload[k] = G711.alawEncode(pcm[k]); k += 1 }
            written = samples
        case .opus:
            guard let opus = outLeg.opus else { return -1 }
            written = opus.encode(pcm, samples: samples, into: payload,
                                  capacity: Int(BATON_BUFSZ) - offset - SRTPSession.maxTrailer)
        }
        guard written > 0 else { return -1 }
        p[0] &= ~0x20  // no padding any more
        p[1] = marker | outFmt.payloadType
        RelayThread.writeTimestamp(p, out)
        return offset + written
    }

    /// Where an RTP packet's payload lies: after the CSRCs and a header extension, before the
    /// padding; nil when the header runs past the packet or nothing is left.
    @inline(__always)
    static func payload(_ p: UnsafeMutablePointer<UInt8>, length: Int) -> (offset: Int, end: Int)? {
        var offset = 12 + Int(p[0] & 0x0F) * 4
        if p[0] & 0x10 != 0 {
            guard length >= offset + 4 else { return nil }
            offset += 4 + (Int(p[offset + 2]) << 8 | Int(p[offset + 3])) * 4
        }
        var end = length
        if p[0] & 0x20 != 0 { end -= Int(p[length - 1]) }
        guard end > offset else { return nil }
        return (offset, end)
    }

    /// Runs an Opus packet of the leg's payload type through the leg's decoder and drops the
    /// PCM: keeps the decoder's state current while the leg's packets are held.
    @inline(__always)
    static func decodeOnly(_ p: UnsafeMutablePointer<UInt8>, length: Int, leg: LegState, pcm: UnsafeMutablePointer<Int16>) {
        guard let fmt = leg.format, p[1] & 0x7F == fmt.payloadType, let opus = leg.opus,
              let (offset, end) = RelayThread.payload(p, length: length) else { return }
        _ = opus.decode(p + offset, count: end - offset, into: pcm, capacity: RelayThread.pcmCapacity)
    }

    @inline(__always)
    static func writeTimestamp(_ p: UnsafeMutablePointer<UInt8>, _ ts: UInt32) {
        p[4] = UInt8(truncatingIfNeeded: ts >> 24); p[5] = UInt8(truncatingIfNeeded: ts >> 16)
        p[6] = UInt8(truncatingIfNeeded: ts >> 8); p[7] = UInt8(truncatingIfNeeded: ts)
    }

    /// Voice activity of one RTP packet's payload (nil when the codec cannot be judged).
    @inline(__always)
    static func silence(_ p: UnsafeMutablePointer<UInt8>, length: Int) -> Bool? {
        var offset = 12 + Int(p[0] & 0x0F) * 4
        if p[0] & 0x10 != 0, length >= offset + 4 {
            offset += 4 + (Int(p[offset + 2]) << 8 | Int(p[offset + 3])) * 4
        }
        var end = length
        if p[0] & 0x20 != 0, length > 0 { end -= Int(p[length - 1]) }
        guard end > offset else { return nil }
        return VoiceActivity.isSilent(payloadType: p[1] & 0x7F,
                                      payload: UnsafeRawBufferPointer(start: p + offset, count: end - offset))
    }

    /// CLOCK_MONOTONIC in nanoseconds: once per batch, for jitter.
    @inline(__always) static func monotonicNanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }

    /// Takes `fd` out of this thread's epoll set. A failure means the set and the table
    /// disagree (a descriptor closed or moved twice): logged, never fatal.
    private func epollDelete(_ fd: Int32) {
        do { try SystemCall.check(baton_epoll_del(epoll, fd), "epoll_ctl(DEL)") } catch {
            logger.error("relay socket was not in the epoll set", metadata: ["thread": "\(index)", "fd": "\(fd)", "error": "\(error)"])
        }
    }

    private func unregister(_ s: RelaySocket) {
        epollDelete(s.fd)
        table[s.slot] = nil
        freeSlots.append(s.slot)
        s.slot = -1
    }

    /// A parked pair registered here goes to a stream of another thread: its sockets leave
    /// this thread's epoll set now (`epoll_ctl` is safe from any thread) and their slots are
    /// freed by the next command round. Anything this thread still drains meanwhile arrived
    /// before the port was handed out in any SDP: a stray.
    func detach(_ pair: PortPool.Pair) {
        epollDelete(pair.rtpFD)
        epollDelete(pair.rtcpFD)
        submit(.forget([(pair.rtpFD, pair.rtpSlot), (pair.rtcpFD, pair.rtcpSlot)]))
    }

    private func applyCommands() {
        // Swap the queue with this thread's empty spare: neither array is copied or
        // re-allocated (copying out and `removeAll(keepingCapacity:)` on the shared buffer
        // allocated a new one per wake-up and freed the old after the loop).
        commands.withLock { swap(&$0, &drained) }
        defer { drained.removeAll(keepingCapacity: true) }
        for c in drained {
            switch c {
            case let .add(sockets):
                for s in sockets {
                    // A parked socket of this thread: already registered under its slot.
                    let parked = s.parkedSlot
                    s.parkedSlot = -1
                    if parked >= 0, parked < parkedFDs.count, parkedFDs[parked] == s.fd {
                        parkedFDs[parked] = -1
                        table[parked] = s
                        s.slot = parked
                        continue
                    }
                    let slot = freeSlots.popLast() ?? { table.append(nil); parkedFDs.append(-1); return table.count - 1 }()
                    table[slot] = s
                    s.slot = slot
                    registrations.wrappingAdd(1, ordering: .relaxed)
                    do { try SystemCall.check(baton_epoll_add(epoll, s.fd, UInt64(slot)), "epoll_ctl(ADD)") } catch {
                        logger.error("relay socket not watched", metadata: ["thread": "\(index)", "fd": "\(s.fd)", "error": "\(error)"])
                    }
                }
            case let .setRemote(s, addr):
                s.setExpected(addr)
            case let .configure(sockets, leg):
                for s in sockets {
                    s.leg = leg
                    if !s.isRTCP, let f = leg.format {
                        s.clockRate = Int64(f.clockRate)
                        if !s.egress.started { s.egress = RTPRewriter(clockRate: Int64(f.clockRate)) }
                    }
                }
            case let .remove(sockets, pairs, pool):
                guard pool.reuseSockets else {
                    for s in sockets where s.slot >= 0 { unregister(s) }
                    for p in pairs { pool.release(p) }
                    continue
                }
                // Parked: both sockets stay registered here under their slots (drained while
                // parked, adopted by the next stream of this thread that draws the pair).
                for p in pairs {
                    let rtp = sockets.first { $0.fd == p.rtpFD && $0.slot >= 0 }
                    let rtcp = sockets.first { $0.fd == p.rtcpFD && $0.slot >= 0 }
                    guard let rtp, let rtcp else {
                        for s in [rtp, rtcp].compactMap({ $0 }) { unregister(s) }
                        pool.release(p)
                        continue
                    }
                    for s in [rtp, rtcp] {
                        table[s.slot] = nil
                        parkedFDs[s.slot] = s.fd
                    }
                    pool.release(p, owner: index, rtpSlot: rtp.slot, rtcpSlot: rtcp.slot)
                    rtp.slot = -1
                    rtcp.slot = -1
                }
                for s in sockets where s.slot >= 0 { unregister(s) }
            case let .forget(parked):
                for (fd, slot) in parked where slot < parkedFDs.count && parkedFDs[slot] == fd {
                    parkedFDs[slot] = -1
                    freeSlots.append(slot)
                }
            case let .arm(job, decider, onSplice):
                guard !job.done else { continue }
                job.decider = decider
                job.onSplice = onSplice
                job.armed = true
                job.oldRTP.splice = job
                job.newRTP.splice = job
                let now = RelayThread.monotonicNanos()
                // Priming: the far party's audio goes to the new leg too from now on.
                job.startFork(now: now)
                if job.newRTP.firstPacketNanos != 0 { job.decider.newLegReady(at: now) }
                // `now` splices at the old leg's next packet boundary (see SpliceDecider).
            case let .disarm(job, done):
                let spliced = job.done
                job.done = true
                job.armed = false
                job.onSplice = nil
                job.detach()
                if !spliced { job.endFork() }   // spliced: the commit that follows ends it
                done(spliced)
            case let .endFork(job):
                job.endFork()
            case let .barrier(done):
                done()
            }
        }
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
