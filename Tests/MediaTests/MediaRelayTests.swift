import Synchronization
import Foundation
import Testing
import TestSupport
@testable import Media

/// A test party: a loopback UDP socket.
typealias Party = UDPSocket

extension UDPSocket {
    func receive() -> [UInt8]? { receiveBytes() }
}

@Suite(.serialized) struct MediaRelayTests {
    func makeRelay(_ lo: Int) throws -> MediaRelay { try startedRelay(ports: lo...lo + 99) }

    @Test func relaysBothDirectionsAndLatches() throws {
        let relay = try makeRelay(TestPorts.base(100))
        defer { relay.shutdown() }
        let stream = try relay.allocate()
        let caller = try Party(), callee = try Party(), intruder = try Party()
        try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: caller.port)
        try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: callee.port)
        #expect(relay.barrierBlocking(), "the relay threads ran the commands")
        for i in 0..<50 {
            caller.send([0x80, 0, 0, UInt8(i)] + [UInt8](repeating: 1, count: 16), to: stream.port(.a))
            #expect(callee.receive()?[3] == UInt8(i))
            callee.send([0x80, 0, 0, UInt8(i)] + [UInt8](repeating: 2, count: 16), to: stream.port(.b))
            #expect(caller.receive()?[3] == UInt8(i))
        }
        // A third party hitting the latched port is dropped, not forwarded.
        intruder.send([0x80, 0, 0, 99], to: stream.port(.a))
        #expect(callee.receive() == nil)
        #expect(waitUntil { stream.rtpCounters(.a).droppedSource == 1 })
        #expect(stream.rtpCounters(.a).rxPackets == 50)
        #expect(stream.rtpCounters(.b).txPackets == 50)
        #expect(stream.rtpCounters(.b).rxPackets == 50)
        #expect(stream.rtpCounters(.a).txPackets == 50)
        #expect(stream.latchedAddress(.a) == "127.0.0.1:\(caller.port)")
        #expect(relay.totalsSnapshot.relayedPackets == 100)
    }

    /// A listened call: the tap gets each audio payload the caller sends (PCMU, no codec
    /// negotiated), not telephone events or the other direction, and nothing once removed.
    @Test func aTapCopiesTheCallersAudioPayloads() throws {
        let relay = try makeRelay(TestPorts.base(100))
        defer { relay.shutdown() }
        let stream = try relay.allocate()
        let caller = try Party(), callee = try Party()
        try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: caller.port)
        try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: callee.port)
        let tap = AudioTap()
        relay.tap(stream, side: .a, tap)
        #expect(relay.barrierBlocking())
        for i in 0..<20 {
            caller.send(LegMediaRelayTests.rtp(pt: 0, seq: UInt16(i), ts: UInt32(i * 160), payload: [UInt8](repeating: UInt8(i), count: 160)), to: stream.port(.a))
            #expect(callee.receive() != nil)
            callee.send(LegMediaRelayTests.rtp(pt: 0, seq: UInt16(i), ts: UInt32(i * 160), payload: [UInt8](repeating: 0xEE, count: 160)), to: stream.port(.b))
            #expect(caller.receive() != nil)
        }
        // An RFC 4733 packet (PT 101) is not audio.
        caller.send(LegMediaRelayTests.rtp(pt: 101, seq: 20, ts: 3200, payload: [0, 0x8A, 0, 160]), to: stream.port(.a))
        _ = callee.receive()
        var got: [[UInt8]] = []
        tap.drain { codec, payload in
            #expect(codec == .pcmu)
            got.append(Array(payload))
        }
        #expect(got.count == 20)
        #expect(got.enumerated().allSatisfy { i, p in p == [UInt8](repeating: UInt8(i), count: 160) }, "payloads in order, the caller's only")
        relay.tap(stream, side: .a, nil)
        #expect(relay.barrierBlocking())
        caller.send(LegMediaRelayTests.rtp(pt: 0, seq: 21, ts: 3360, payload: [UInt8](repeating: 7, count: 160)), to: stream.port(.a))
        _ = callee.receive()
        var after = 0
        tap.drain { _, _ in after += 1 }
        #expect(after == 0)
    }

    /// The ring never blocks the relay: when the listener falls behind, frames are dropped
    /// and counted; what was taken drains whole, across the ring's wrap.
    @Test func aFullTapDropsAndCountsFrames() {
        let tap = AudioTap()
        let payload = [UInt8](repeating: 9, count: 1000)
        var put = 0
        for _ in 0..<40 { payload.withUnsafeBufferPointer { tap.put(2, $0.baseAddress!, count: 1000) }; put += 1 }
        let taken = tap.frames.load(ordering: .relaxed)
        #expect(taken == AudioTap.capacity / 1003)
        #expect(tap.dropped.load(ordering: .relaxed) == put - taken)
        var n = 0
        tap.drain { codec, p in n += 1; #expect(codec == .opus && p.count == 1000 && p.allSatisfy { $0 == 9 }) }
        #expect(n == taken)
        // Wrapped: a frame that straddles the end of the ring comes back whole.
        for k in 0..<40 { [UInt8](repeating: UInt8(k), count: 1000).withUnsafeBufferPointer { tap.put(0, $0.baseAddress!, count: 1000) }
            tap.drain { _, p in #expect(p.count == 1000 && p.allSatisfy { $0 == UInt8(k) }) } }
    }

    @Test func latchesToRealSourceWhenSDPDiffers() throws {
        let relay = try makeRelay(TestPorts.base(100))
        defer { relay.shutdown() }
        let stream = try relay.allocate()
        let caller = try Party(), callee = try Party()
        // The caller advertised a port it does not send from (NAT-like): latching learns the real one.
        try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: 9)
        try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: callee.port)
        #expect(relay.barrierBlocking(), "the relay threads ran the commands")
        caller.send([0x80, 0, 0, 1], to: stream.port(.a))
        #expect(callee.receive() == [0x80, 0, 0, 1])
        callee.send([0x80, 0, 0, 2], to: stream.port(.b))
        #expect(caller.receive() == [0x80, 0, 0, 2])
    }

    /// Strict source (the default): before latching, only the advertised address may latch;
    /// a stranger that sends first (another host, here 127.0.0.2) is dropped and counted, and
    /// the party's own packets still latch afterwards. `.any` latches on the stranger.
    @Test func onlyTheAdvertisedAddressMayLatch() throws {
        let relay = try makeRelay(TestPorts.base(100))
        defer { relay.shutdown() }
        let stream = try relay.allocate()
        let caller = try Party(), callee = try Party()
        let stranger = try Party(address: "127.0.0.2")
        try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: caller.port)
        try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: callee.port)
        #expect(relay.barrierBlocking(), "the relay threads ran the commands")
        stranger.send([0x80, 0, 0, 7], to: stream.port(.a))
        #expect(callee.receive() == nil)
        #expect(waitUntil { stream.rtpCounters(.a).droppedSource == 1 })
        #expect(stream.latchedAddress(.a) == nil)
        #expect(stream.refusedSource(.a)?.hasPrefix("127.0.0.2:") == true)
        // The stranger receives nothing either: the callee's audio still goes to the SDP address.
        callee.send([0x80, 0, 0, 8], to: stream.port(.b))
        #expect(caller.receive() == [0x80, 0, 0, 8])
        #expect(stranger.receive() == nil)
        // The advertised host latches, from another port than it advertised (symmetric RTP).
        let callerOtherPort = try Party()
        callerOtherPort.send([0x80, 0, 0, 9], to: stream.port(.a))
        #expect(callee.receive() == [0x80, 0, 0, 9])
        #expect(stream.latchedAddress(.a) == "127.0.0.1:\(callerOtherPort.port)")

        // `.any`: a side re-told (re-INVITE) with rtpengine's learning latches on whoever sends first.
        let other = try relay.allocate()
        try relay.setRemote(other, side: .a, ip: "127.0.0.1", port: caller.port, source: .any)
        try relay.setRemote(other, side: .b, ip: "127.0.0.1", port: callee.port)
        #expect(relay.barrierBlocking())
        stranger.send([0x80, 0, 0, 10], to: other.port(.a))
        #expect(callee.receive() == [0x80, 0, 0, 10])
        #expect(other.latchedAddress(.a)?.hasPrefix("127.0.0.2:") == true)
    }

    /// `.address(ip)`: a NATed phone's SDP names a private address; its media may only come
    /// from its signaling source (here 127.0.0.2), not from the SDP's address nor a third one.
    @Test func theSignalingAddressMayLatchWhenTheSDPsAddressIsPrivate() throws {
        let relay = try makeRelay(TestPorts.base(100))
        defer { relay.shutdown() }
        let stream = try relay.allocate()
        let phone = try Party(address: "127.0.0.2"), callee = try Party(), third = try Party(address: "127.0.0.3")
        try relay.setRemote(stream, side: .a, ip: "192.168.1.20", port: 4000, source: .address("127.0.0.2"))
        try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: callee.port)
        #expect(relay.barrierBlocking())
        third.send([0x80, 0, 0, 1], to: stream.port(.a))
        #expect(callee.receive() == nil)
        #expect(waitUntil { stream.rtpCounters(.a).droppedSource == 1 })
        phone.send([0x80, 0, 0, 2], to: stream.port(.a))
        #expect(callee.receive() == [0x80, 0, 0, 2])
        callee.send([0x80, 0, 0, 3], to: stream.port(.b))
        #expect(phone.receive() == [0x80, 0, 0, 3], "media goes back to the latched (public) address")
        // An address that is no IP address is refused at once.
        #expect(throws: MediaError.self) { try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: 4000, source: .address("phone.example")) }
    }

    @Test func rtcpIsRelayedOnTheOddPort() throws {
        let relay = try makeRelay(TestPorts.base(100))
        defer { relay.shutdown() }
        let stream = try relay.allocate()
        let caller = try Party(), callee = try Party()
        try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: callee.port - 1, rtcpPort: callee.port)
        #expect(relay.barrierBlocking(), "the relay threads ran the commands")
        caller.send([0x81, 200, 0, 1], to: stream.endpoint(.a).rtcpPort)
        #expect(callee.receive() == [0x81, 200, 0, 1])
        #expect(stream.endpoint(.a).rtcpPort == stream.port(.a) + 1)
        #expect(stream.port(.a) % 2 == 0)
    }

    /// Commands queued while the calling thread holds wake-ups reach the relay thread only
    /// at the release (the ng server brackets a read burst so): a stream set up under the hold
    /// relays nothing before the release, and everything after it.
    @Test func heldWakeupsApplyAtRelease() throws {
        let relay = try makeRelay(TestPorts.base(100))
        defer { relay.shutdown() }
        let caller = try Party(), callee = try Party()
        relay.holdWakeups()
        relay.holdWakeups()   // nests
        let stream = try relay.allocate()
        try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: caller.port)
        try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: callee.port)
        caller.send([0x80, 0, 0, 1], to: stream.port(.a))
        #expect(callee.receive() == nil)   // 300 ms: the sockets are not even polled yet
        relay.releaseWakeups()
        #expect(callee.receive() == nil)   // still held by the outer hold
        #expect(stream.rtpCounters(.a).rxPackets == 0)
        relay.releaseWakeups()
        // The datagram waited in the socket's buffer; the sockets join the loop now.
        #expect(callee.receive() == [0x80, 0, 0, 1])
        callee.send([0x80, 0, 0, 2], to: stream.port(.b))
        #expect(caller.receive() == [0x80, 0, 0, 2])
        // Without a hold, a command wakes the thread at once.
        let second = try relay.allocate()
        try relay.setRemote(second, side: .b, ip: "127.0.0.1", port: callee.port)
        caller.send([0x80, 0, 0, 3], to: second.port(.a))
        #expect(callee.receive() == [0x80, 0, 0, 3])
    }

    @Test func portsReturnToThePool() throws {
        let relay = try makeRelay(TestPorts.base(100))
        defer { relay.shutdown() }
        let s1 = try relay.allocate()
        let s2 = try relay.allocate()
        #expect(relay.pool.pairsInUse == 4)
        relay.release(s1)
        relay.release(s2)
        #expect(waitUntil { relay.pool.pairsInUse == 0 })
        #expect(relay.activeStreams == 0)
    }

    /// `release(_:released:)` calls back once the relay thread has let go: the counters read
    /// then are final (what arrives afterwards is not counted), so both sides agree.
    @Test func releaseCallsBackWhenTheCountersAreFinal() throws {
        let relay = try startedRelay(ports: TestPorts.range(10), threads: 1)
        defer { relay.shutdown() }
        let stream = try relay.allocate()
        let a = try UDPSocket(receiveTimeout: .milliseconds(20)), b = try UDPSocket(receiveTimeout: .milliseconds(20))
        try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: a.port)
        try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: b.port)
        #expect(relay.barrierBlocking(), "the relay threads ran the commands")
        for i in 0..<50 { a.send([0x80, 0, 0, UInt8(i), 0, 0, 0, 0, 0, 0, 0, 1] + [UInt8](repeating: 0xFF, count: 160), to: stream.port(.a)) }
        let done = Mutex(false)
        relay.release(stream) { done.withLock { $0 = true } }
        #expect(waitUntil { done.withLock { $0 } })
        let inA = stream.rtpCounters(.a).rxPackets, outB = stream.rtpCounters(.b).txPackets
        #expect(inA == outB, "in \(inA), out \(outB)")
        for i in 0..<10 { a.send([0x80, 0, 1, UInt8(i), 0, 0, 0, 0, 0, 0, 0, 1] + [UInt8](repeating: 0xFF, count: 160), to: stream.port(.a)) }
        usleep(30_000)
        #expect(stream.rtpCounters(.a).rxPackets == inA, "released: nothing more is counted")
        // Released twice: the callback comes at once.
        let again = Mutex(false)
        relay.release(stream) { again.withLock { $0 = true } }
        #expect(again.withLock { $0 })
    }

    @Test func exhaustedRangeThrows() throws {
        let relay = try startedRelay(ports: TestPorts.range(4))   // two pairs: one stream
        defer { relay.shutdown() }
        _ = try relay.allocate()
        #expect(throws: MediaError.self) { _ = try relay.allocate() }
    }
}

