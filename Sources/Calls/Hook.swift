import Synchronization

/// A callback set once at start-up (by `baton serve`) and called from any thread.
///
/// Why not `Mutex<(@Sendable (T) -> Void)?>` read with `withLock { $0 }`: `Mutex.withLock`
/// hands its value to the closure `inout` through a generic parameter, so a bare function
/// value is re-abstracted on the way in and again on the write-back. Every read wrapped the
/// stored function in two more reabstraction thunks; after N calls one call ran through 2N
/// nested thunks (half of Baton's CPU at 300 calls/s in the call-setup benchmark, and a leak).
/// Holding the function in a struct keeps it in one representation: the struct is what
/// crosses the generic boundary, never the function.
public final class Hook<Argument: Sendable>: Sendable {
    private struct Box: Sendable { let call: @Sendable (Argument) -> Void }
    private let box = Mutex<Box?>(nil)

    public init() {}

    /// Replaces the callback (`nil` removes it).
    public func set(_ call: (@Sendable (Argument) -> Void)?) {
        let b = call.map(Box.init)
        box.withLock { $0 = b }
    }

    /// Calls the callback, if one is set, outside the lock.
    public func callAsFunction(_ argument: Argument) {
        guard let b = box.withLock({ $0 }) else { return }
        b.call(argument)
    }
}
