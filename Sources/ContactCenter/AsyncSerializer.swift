import Synchronization

/// A first-come-first-served lock for async code: bodies run one at a time, in the order
/// they asked, across their suspension points. An actor alone would not do: it lets another
/// call in at every `await` inside it (reentrancy), which is exactly the read-await-write
/// interleaving this prevents.
///
/// ```swift
/// let writes = AsyncSerializer()
/// let a = try await writes.run { try await readModifyWrite() }
/// ```
final class AsyncSerializer: Sendable {
    private let state = Mutex<(busy: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func run<T, E: Error>(_ body: () async throws(E) -> T) async throws(E) -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let free = state.withLock { s in
                if s.busy { s.waiters.append(c); return false }
                s.busy = true
                return true
            }
            if free { c.resume() }
        }
    }

    private func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard !s.waiters.isEmpty else { s.busy = false; return nil }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }
}
