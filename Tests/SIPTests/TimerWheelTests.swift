import NIOCore
import NIOEmbedded
import Testing
@testable import SIP

@Suite struct TimerWheelTests {
    @Test func firesNeverEarlyAndAtMostOneTickLate() {
        let loop = EmbeddedEventLoop()
        let wheel = TimerWheel(loop: loop, resolution: .milliseconds(10))
        var fired: [(Int, Int64)] = []
        func now() -> Int64 { Int64(loop.now.uptimeNanoseconds / 1_000_000) }
        for (i, ms) in [500, 3, 10, 1000, 32_000, 7_777].enumerated() {
            wheel.schedule(in: .milliseconds(Int64(ms))) { fired.append((i, now())) }
        }
        loop.advanceTime(by: .seconds(40))
        let expected: [Int64] = [500, 3, 10, 1000, 32_000, 7_777]
        #expect(fired.map(\.0).sorted() == Array(0..<6))
        for (i, at) in fired {
            #expect(at >= expected[i] && at <= expected[i] + 10, "timer \(i) at \(at) ms, due \(expected[i])")
        }
        // In due order.
        #expect(fired.map(\.1) == fired.map(\.1).sorted())
        #expect(wheel.entries == 0)
    }

    @Test func cancelledTimersNeverFireAndAreSwept() {
        let loop = EmbeddedEventLoop()
        let wheel = TimerWheel(loop: loop, resolution: .milliseconds(10), slots: 64)
        var fired = 0
        let timers = (0..<10_000).map { i in wheel.schedule(in: .milliseconds(Int64(100 + i % 5000))) { fired += 1 } }
        for (i, t) in timers.enumerated() where i % 2 == 0 { t.cancel() }
        #expect(timers[0].isPending == false && timers[1].isPending)
        loop.advanceTime(by: .seconds(6))
        #expect(fired == 5000)
        #expect(wheel.entries == 0)
        #expect(timers.allSatisfy { !$0.isPending })
    }

    @Test func timerScheduledFromAnActionAndCancelFromAnEarlierOne() {
        let loop = EmbeddedEventLoop()
        let wheel = TimerWheel(loop: loop)
        var log: [String] = []
        var second: SIPTimer?
        wheel.schedule(in: .milliseconds(50)) {
            log.append("first")
            second?.cancel()
            wheel.schedule(in: .zero) { log.append("chained") }
        }
        second = wheel.schedule(in: .milliseconds(50)) { log.append("second") }
        loop.advanceTime(by: .milliseconds(50))
        #expect(log == ["first"])
        loop.advanceTime(by: .milliseconds(10))
        #expect(log == ["first", "chained"])
    }

    @Test func aStalledLoopCatchesUpInOrderAfterMoreThanOneTurn() {
        let loop = EmbeddedEventLoop()
        let wheel = TimerWheel(loop: loop, resolution: .milliseconds(10), slots: 8)   // one turn = 80 ms
        var order: [Int] = []
        for ms in [300, 20, 150, 70, 1000] { wheel.schedule(in: .milliseconds(Int64(ms))) { order.append(ms) } }
        // Jump straight past several turns: the tick task runs once, late.
        loop.advanceTime(to: loop.now + .milliseconds(400))
        #expect(order == [20, 70, 150, 300])
        loop.advanceTime(by: .seconds(1))
        #expect(order == [20, 70, 150, 300, 1000])
    }

    @Test func idleWheelSchedulesNothing() {
        let loop = EmbeddedEventLoop()
        let wheel = TimerWheel(loop: loop)
        let t = wheel.schedule(in: .milliseconds(30)) {}
        t.cancel()
        loop.advanceTime(by: .seconds(10))   // swept: ticking stops
        #expect(wheel.entries == 0)
        var fired = false
        loop.advanceTime(by: .seconds(100))
        wheel.schedule(in: .milliseconds(20)) { fired = true }
        loop.advanceTime(by: .milliseconds(19))
        #expect(!fired)
        loop.advanceTime(by: .milliseconds(1))
        #expect(fired)
    }
}
