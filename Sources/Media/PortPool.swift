import CBatonSys
import Synchronization

/// Hands out even/odd UDP port pairs (RTP, RTCP) from a range, binding both sockets.
///
/// ```swift
/// let pool = PortPool(address: "127.0.0.1", range: 20000...29999)
/// let pair = try pool.allocate()   // pair.rtpPort is even, rtcpPort = rtpPort + 1
/// pool.release(pair)
/// ```
/// Thread-safe. Ports come back only through ``release(_:)`` after the sockets are closed.
public final class PortPool: Sendable {
    /// A bound RTP/RTCP socket pair.
    public struct Pair: Sendable, Hashable {
        public let rtpPort: UInt16
        public var rtcpPort: UInt16 { rtpPort + 1 }
        let rtpFD: Int32
        let rtcpFD: Int32
    }

    public let address: String
    public let range: ClosedRange<Int>
    /// Free even ports in a FIFO ring: O(1) per allocation, and a released port goes to the
    /// back, so it is reused as late as possible (stray packets of an ended call do not reach
    /// the next one; rtpengine does the same).
    private struct State {
        var ring: [UInt16]
        var head = 0
        var count: Int
        var inUse = 0
        mutating func pop() -> UInt16 {
            let p = ring[head]
            head = (head + 1) % ring.count
            count -= 1
            return p
        }
        mutating func push(_ p: UInt16) {
            ring[(head + count) % ring.count] = p
            count += 1
        }
    }
    private let state: Mutex<State>

    public init(address: String, range: ClosedRange<Int>) {
        self.address = address
        let lo = range.lowerBound + (range.lowerBound & 1)
        self.range = lo...max(lo + 1, range.upperBound)
        let ports = stride(from: lo, through: self.range.upperBound - 1, by: 2).map { UInt16($0) }
        self.state = Mutex(State(ring: ports, count: ports.count))
    }

    /// Number of port pairs currently allocated.
    public var pairsInUse: Int { state.withLock { $0.inUse } }

    /// Allocates the next free pair, skipping ports another process holds.
    public func allocate() throws(MediaError) -> Pair {
        try state.withLock { (s: inout State) throws(MediaError) -> Pair in
            var tries = s.count
            while tries > 0 {
                tries -= 1
                let port = s.pop()
                let rtp = baton_udp_bind(address, port)
                if rtp == -EINVAL { s.push(port); throw .badAddress(address) }
                if rtp < 0 { s.push(port); continue }
                let rtcp = baton_udp_bind(address, port + 1)
                if rtcp < 0 { close_(rtp); s.push(port); continue }
                s.inUse += 1
                return Pair(rtpPort: port, rtpFD: rtp, rtcpFD: rtcp)
            }
            throw .portRangeExhausted(min: range.lowerBound, max: range.upperBound)
        }
    }

    /// Closes the pair's sockets and returns its ports to the pool.
    func release(_ pair: Pair) {
        close_(pair.rtpFD)
        close_(pair.rtcpFD)
        state.withLock { s in
            s.inUse -= 1
            s.push(pair.rtpPort)
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
