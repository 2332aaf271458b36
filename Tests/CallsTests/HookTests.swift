import Foundation
import Synchronization
import Testing
@testable import Calls

/// `Hook` must call its function through the same number of frames every time. The form it
/// replaces (`Mutex<F?>` read with `withLock { $0 }`) wrapped the function in two more
/// reabstraction thunks per read, so the n-th call ran through 2n nested thunks: the
/// call-setup benchmark spent half its CPU there.
@Suite struct HookTests {
    @Test func callDepthStaysTheSameOverManyCalls() {
        let depths = Mutex<[Int]>([])
        let hook = Hook<[String]>()
        hook.set { _ in depths.withLock { $0.append(Thread.callStackSymbols.count) } }
        for _ in 0..<500 { hook(["alice"]) }
        let d = depths.withLock { $0 }
        #expect(d.count == 500)
        #expect(d.first == d.last, "stack depth grew from \(d.first ?? 0) to \(d.last ?? 0) frames")
    }

    /// The measurement above can see the bug: the replaced form does grow.
    @Test func theReplacedFormGrows() {
        let depths = Mutex<[Int]>([])
        let stored = Mutex<(@Sendable ([String]) -> Void)?>(nil)
        stored.withLock { $0 = { _ in depths.withLock { $0.append(Thread.callStackSymbols.count) } } }
        for _ in 0..<50 { stored.withLock { $0 }?(["alice"]) }
        let d = depths.withLock { $0 }
        #expect((d.last ?? 0) > (d.first ?? 0) + 50)
    }

    @Test func unsetHookIsANoOpAndSetNilRemoves() {
        let count = Mutex(0)
        let hook = Hook<(aor: String, registered: Bool)>()
        hook((aor: "a", registered: true))
        hook.set { _ in count.withLock { $0 += 1 } }
        hook((aor: "a", registered: true))
        hook.set(nil)
        hook((aor: "a", registered: false))
        #expect(count.withLock { $0 } == 1)
    }
}
