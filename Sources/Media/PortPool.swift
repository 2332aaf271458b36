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
    private struct State {
        var next: Int
        var inUse: Set<UInt16> = []
    }
    private let state: Mutex<State>

    public init(address: String, range: ClosedRange<Int>) {
        self.address = address
        let lo = range.lowerBound + (range.lowerBound & 1)
        self.range = lo...max(lo + 1, range.upperBound)
        self.state = Mutex(State(next: lo))
    }

    /// Number of port pairs currently allocated.
    public var pairsInUse: Int { state.withLock { $0.inUse.count } }

    /// Allocates the next free pair, skipping ports another process holds.
    public func allocate() throws(MediaError) -> Pair {
        let total = (range.upperBound - range.lowerBound + 1) / 2
        return try state.withLock { (s: inout State) throws(MediaError) -> Pair in
            for _ in 0..<total {
                let port = s.next
                s.next += 2
                if s.next + 1 > range.upperBound { s.next = range.lowerBound }
                if s.inUse.contains(UInt16(port)) { continue }
                let rtp = baton_udp_bind(address, UInt16(port))
                if rtp == -EINVAL { throw .badAddress(address) }
                if rtp < 0 { continue }
                let rtcp = baton_udp_bind(address, UInt16(port + 1))
                if rtcp < 0 { close_(rtp); continue }
                s.inUse.insert(UInt16(port))
                return Pair(rtpPort: UInt16(port), rtpFD: rtp, rtcpFD: rtcp)
            }
            throw .portRangeExhausted(min: range.lowerBound, max: range.upperBound)
        }
    }

    /// Closes the pair's sockets and returns its ports to the pool.
    func release(_ pair: Pair) {
        close_(pair.rtpFD)
        close_(pair.rtcpFD)
        _ = state.withLock { $0.inUse.remove(pair.rtpPort) }
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func close_(_ fd: Int32) { _ = Glibc.close(fd) }
#elseif canImport(Darwin)
import Darwin
@inline(__always) func close_(_ fd: Int32) { _ = Darwin.close(fd) }
#endif
