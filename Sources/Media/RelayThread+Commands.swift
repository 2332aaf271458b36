import CBatonSys
import Logging

// The relay thread's command side: signaling submits `Command`s (add, configure, remove,
// arm, ...), the thread applies them between batches, so the packet path never takes a
// lock on a socket. Port parking (sockets kept bound across calls) lives here too.
extension RelayThread {
    /// Takes `fd` out of this thread's epoll set. A failure means the set and the table
    /// disagree (a descriptor closed or moved twice): logged, never fatal.
    func epollDelete(_ fd: Int32) {
        do { try SystemCall.check(baton_epoll_del(epoll, fd), "epoll_ctl(DEL)") } catch {
            logger.error("relay socket was not in the epoll set", metadata: ["thread": "\(index)", "fd": "\(fd)", "error": "\(error)"])
        }
    }

    func unregister(_ s: RelaySocket) {
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

    func applyCommands() {
        // Swap the queue with this thread's empty spare: neither array is copied or
        // re-allocated (copying out and `removeAll(keepingCapacity:)` on the shared buffer
        // allocated a new one per wake-up and freed the old after the loop).
        commands.withLock { swap(&$0, &drained) }
        defer { drained.removeAll(keepingCapacity: true) }
        if !drained.isEmpty { configGeneration &+= 1 }
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
            case let .setRemote(s, addr, source):
                s.setExpected(addr, source: source)
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
            case let .tap(s, tap):
                s.tap = tap
            case let .latch(s, addr):
                s.restoreLatch(addr)
            case let .continueEgress(s, c):
                if let peer = s.peer { s.egress = RTPRewriter(continuing: c, source: peer.serial) }
            case let .inspect(sockets, done):
                done(sockets.map(\.saved))
            }
        }
    }

    /// The payload of an audio packet of the leg's codec (or static PCMU/PCMA where the leg's
    /// format is unknown) into `tap`; telephone events and comfort noise are not audio.
    @inline(__always)
    static func feed(_ tap: AudioTap, _ p: UnsafeMutablePointer<UInt8>, length: Int, format: MediaFormat?) {
        let pt = p[1] & 0x7F
        let code: UInt8
        if let format, format.payloadType == pt { code = AudioTap.code(format.codec) }
        else if format == nil, pt == 0 { code = 0 }
        else if format == nil, pt == 8 { code = 1 }
        else { return }
        guard let (offset, end) = RTPHeader.payload(p, length: length) else { return }
        tap.put(code, p + offset, count: end - offset)
    }
}
