import Foundation
import Logging
import Store
import Synchronization

/// How often each called number forwards its calls, learnt from the calls Baton carries
/// (issue 20: "likely to forward" from the number's recorded history, beside the configured
/// rules and `stir.keep_for`). A call to a number counts a call; a forwarded INVITE from
/// that number's own device (Diversion naming it) counts a forward. The estimate is the
/// forwarded share with one imagined call that did not forward, (forwards) / (calls + 1),
/// so one forward out of one call is 0.5 and never 1 from a single observation.
///
/// The counts live in memory for the per-INVITE decision (no store read on the call path)
/// and are written through to the store (`forwarding_history`), read back at start.
public final class ForwardingHistory: Sendable {
    public struct Counts: Sendable, Equatable {
        public var calls: Int
        public var forwards: Int
        public var probability: Double { Double(forwards) / Double(calls + 1) }
    }

    /// The probability at or above which a number counts as likely to forward (1: never
    /// from history alone).
    public let threshold: Double
    private let counts = Mutex<[String: Counts]>([:])
    private let store: (any ForwardingHistoryStore)?
    private let writes: AsyncStream<(String, Counts)>.Continuation
    private let pending: AsyncStream<(String, Counts)>
    private let logger = Logger(label: "baton.stir")

    public init(threshold: Double, store: (any ForwardingHistoryStore)?) {
        self.threshold = threshold
        self.store = store
        (pending, writes) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(10_000))
    }

    /// Reads the stored counts (at start).
    public func load() async {
        guard let store else { return }
        do {
            let rows = try await store.forwardingCounts()
            counts.withLock { c in for r in rows { c[r.number] = Counts(calls: r.calls, forwards: r.forwards) } }
        } catch {
            logger.error("forwarding history not loaded", metadata: ["error": "\(error)"])
        }
    }

    /// Writes changed counts to the store, in order, until `finish()`.
    public func run() async {
        guard let store else { return }
        for await (number, c) in pending {
            do { try await store.addForwardingCounts(number: number, calls: c.calls, forwards: c.forwards, at: Date().timeIntervalSince1970) } catch {
                logger.error("forwarding history not stored", metadata: ["number": "\(number)", "error": "\(error)"])
            }
        }
    }

    public func finish() { writes.finish() }

    public func noteCall(to number: String) { change(number, Counts(calls: 1, forwards: 0)) { $0.calls += 1 } }

    public func noteForward(by number: String) { change(number, Counts(calls: 0, forwards: 1)) { $0.forwards += 1 } }

    /// Counts the change here and queues it as an increment (`delta`) for the store: gateways
    /// sharing one store add to the same row instead of writing their own totals over it.
    private func change(_ number: String, _ delta: Counts, _ body: (inout Counts) -> Void) {
        _ = counts.withLock { m -> Counts in
            var c = m[number] ?? Counts(calls: 0, forwards: 0)
            body(&c)
            // Bounded: the numbers seen most rarely go when the table is full.
            if m[number] == nil, m.count >= 100_000, let rare = m.min(by: { $0.value.calls < $1.value.calls })?.key { m[rare] = nil }
            m[number] = c
            return c
        }
        writes.yield((number, delta))
    }

    public func counts(_ number: String) -> Counts? { counts.withLock { $0[number] } }

    /// Whether the number's history makes it likely to forward a call.
    public func likely(_ number: String) -> Bool {
        guard let c = counts(number), c.forwards > 0 else { return false }
        return c.probability >= threshold
    }
}