@Suite struct PortPoolTests {
    @Test func manyAllocationsGetValidDistinctPairs() throws {
        let pool = PortPool(address: "127.0.0.1", range: TestPorts.range(200))
        var pairs: [PortPool.Pair] = []
        for _ in 0..<40 { pairs.append(try pool.allocate()) }   // fds well past 22: no fd is mistaken for an errno
        #expect(Set(pairs.map(\.rtpPort)).count == 40)
        #expect(pairs.allSatisfy { $0.rtpPort % 2 == 0 })
        pairs.forEach(pool.release)
        #expect(pool.pairsInUse == 0)
    }

    /// media.reuse_sockets: a released pair stays bound with a minimal receive buffer, comes
    /// back in FIFO turn with the same sockets, drained of what a stray sender queued, with
    /// its receive buffer restored.
    @Test func parkedSocketsAreReusedInTurnAndDrained() throws {
        let pool = PortPool(address: "127.0.0.1", range: TestPorts.range(8), reuseSockets: true)   // 4 pairs
        let first = try pool.allocate()
        pool.release(first)
        #expect(pool.pairsParked == 1 && pool.pairsInUse == 0)
        #expect(receiveBuffer(first.rtpFD) < 16 * 1024)
        // Parked means still bound: nobody else gets the port meanwhile.
        let other = PortPool(address: "127.0.0.1", range: Int(first.rtpPort)...Int(first.rtcpPort))
        #expect(throws: MediaError.self) { _ = try other.allocate() }
        let stray = try Party()
        for i in 0..<3 { stray.send([0x80, 0, 0, UInt8(i)], to: Int(first.rtpPort)) }
        usleep(10_000)
        let others = try (0..<3).map { _ in try pool.allocate() }
        #expect(!others.contains { $0.rtpPort == first.rtpPort })
        let again = try pool.allocate()
        #expect(again.rtpPort == first.rtpPort && again.rtpFD == first.rtpFD && again.rtcpFD == first.rtcpFD)
        #expect(pool.pairsParked == 0 && pool.pairsInUse == 4)
        var byte: UInt8 = 0
        #expect(recv(again.rtpFD, &byte, 1, Int32(MSG_DONTWAIT)) < 0)   // drained
        #expect(receiveBuffer(again.rtpFD) == receiveBuffer(others[0].rtpFD))
        ([again] + others).forEach(pool.release)
        #expect(pool.pairsParked == 4)
    }

