import Foundation
import Synchronization

/// Fans events out to any number of subscribers (WebSocket clients, tests). A subscriber
/// that falls behind loses its oldest events (bounded buffer), never blocks the publisher.
public final class EventHub<Event: Sendable>: Sendable {
    private let subscribers = Mutex<[UUID: AsyncStream<Event>.Continuation]>([:])
    private let buffer: Int

    public init(buffer: Int = 1000) { self.buffer = buffer }

    /// A stream of every event published from now on; it ends when the hub finishes or the
    /// consumer stops iterating.
    public func subscribe() -> AsyncStream<Event> {
        let (stream, cont) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(buffer))
        let id = UUID()
        cont.onTermination = { [weak self] _ in self?.subscribers.withLock { $0[id] = nil } }
        subscribers.withLock { $0[id] = cont }
        return stream
    }

    public func publish(_ e: Event) {
        for c in subscribers.withLock({ Array($0.values) }) { c.yield(e) }
    }

    public var subscriberCount: Int { subscribers.withLock { $0.count } }

    public func finish() {
        for c in subscribers.withLock({ s -> [AsyncStream<Event>.Continuation] in defer { s.removeAll() }; return Array(s.values) }) {
            c.finish()
        }
    }
}
