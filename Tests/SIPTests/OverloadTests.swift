import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import SIP

@Suite struct OverloadGuardTests {
    @Test func entersAtThePercentAndLeavesUnderAFifthOfIt() {
        var g = OverloadGuard(enterPercent: 50)
        // 40 %, 50 %, then draining: 20 %, 10 % (a fifth: not yet under it), 9.9 %, and 40 % again
        // (of an 8 MB queue, as the kernel accounts a 4 MiB buffer).
        let states = [400, 500, 200, 100, 99, 400].map { g.update(queued: $0 * 8192, capacity: 1000 * 8192) }
        #expect(states == [false, true, true, true, false, false])
        // A small buffer (capped by rmem_max): 90 % of 208 KiB is a short burst, not overload.
        var small = OverloadGuard(enterPercent: 50)
        let burst = small.update(queued: 190_000, capacity: 212_992)
        #expect(!burst)
    }

    @Test func zeroPercentOrNoCapacityNeverRefuses() {
        var off = OverloadGuard(enterPercent: 0)
        let a = off.update(queued: 1000, capacity: 1000)
        var g = OverloadGuard(enterPercent: 50)
        let b = g.update(queued: 10, capacity: 0)
        #expect(!a && !b)
    }
}

@Suite struct UDPQueueTests {
    /// `udpQueue()` reads the kernel's accounting of the SIP socket: empty when idle, and
    /// what piles up while the loop is busy (the signal the overload guard acts on).
    @Test func reportsWhatWaitsWhileTheLoopIsBusy() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var c = SIPTransport.Configuration()
        c.port = 0
        c.tcp = false
        c.udpReceiveBuffer = 1 << 20
        let transport = SIPTransport(configuration: c, loop: group.next())
        try await transport.start()
        let port = try #require(transport.boundUDPPort)
        let idle = try await group.next().submit { transport.udpQueue() }.get()
        #expect(idle?.queued == 0)
        #expect((idle?.capacity ?? 0) >= 1 << 20)
        // Keep the loop busy, send meanwhile, and look at the queue before the loop reads it.
        let busy = group.next().submit { () -> (queued: Int, capacity: Int)? in
            usleep(300_000)
            return transport.udpQueue()
        }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var to = sockaddr_in()
        to.sin_family = sa_family_t(AF_INET)
        to.sin_port = UInt16(port).bigEndian
        to.sin_addr.s_addr = inet_addr("127.0.0.1")
        let junk = [UInt8](repeating: 0x41, count: 500)
        for _ in 0..<20 {
            _ = withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, junk, junk.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            } }
        }
        let queued = try await busy.get()
        #expect((queued?.queued ?? 0) >= 20 * 500)
        #expect((queued?.queued ?? 0) < queued?.capacity ?? 0)
        await transport.stop()
        try await group.shutdownGracefully()
    }
}
