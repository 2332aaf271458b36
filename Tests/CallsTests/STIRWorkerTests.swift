import Foundation
import NIOCore
import NIOEmbedded
import Synchronization
import Testing
@testable import Calls
@testable import SIP

/// STIR checks run on a bounded set of workers (no task per INVITE outside one task group),
/// and a full queue refuses at once with 503 instead of growing.
@Suite struct STIRWorkerTests {
    /// Holds every kept-identity look-up until opened: a slow store or certificate fetch.
    final class SlowKeeper: STIRService.IdentityKeeper {
        let open = Mutex<[CheckedContinuation<Void, Never>]?>([])
        func keep(orig: String, dest: String, values: [String], expires: Double) async throws {}
        func take(orig: String, dest: String, now: Double) async throws -> [String]? {
            await withCheckedContinuation { c in
                if open.withLock({ w in if w == nil { return true }; w!.append(c); return false }) { c.resume() }
            }
            return nil
        }
        func release() { open.withLock { w in let all = w ?? []; w = nil; return all }.forEach { $0.resume() } }
    }

    static func invite(_ n: Int) throws -> SIPMessage {
        let m = try SIPMessage.request(method: .invite, uri: "sip:12025550102@127.0.0.1", via: "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK\(n)",
                                       from: "<sip:12025550101@127.0.0.1>;tag=\(n)", to: "<sip:12025550102@127.0.0.1>",
                                       callID: "stir-\(n)", cseq: 1, contact: nil)
        m.setHeader("Diversion", "<sip:12025550199@127.0.0.1>;reason=unconditional")
        return m
    }

    @Test func aFullQueueIsRefusedAtOnceAndTheRestRunWhenTheWorkersFree() async throws {
        let keeper = SlowKeeper()
        var c = STIRService.Configuration(mode: .off)
        c.keeper = keeper
        let stir = STIRService(configuration: c, maxConcurrent: 1, maxPending: 2)
        let loop = NIOAsyncTestingEventLoop()
        let workers = Task { await stir.run() }
        let verdicts = Mutex<[String: String]>([:])
        for n in 0..<3 {
            try await loop.executeInContext {
                // From the diverting number's own device, so the kept identity is looked up.
                stir.check(try Self.invite(n), from: InviteSource(requester: .user("12025550199")), on: loop) { v in
                    let text = switch v { case .proceed: "proceed"; case let .reject(code, _, _): "\(code)" }
                    verdicts.withLock { $0["\(n)"] = text }
                }
            }
        }
        // The third INVITE found two checks pending (one running, one queued): refused now.
        #expect(verdicts.withLock { $0 } == ["2": "503"])
        keeper.release()
        // Bounded, with room for a loaded 2-core machine running every suite in parallel
        // (one run saw the second verdict still missing after 3 s).
        let end = ContinuousClock.now + .seconds(10)
        while verdicts.withLock({ $0.count }) < 3, ContinuousClock.now < end {
            await loop.run()
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(verdicts.withLock { $0 } == ["0": "proceed", "1": "proceed", "2": "503"])
        stir.finish()
        await workers.value
        try await loop.shutdownGracefully()
    }
}
