import Testing
import Store
@testable import Calls

@Suite struct StoreQueueTests {
    static func op(_ i: Int) -> StoreOperation { .deleteRegistration(aor: "a\(i)@x", contact: "c") }
    static func aor(_ op: StoreOperation) -> String? {
        if case .deleteRegistration(let aor, _) = op { return aor }
        return nil
    }

    @Test func keepsOrderAndHandsOverWholeBatches() async {
        let q = StoreQueue()
        for i in 0..<5 { q.yield(Self.op(i)) }
        await q.waitForWork()   // work is there: returns at once
        let (batch, finished) = q.takeAll()
        #expect(batch.compactMap(Self.aor) == (0..<5).map { "a\($0)@x" })
        #expect(!finished)
        #expect(q.takeAll().operations.isEmpty)
    }

    @Test func aWaitingWriterIsWokenByTheFirstOperation() async {
        let q = StoreQueue()
        let writer = Task { () -> [String] in
            await q.waitForWork()
            return q.takeAll().operations.compactMap(Self.aor)
        }
        try? await Task.sleep(for: .milliseconds(20))
        q.yield(Self.op(7))
        #expect(await writer.value == ["a7@x"])
    }

    @Test func finishWakesTheWriterAndLaterOperationsAreIgnored() async {
        let q = StoreQueue()
        q.yield(Self.op(1))
        q.finish()
        q.yield(Self.op(2))
        await q.waitForWork()
        let (batch, finished) = q.takeAll()
        #expect(batch.compactMap(Self.aor) == ["a1@x"])
        #expect(finished)
    }

    @Test func dropsTheOldestBeyondCapacityAndCountsThem() {
        let q = StoreQueue(capacity: 3)
        for i in 0..<5 { q.yield(Self.op(i)) }
        #expect(q.takeAll().operations.compactMap(Self.aor) == ["a2@x", "a3@x", "a4@x"])
        #expect(q.dropped == 2)
    }
}
