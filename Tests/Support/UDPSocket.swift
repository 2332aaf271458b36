import Foundation

/// A plain UDP socket on 127.0.0.1 (an ephemeral port) for tests: a party sending RTP,
/// or a peer sending hand-made SIP.
public final class UDPSocket: @unchecked Sendable {
    public let fd: Int32
    public let port: Int

    /// Bound to `address` (another 127.0.0.0/8 address plays a second host).
    /// `port` 0: an ephemeral port.
    public init(receiveTimeout: Duration = .milliseconds(300), address: String = "127.0.0.1", port fixed: Int = 0) throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        self.fd = fd
        var a = UDPSocket.loopback(port: fixed)
        a.sin_addr.s_addr = inet_addr(address)
        let bound = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if bound != 0 && fixed != 0 {
            let e = errno
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: e) ?? .EADDRINUSE)
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = Int(UInt16(bigEndian: a.sin_port))
        let us = Int(receiveTimeout.components.attoseconds / 1_000_000_000_000) + Int(receiveTimeout.components.seconds) * 1_000_000
        var tv = timeval(tv_sec: us / 1_000_000, tv_usec: Int(us % 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    static func loopback(port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        a.sin_port = UInt16(port).bigEndian
        return a
    }

    public func send(_ bytes: [UInt8], to port: Int) {
        var a = UDPSocket.loopback(port: port)
        _ = withUnsafePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    public func send(_ text: String, to port: Int) { send(Array(text.utf8), to: port) }

    /// One datagram already queued, without waiting.
    public func receiveNow() -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 2048)
        let n = recv(fd, &buf, buf.count, Int32(MSG_DONTWAIT))
        return n > 0 ? Array(buf.prefix(n)) : nil
    }

    /// One datagram, or nil when none came within the socket's receive timeout.
    public func receiveBytes() -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &buf, buf.count, 0)
        return n > 0 ? Array(buf.prefix(n)) : nil
    }

    /// Next datagram within `timeout`, as text.
    public func receive(timeout: Duration = .seconds(3)) -> String? {
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            if let b = receiveBytes() { return String(decoding: b, as: UTF8.self) }
        }
        return nil
    }

    /// Reads until a message whose first line contains `marker`.
    public func receive(matching marker: String, timeout: Duration = .seconds(5)) -> String? {
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            if let m = receive(timeout: .milliseconds(300)), m.split(separator: "\r\n").first?.contains(marker) == true { return m }
        }
        return nil
    }
}

/// Polls `cond` until it holds or `timeout` passes; returns its last value.
public func waitUntil(_ timeout: Duration = .seconds(2), _ cond: () throws -> Bool) rethrows -> Bool {
    let end = ContinuousClock.now + timeout
    while ContinuousClock.now < end { if try cond() { return true }; usleep(2000) }
    return try cond()
}
