import CBatonSys
import Synchronization

/// Hands out even/odd UDP port pairs (RTP, RTCP) from a range, binding both sockets.
///
/// ```swift
/// let pool = PortPool(address: "127.0.0.1", range: 20000...29999)
/// let pair = try pool.allocate()   // pair.rtpPort is even, rtcpPort = rtpPort + 1
/// pool.release(pair)
/// ```
/// Thread-safe. Ports come back only through ``release(_:)`` once the relay has let go.
///
/// With `reuseSockets` (the relay's default), a released pair keeps its two sockets bound
/// ("parked") and the next call that draws the port gets them back after a drain of whatever
/// queued meanwhile: a call then costs no `socket()`/`bind()`/`close()` (four of each per
/// call, ~15 % of an ng offer+answer's CPU, docs/performance.md). Reuse follows the same FIFO
/// order, so a port is still reused as late as possible; a parked pair holds two descriptors
/// until the pool goes away.
///
/// A pair the relay parks stays registered with the relay thread that used it (`owner`, and
/// the two table slots): that thread discards what strays in, and when the pair is drawn again
/// for the same thread it is adopted as it is, without `epoll_ctl` (two per socket per call
/// otherwise, ~5 % of the CPU of a churned ng call). A pair parked by anyone else (nobody
/// drains it) gets its receive buffer shrunk to the kernel's minimum instead.
public final class PortPool: Sendable {
    /// A bound RTP/RTCP socket pair.
    public struct Pair: Sendable, Hashable {
        public let rtpPort: UInt16
        public var rtcpPort: UInt16 { rtpPort + 1 }
        let rtpFD: Int32
        let rtcpFD: Int32
        /// The relay thread whose epoll set still holds both sockets (-1: none), and their
        /// slots in its socket table.
        let owner: Int
        let rtpSlot: Int
        let rtcpSlot: Int

        init(rtpPort: UInt16, rtpFD: Int32, rtcpFD: Int32, owner: Int = -1, rtpSlot: Int = -1, rtcpSlot: Int = -1) {
            self.rtpPort = rtpPort
            self.rtpFD = rtpFD
            self.rtcpFD = rtcpFD
            self.owner = owner
            self.rtpSlot = rtpSlot
            self.rtcpSlot = rtcpSlot
        }
    }

    /// A free port pair, with its sockets (and their relay-thread registration) when they
    /// were kept bound.
    private struct Entry {
        var port: UInt16
        var parked: Pair? = nil
    }

    public let address: String
    public let range: ClosedRange<Int>
    public let reuseSockets: Bool
    /// Most port pairs open at once, in use and parked together (two descriptors each). The
    /// rest of the process needs descriptors too: libdispatch, for one, aborts the process
    /// when it cannot open /proc, so the relay must never take the last ones.
    public let pairBudget: Int
    /// Descriptors left to everything but the relay's sockets when the budget is derived
    /// from RLIMIT_NOFILE.
    public static let reservedDescriptors = 1024
    /// Free even ports in a FIFO ring: O(1) per allocation, and a released port goes to the
    /// back, so it is reused as late as possible (stray packets of an ended call do not reach
    /// the next one; rtpengine does the same).
    private struct State {
        var ring: [Entry]
        var head = 0
        var count: Int
        var inUse = 0
        var parked = 0
        var straysDropped = 0
        var unparkFailures = 0
        mutating func pop() -> Entry {
            let e = ring[head]
            head = (head + 1) % ring.count
            count -= 1
            return e
        }
        mutating func push(_ e: Entry) {
            ring[(head + count) % ring.count] = e
            count += 1
        }
        /// The parked pair released longest ago (the head's, or, out of descriptors, one taken
        /// out of turn: it swaps places with the head), else `error`. A linear scan only when
        /// the head is not parked, i.e. on the exhaustion path.
        mutating func oldestParked(or error: MediaError) throws(MediaError) -> Pair {
            for k in 0..<count {
                let at = (head + k) % ring.count
                guard ring[at].parked != nil else { continue }
                ring.swapAt(at, head)
                return unpark(pop().parked!)
            }
            throw error
        }

        /// A parked pair handed out again: in use from now on, with what queued meanwhile
        /// dropped.
        mutating func unpark(_ p: Pair) -> Pair {
            parked -= 1
            inUse += 1
            if p.owner >= 0 {
                // Its relay thread kept draining it; what came since goes now.
                straysDropped += Int(baton_udp_drain(p.rtpFD) + baton_udp_drain(p.rtcpFD))
            } else {
                for fd in [p.rtpFD, p.rtcpFD] {
                    // Unparking restores the receive buffer; if that fails the port still
                    // works with the kernel's minimum buffer: counted, not fatal.
                    do { straysDropped += Int(try SystemCall.check(baton_udp_unpark(fd), "setsockopt(SO_RCVBUF)")) } catch {
                        unparkFailures += 1
                    }
                }
            }
            return p
        }
    }
    private let state: Mutex<State>

    /// `pairBudget` nil: half of (the soft RLIMIT_NOFILE less ``reservedDescriptors``).
    public init(address: String, range: ClosedRange<Int>, reuseSockets: Bool = false, pairBudget: Int? = nil) {
        self.address = address
        self.reuseSockets = reuseSockets
        self.pairBudget = max(1, pairBudget ?? PortPool.defaultPairBudget())
        let lo = range.lowerBound + (range.lowerBound & 1)
        self.range = lo...max(lo + 1, range.upperBound)
        let ports = stride(from: lo, through: self.range.upperBound - 1, by: 2).map { Entry(port: UInt16($0)) }
        self.state = Mutex(State(ring: ports, count: ports.count))
    }

