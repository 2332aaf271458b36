import Foundation
import Testing
import TestSupport

/// Relaying must not allocate per packet: run the allocation-counting executable with 10k
/// and 100k packets; the difference in heap allocations must be far below one per packet.
@Suite(.serialized) struct AllocationTests {
    static var binary: String {
        let dir = Bundle.main.bundleURL.deletingLastPathComponent()
        for d in [dir, dir.deletingLastPathComponent()] {
            let p = d.appendingPathComponent("baton-alloc-check").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/baton-alloc-check").path
    }

    static func run(_ n: Int, base: Int, mode: String = "plain") throws -> (received: Int, allocations: Int, forked: Int) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["\(n)", "\(base)", mode]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        let end = ContinuousClock.now + .seconds(120)
        while p.isRunning && ContinuousClock.now < end { usleep(10_000) }
        let line = String(decoding: data, as: UTF8.self)
        var fields: [String: Int] = [:]
        for kv in line.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let parts = kv.split(separator: "=")
            if parts.count == 2 { fields[String(parts[0])] = Int(parts[1]) }
        }
        return (fields["received"] ?? -1, fields["allocations"] ?? -1, fields["forked"] ?? -1)
    }

    @Test func relayingAllocatesNothingPerPacket() throws {
        let small = try Self.run(10_000, base: TestPorts.base(10))
        let large = try Self.run(100_000, base: TestPorts.base(10))
        #expect(small.received == 10_000)
        #expect(large.received == 100_000)
        #expect(small.allocations >= 0 && large.allocations >= 0)
        // 90 000 more packets; fewer than 100 more allocations means none per packet.
        #expect(large.allocations - small.allocations < 100, "10k: \(small.allocations), 100k: \(large.allocations) allocations")
    }

    /// PCMU -> Opus transcoding in place (G.711 table, libopus) allocates nothing per packet.
    @Test func transcodingAllocatesNothingPerPacket() throws {
        let small = try Self.run(2_000, base: TestPorts.base(10), mode: "transcode")
        let large = try Self.run(20_000, base: TestPorts.base(10), mode: "transcode")
        #expect(small.received == 2_000 && large.received == 20_000)
        #expect(large.allocations - small.allocations < 100, "2k: \(small.allocations), 20k: \(large.allocations) allocations")
    }

    /// Switchover priming: every packet of the far party also goes, copied and transcoded to
    /// Opus, to the new leg; the copy allocates nothing per packet either.
    @Test func primingCopyAllocatesNothingPerPacket() throws {
        let small = try Self.run(2_000, base: TestPorts.base(10), mode: "fork")
        let large = try Self.run(20_000, base: TestPorts.base(10), mode: "fork")
        #expect(small.received == 2_000 && large.received == 20_000)
        #expect(small.forked == 2_000 && large.forked == 20_000, "copies: \(small.forked), \(large.forked)")
        #expect(large.allocations - small.allocations < 100, "2k: \(small.allocations), 20k: \(large.allocations) allocations")
    }

    /// A listened call (issue 20): every caller packet's payload is also copied into the
    /// listener's ring; the copy allocates nothing per packet, and every frame arrives.
    @Test func tappingAListenedCallAllocatesNothingPerPacket() throws {
        let small = try Self.run(2_000, base: TestPorts.base(10), mode: "tap")
        let large = try Self.run(20_000, base: TestPorts.base(10), mode: "tap")
        #expect(small.received == 2_000 && large.received == 20_000)
        #expect(small.forked == 2_000 && large.forked == 20_000, "frames tapped: \(small.forked), \(large.forked)")
        #expect(large.allocations - small.allocations < 100, "2k: \(small.allocations), 20k: \(large.allocations) allocations")
    }

    /// SRTP: libsrtp2 as Debian builds it (OpenSSL 3 backend) allocates inside every
    /// srtp_protect (14 allocations, measured by calling it alone); the relay must add
    /// nothing on top: its per-packet count equals the library's.
    @Test func srtpAddsNoAllocationOverLibsrtp() throws {
        let lib2 = try Self.run(2_000, base: 0, mode: "srtp-lib"), lib20 = try Self.run(20_000, base: 0, mode: "srtp-lib")
        let relay2 = try Self.run(2_000, base: TestPorts.base(10), mode: "srtp"), relay20 = try Self.run(20_000, base: TestPorts.base(10), mode: "srtp")
        #expect(relay2.received == 2_000 && relay20.received == 20_000)
        let library = lib20.allocations - lib2.allocations
        let relayed = relay20.allocations - relay2.allocations
        #expect(relayed - library < 100, "18k packets: libsrtp2 alone \(library), through the relay \(relayed) allocations")
    }
}
