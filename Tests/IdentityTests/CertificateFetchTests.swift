import Foundation
import Identity
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The x5u/info URL of an incoming Identity header is hostile input: only https (http with
/// the development switch), never file:, a size limit, a cache of failures, one fetch per URL
/// at a time.
@Suite(.serialized) struct CertificateFetchTests {
    /// A one-shot HTTP server on loopback: answers every connection with `body` after `delay`,
    /// counting connections; stops after `connections` or 5 s.
    final class TinyHTTPServer: @unchecked Sendable {
        let port: Int
        private let fd: Int32
        private let lock = NSLock()
        private var served = 0
        var connections: Int { lock.lock(); defer { lock.unlock() }; return served }

        init(body: [UInt8], delayMillis: Int = 0, maxConnections: Int = 4) throws {
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            fd = s
            var one: Int32 = 1
            setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, len) } }
            listen(s, 8)
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
            port = Int(UInt16(bigEndian: addr.sin_port))
            var tv = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            Thread.detachNewThread { [self] in
                for _ in 0..<maxConnections {
                    let c = accept(s, nil, nil)
                    guard c >= 0 else { break }
                    self.lock.lock(); self.served += 1; self.lock.unlock()
                    var buf = [UInt8](repeating: 0, count: 4096)
                    _ = read(c, &buf, buf.count)
                    if delayMillis > 0 { usleep(UInt32(delayMillis * 1000)) }
                    let head = Array("HTTP/1.1 200 OK\r\nContent-Type: application/x-pem-file\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8)
                    _ = (head + body).withUnsafeBytes { write(c, $0.baseAddress, $0.count) }
                    close(c)
                }
            }
        }
        deinit { close(fd) }
    }

    static func http() -> CertificateSource.Policy {
        var p = CertificateSource.Policy()
        p.allowHTTP = true
        p.timeout = 3
        return p
    }

    @Test func fileAndOtherSchemesAreNeverFetched() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("x5u-\(UUID().uuidString).pem").path
        try "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let source = CertificateSource(policy: Self.http())
        for url in ["file://\(path)", "file:///etc/passwd", "ftp://127.0.0.1/x.pem", "gopher://x", "/etc/passwd"] {
            await #expect(throws: IdentityError.self) { _ = try await source.certificates(for: url) }
            do { _ = try await source.certificates(for: url) } catch {
                #expect("\(error)".contains("https") || "\(error)".contains("not a URL"), "\(url): \(error)")
            }
        }
        #expect(source.attempts == 5, "each refused URL was looked at once and then answered from the failure cache")
    }

    @Test func httpOnlyWithTheDevelopmentSwitch() async throws {
        let server = try TinyHTTPServer(body: Array("not a certificate".utf8))
        let url = "http://127.0.0.1:\(server.port)/chain.pem"
        do {
            _ = try await CertificateSource().certificates(for: url)
            Issue.record("http must be refused by default")
        } catch { #expect("\(error)".contains("http x5u is refused"), "\(error)") }
        #expect(server.connections == 0, "nothing was fetched")
        do {
            _ = try await CertificateSource(policy: Self.http()).certificates(for: url)
            Issue.record("not a certificate")
        } catch { #expect("\(error)".contains("certificate"), "fetched with the switch, refused as a certificate: \(error)") }
        #expect(server.connections == 1)
    }

    @Test func aHugeBodyIsCutOffAtTheLimit() async throws {
        let server = try TinyHTTPServer(body: [UInt8](repeating: 0x41, count: 300_000))
        do {
            _ = try await CertificateSource(policy: Self.http()).certificates(for: "http://127.0.0.1:\(server.port)/huge.pem")
            Issue.record("a 300 KB body must be refused")
        } catch { #expect("\(error)".contains("larger than 65536 bytes"), "\(error)") }
    }

    @Test func failuresAreCachedAndOneURLIsFetchedOnceAtATime() async throws {
        let server = try TinyHTTPServer(body: Array("junk".utf8), delayMillis: 300)
        let url = "http://127.0.0.1:\(server.port)/slow.pem"
        let source = CertificateSource(policy: Self.http())
        // Ten INVITEs naming the same URL at once: one fetch.
        await withTaskGroup(of: Void.self) { g in
            for _ in 0..<10 { g.addTask { _ = try? await source.certificates(for: url) } }
        }
        #expect(source.attempts == 1, "one fetch for ten waiting checks: \(source.attempts)")
        // And the failure is remembered: no new fetch for the next INVITE.
        await #expect(throws: IdentityError.self) { _ = try await source.certificates(for: url) }
        #expect(source.attempts == 1 && server.connections == 1)
    }
}
