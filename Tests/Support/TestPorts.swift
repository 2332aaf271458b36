import Foundation
import Synchronization

/// Port ranges for tests that need Baton's relay (or any server) on fixed, known ports.
///
/// Each call hands out a range no other caller in this test process gets, from a band that
/// no fixed-port test uses (17000-19999, below the kernel's ephemeral range 32768-60999, so
/// an outgoing socket of another program cannot hold one), with every port in it free for
/// UDP on this machine at the moment it is handed out (ports a stopped test left bound, or
/// another program holds, are skipped). Hand-picked ranges per suite overlapped once and
/// made a test flaky; this is the one place that picks.
///
/// ```swift
/// let relay = try startedRelay(ports: TestPorts.range(20))
/// ```
public enum TestPorts {
    public static let band = 17000...19999
    private static let cursor = Mutex(band.lowerBound)

    /// `count` consecutive free UDP ports, starting on an even port (RTP on even, RTCP on
    /// odd, RFC 3550), disjoint from every range handed out before in this process.
    public static func range(_ count: Int) -> ClosedRange<Int> {
        precondition(count > 0 && count < band.count / 4, "TestPorts.range: \(count) ports is more than the band can give")
        return cursor.withLock { next in
            var start = next + (next % 2)
            while true {
                if start + count - 1 > band.upperBound { start = band.lowerBound }   // wrap: earlier ranges are long released
                let candidate = start...(start + count - 1)
                if let busy = candidate.first(where: { !isFree($0) }) {
                    start = busy + 1 + ((busy + 1) % 2)
                    continue
                }
                next = candidate.upperBound + 1
                return candidate
            }
        }
    }

    /// The first port of a fresh range of `count`.
    public static func base(_ count: Int) -> Int { range(count).lowerBound }

    /// Whether a UDP socket can bind `port` on any address now.
    public static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = INADDR_ANY
        a.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