    /// The relay never takes the process's last descriptors: past the budget an allocation
    /// reuses a parked pair out of turn, or fails with its own error.
    @Test func descriptorBudgetBoundsOpenPairs() throws {
        let pool = PortPool(address: "127.0.0.1", range: TestPorts.range(20), reuseSockets: true, pairBudget: 2)   // 10 pairs
        let a = try pool.allocate(), b = try pool.allocate()
        #expect(throws: MediaError.descriptorBudget(pairs: 2)) { _ = try pool.allocate() }
        pool.release(a)
        let c = try pool.allocate()   // FIFO would draw a never-used port; the budget says reuse
        #expect(c.rtpPort == a.rtpPort && c.rtpFD == a.rtpFD)
        #expect(pool.pairsInUse == 2 && pool.pairsParked == 0)
        [b, c].forEach(pool.release)

        let plain = PortPool(address: "127.0.0.1", range: TestPorts.range(10), pairBudget: 1)
        let d = try plain.allocate()
        #expect(throws: MediaError.descriptorBudget(pairs: 1)) { _ = try plain.allocate() }
        plain.release(d)
        plain.release(try plain.allocate())
    }

    @Test func withoutReuseReleasedSocketsAreClosed() throws {
        let pool = PortPool(address: "127.0.0.1", range: TestPorts.range(4))
        let pair = try pool.allocate()
        pool.release(pair)
        #expect(pool.pairsParked == 0)
        // The port is free again: another pool can bind it.
        let other = PortPool(address: "127.0.0.1", range: Int(pair.rtpPort)...Int(pair.rtcpPort))
        other.release(try other.allocate())
    }

