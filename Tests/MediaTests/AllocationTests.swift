import Foundation
import Testing

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

    static func run(_ n: Int, base: Int) throws -> (received: Int, allocations: Int) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["\(n)", "\(base)"]
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
        return (fields["received"] ?? -1, fields["allocations"] ?? -1)
    }

    @Test func relayingAllocatesNothingPerPacket() throws {
        let small = try Self.run(10_000, base: 34400)
        let large = try Self.run(100_000, base: 34420)
        #expect(small.received == 10_000)
        #expect(large.received == 100_000)
        #expect(small.allocations >= 0 && large.allocations >= 0)
        // 90 000 more packets; fewer than 100 more allocations means none per packet.
        #expect(large.allocations - small.allocations < 100, "10k: \(small.allocations), 100k: \(large.allocations) allocations")
    }
}
