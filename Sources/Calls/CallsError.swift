/// Errors of the Calls module.
public enum CallsError: Error, Equatable, CustomStringConvertible {
    case unknownCall(String)
    case mediaUnavailable(String)
    /// `limits.max_sessions` live calls already (rtpengine's `max-sessions` wording).
    case sessionLimit(Int)
    /// The key that seals calls' resume state is unusable (`store.state_key_file`).
    case badStateKey(String)
    /// A call saved before a restart could not be taken back (it is ended with BYE instead).
    case resume(String, String)
    public var description: String {
        switch self {
        case .unknownCall(let id): return "Unknown call-id \(id)"
        case .mediaUnavailable(let why): return "media unavailable: \(why)"
        case .sessionLimit: return "Parallel session limit reached"
        case .badStateKey(let why): return "state key: \(why)"
        case let .resume(id, why): return "call \(id) cannot be resumed: \(why)"
        }
    }
}