    deinit {
        state.withLock { s in
            for e in s.ring {
                guard let p = e.parked else { continue }
                close_(p.rtpFD)
                close_(p.rtcpFD)
            }
        }
    }

    static func defaultPairBudget() -> Int {
        var lim = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim) == 0, lim.rlim_cur < rlim_t(Int.max / 4) else { return Int.max / 4 }
        return max(16, (Int(lim.rlim_cur) - reservedDescriptors) / 2)
    }

    /// Number of port pairs currently allocated.
    public var pairsInUse: Int { state.withLock { $0.inUse } }
    /// Free pairs whose sockets are kept bound for reuse.
    public var pairsParked: Int { state.withLock { $0.parked } }
    /// Datagrams that reached a released port and were discarded before it was handed out again.
    public var straysDropped: Int { state.withLock { $0.straysDropped } }
    /// Reused ports whose receive buffer could not be restored (they run on the kernel's minimum).
    public var unparkFailures: Int { state.withLock { $0.unparkFailures } }

    /// Allocates the next free pair, skipping ports another process holds. Running out of
    /// descriptors or kernel memory is an error of its own, not a reason to try every port.
    public func allocate() throws(MediaError) -> Pair {
        try state.withLock { (s: inout State) throws(MediaError) -> Pair in
            var tries = s.count
            while tries > 0 {
                tries -= 1
                if s.ring[s.head].parked != nil { return try s.oldestParked(or: .descriptorBudget(pairs: s.inUse + s.parked)) }
                // Binding would pass the budget: take a parked pair out of turn instead.
                if s.inUse + s.parked >= pairBudget { return try s.oldestParked(or: .descriptorBudget(pairs: s.inUse + s.parked)) }
                let e = s.pop()
                let rtp = baton_udp_bind(address, e.port)
                if rtp < 0 {
                    s.push(e)
                    if rtp == -EINVAL { throw .badAddress(address) }
                    if PortPool.isExhaustion(-rtp) { return try s.oldestParked(or: .system(call: "socket", errno: -rtp)) }
                    continue
                }
                let rtcp = baton_udp_bind(address, e.port + 1)
                if rtcp < 0 {
                    close_(rtp)
                    s.push(e)
                    if PortPool.isExhaustion(-rtcp) { return try s.oldestParked(or: .system(call: "socket", errno: -rtcp)) }
                    continue
                }
                s.inUse += 1
                return Pair(rtpPort: e.port, rtpFD: rtp, rtcpFD: rtcp)
            }
            throw .portRangeExhausted(min: range.lowerBound, max: range.upperBound)
        }
    }

    /// Allocates the pair of one given (even) port: a call resumed after a restart binds the
    /// ports its parties were told before. Fails when the port is outside the range, already
    /// handed out, or bound by another process. O(free ports): for restarts, not per call.
    public func allocate(port: Int) throws(MediaError) -> Pair {
        try state.withLock { (s: inout State) throws(MediaError) -> Pair in
            guard range.contains(port), port & 1 == 0,
                  let k = (0..<s.count).first(where: { s.ring[(s.head + $0) % s.ring.count].port == UInt16(port) }) else {
                throw .portUnavailable(port)
            }
            s.ring.swapAt((s.head + k) % s.ring.count, s.head)
            let e = s.pop()
            if let p = e.parked { return s.unpark(p) }
            let rtp = baton_udp_bind(address, e.port)
            guard rtp >= 0 else { s.push(e); throw .system(call: "bind(\(port))", errno: -rtp) }
            let rtcp = baton_udp_bind(address, e.port + 1)
            guard rtcp >= 0 else { close_(rtp); s.push(e); throw .system(call: "bind(\(port + 1))", errno: -rtcp) }
            s.inUse += 1
            return Pair(rtpPort: e.port, rtpFD: rtp, rtcpFD: rtcp)
        }
    }

    /// The process or the system is out of descriptors or memory: every other port would fail
    /// the same way.
    static func isExhaustion(_ errno: Int32) -> Bool {
        errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM
    }

    /// Returns the pair's ports to the pool: parked with their sockets (``reuseSockets``),
    /// or closed. `owner` >= 0: relay thread `owner` keeps both sockets registered in the
    /// given table slots and drains them (only with ``reuseSockets``).
    func release(_ pair: Pair) { release(pair, owner: -1, rtpSlot: -1, rtcpSlot: -1) }

    func release(_ pair: Pair, owner: Int, rtpSlot: Int, rtcpSlot: Int) {
        if reuseSockets {
            if owner < 0 {
                baton_udp_park(pair.rtpFD)
                baton_udp_park(pair.rtcpFD)
            }
        } else {
            close_(pair.rtpFD)
            close_(pair.rtcpFD)
        }
        state.withLock { s in
            s.inUse -= 1
            if reuseSockets {
                s.parked += 1
                s.push(Entry(port: pair.rtpPort, parked: Pair(rtpPort: pair.rtpPort, rtpFD: pair.rtpFD, rtcpFD: pair.rtcpFD,
                                                              owner: owner, rtpSlot: rtpSlot, rtcpSlot: rtcpSlot)))
            } else {
                s.push(Entry(port: pair.rtpPort))
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func close_(_ fd: Int32) { _ = Glibc.close(fd) }
#elseif canImport(Darwin)
import Darwin
@inline(__always) func close_(_ fd: Int32) { _ = Darwin.close(fd) }
#endif