    /// Sends `n` RTP packets each way through `stream` between two fresh parties; all must
    /// arrive.
    private func relaysBothWays(_ relay: MediaRelay, _ stream: AnchoredStream, packets n: Int = 5) throws {
        let caller = try Party(), callee = try Party()
        try relay.setRemote(stream, side: .a, ip: "127.0.0.1", port: caller.port)
        try relay.setRemote(stream, side: .b, ip: "127.0.0.1", port: callee.port)
        #expect(relay.barrierBlocking(), "the relay threads ran the commands")
        for i in 0..<n {
            caller.send([0x80, 0, 0, UInt8(i)] + [UInt8](repeating: 1, count: 16), to: stream.port(.a))
            #expect(callee.receive()?[3] == UInt8(i))
            callee.send([0x80, 0, 0, UInt8(i)] + [UInt8](repeating: 2, count: 16), to: stream.port(.b))
            #expect(caller.receive()?[3] == UInt8(i))
        }
    }

    /// Descriptors registered in relay thread `i`'s epoll set (`tfd:` lines of its fdinfo).
    private func registered(_ relay: MediaRelay, thread i: Int) -> Set<Int32> {
        let text = (try? String(contentsOfFile: "/proc/self/fdinfo/\(relay.epollDescriptor(thread: i))", encoding: .utf8)) ?? ""
        return Set(text.split(separator: "\n").compactMap { line -> Int32? in
            guard line.hasPrefix("tfd:") else { return nil }
            return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int32($0) }
        })
    }

    private func queued(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK)) >= 0
    }

    /// A parked pair stays registered with its relay thread, which discards what strays in;
    /// the next stream of that thread adopts it without registering it again.
    @Test func parkedPairsAreAdoptedByTheirThread() throws {
        let relay = try startedRelay(ports: TestPorts.range(4), threads: 1)   // two pairs: the second stream gets the first one's
        defer { relay.shutdown() }
        let first = try relay.allocate()
        try relaysBothWays(relay, first)
        #expect(waitUntil { relay.registrations == 4 })
        let fd = first.endpoint(.a).pair.rtpFD
        relay.release(first)
        #expect(waitUntil { relay.pool.pairsParked == 2 })
        #expect(receiveBuffer(fd) >= 64 * 1024)   // not shrunk: its thread drains it
        let stray = try Party()
        for i in 0..<3 { stray.send([0x80, 0, 0, UInt8(i)], to: first.port(.a)) }
        #expect(waitUntil { !self.queued(fd) })
        #expect(waitUntil { relay.totalsSnapshot.droppedParked == 3 })
        let second = try relay.allocate()
        #expect(Set([second.port(.a), second.port(.b)]) == Set([first.port(.a), first.port(.b)]))
        try relaysBothWays(relay, second)
        #expect(relay.registrations == 4)
        relay.release(second)
        #expect(waitUntil { relay.pool.pairsParked == 2 })
    }

    /// A pair parked on one relay thread and drawn for a stream of another leaves the first
    /// thread's epoll set: the second thread alone receives on it.
    @Test func parkedPairMovesToAnotherThread() throws {
        let relay = try startedRelay(ports: TestPorts.range(6), threads: 2)   // three pairs
        defer { relay.shutdown() }
        let s0 = try relay.allocate()   // pairs 1 and 2, on thread t
        let t = s0.thread, u = 1 - s0.thread
        #expect(waitUntil { relay.registrations == 4 })
        relay.release(s0)
        #expect(waitUntil { relay.pool.pairsParked == 2 })
        // Pair 3 (fresh) decides the thread: the next one, u; pair 1 is parked on t and moves.
        let s1 = try relay.allocate()
        #expect(s1.thread == u && s1.port(.b) == s0.port(.a))
        #expect(waitUntil { relay.registrations == 8 })
        let moved = s1.endpoint(.b).pair
        #expect(waitUntil {
            self.registered(relay, thread: t).isDisjoint(with: [moved.rtpFD, moved.rtcpFD])
                && self.registered(relay, thread: u).isSuperset(of: [moved.rtpFD, moved.rtcpFD])
        })
        // Thread t keeps the pair it still has parked (pair 2).
        let stillParked = s0.endpoint(.b).pair
        #expect(registered(relay, thread: t).isSuperset(of: [stillParked.rtpFD, stillParked.rtcpFD]))
        try relaysBothWays(relay, s1, packets: 20)
        relay.release(s1)
        #expect(waitUntil { relay.pool.pairsParked == 3 })
        // Pair 2 is parked on t (adopted there), pair 3 on u (moves to t).
        let s2 = try relay.allocate()
        #expect(s2.thread == t && s2.port(.a) == s0.port(.b))
        #expect(waitUntil { relay.registrations == 10 })
        try relaysBothWays(relay, s2, packets: 20)
        relay.release(s2)
        #expect(waitUntil { relay.pool.pairsParked == 3 })
    }

    private func receiveBuffer(_ fd: Int32) -> Int32 {
        var v: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len)
        return v
    }

    @Test func unparsableBindAddressIsReported() {
        let pool = PortPool(address: "not-an-ip", range: TestPorts.range(4))
        #expect(throws: MediaError.badAddress("not-an-ip")) { _ = try pool.allocate() }
    }
}
