import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import SIP

/// Inbound TCP connection limits, idle timeout, slow senders and size, against the real
/// transport on loopback with POSIX client sockets (several 127.0.0.x sources).
@Suite(.serialized) struct TCPHygieneTests {
    final class Client {
        let fd: Int32
        init(port: Int, from source: String = "127.0.0.1") throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            _ = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            var to = sockaddr_in()
            to.sin_family = sa_family_t(AF_INET)
            to.sin_port = UInt16(port).bigEndian
            to.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard rc == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
        }
        deinit { close(fd) }
        func send(_ s: String) { _ = s.utf8CString.withUnsafeBufferPointer { Glibc.send(fd, $0.baseAddress, $0.count - 1, Int32(MSG_NOSIGNAL)) } }
        /// True when the server closed the connection within `within` (EOF or reset).
        func closedByServer(within: Duration) -> Bool {
            var tv = timeval(tv_sec: Int(within.components.seconds), tv_usec: Int(within.components.attoseconds / 1_000_000_000_000))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = recv(fd, &buf, buf.count, 0)
                if n == 0 { return true }
                if n < 0 { return errno == ECONNRESET }
            }
        }
    }

    func transport(_ configure: (inout SIPTransport.Configuration) -> Void) async throws -> (SIPTransport, MultiThreadedEventLoopGroup, Int) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var c = SIPTransport.Configuration()
        c.port = 0
        c.udp = false
        configure(&c)
        let t = SIPTransport(configuration: c, loop: group.next())
        try await t.start()
        return (t, group, try #require(t.boundTCPPort))
    }

    @Test func perSourceAndTotalLimitsCloseTheExtraConnectionAtOnce() async throws {
        let (t, group, port) = try await transport { $0.maxConnectionsPerSource = 3; $0.maxConnections = 5 }
        let mine = try (0..<3).map { _ in try Client(port: port) }
        let fourth = try Client(port: port)
        #expect(fourth.closedByServer(within: .seconds(2)), "a 4th connection from one address is closed")
        for c in mine { #expect(!c.closedByServer(within: .milliseconds(100)), "the first three stay open") }
        // Other sources still get in, up to the total of 5.
        let b = try Client(port: port, from: "127.0.0.2"), c = try Client(port: port, from: "127.0.0.3")
        #expect(!b.closedByServer(within: .milliseconds(100)) && !c.closedByServer(within: .milliseconds(100)))
        let sixth = try Client(port: port, from: "127.0.0.4")
        #expect(sixth.closedByServer(within: .seconds(2)), "over the total")
        let open = try await group.next().submit { (t.inboundConnections(), t.inboundConnections(from: "127.0.0.1")) }.get()
        #expect(open.0 == 5 && open.1 == 3)
        await t.stop()
        try await group.shutdownGracefully()
    }

    @Test func slowSenderIsCutOffButKeepAlivesAreNot() async throws {
        let (t, group, port) = try await transport { $0.messageTimeoutSeconds = 1; $0.idleTimeoutSeconds = 2 }
        // Slowloris: a request begun, one byte every 200 ms, never finished.
        let slow = try Client(port: port)
        let start = ContinuousClock.now
        slow.send("OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: ")
        var cut = false
        for _ in 0..<20 {
            slow.send("x")
            if slow.closedByServer(within: .milliseconds(200)) { cut = true; break }
        }
        let took = ContinuousClock.now - start
        #expect(cut && took < .milliseconds(2500), "cut after \(took)")
        // CRLF keep-alives only: never a message begun, never idle past the timeout.
        let alive = try Client(port: port)
        for _ in 0..<8 {
            alive.send("\r\n\r\n")
            #expect(!alive.closedByServer(within: .milliseconds(400)))
        }
        await t.stop()
        try await group.shutdownGracefully()
    }

    @Test func silentConnectionIsClosedAfterTheIdleTimeout() async throws {
        let (t, group, port) = try await transport { $0.idleTimeoutSeconds = 1 }
        let silent = try Client(port: port)
        let start = ContinuousClock.now
        #expect(silent.closedByServer(within: .seconds(3)))
        #expect(ContinuousClock.now - start >= .milliseconds(900))
        await t.stop()
        try await group.shutdownGracefully()
    }

    @Test func oversizedFrameClosesTheConnection() async throws {
        let (t, group, port) = try await transport { $0.maxMessageSize = 2048 }
        let big = try Client(port: port)
        big.send("OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nX-Filler: " + String(repeating: "a", count: 4000))
        #expect(big.closedByServer(within: .seconds(2)))
        await t.stop()
        try await group.shutdownGracefully()
    }
}
