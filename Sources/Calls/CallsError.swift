/// Errors of the Calls module.
public enum CallsError: Error, Equatable, CustomStringConvertible {
    case unknownCall(String)
    case mediaUnavailable(String)
    /// `limits.max_sessions` live calls already (rtpengine's `max-sessions` wording).
    case sessionLimit(Int)
    public var description: String {
        switch self {
        case .unknownCall(let id): return "Unknown call-id \(id)"
        case .mediaUnavailable(let why): return "media unavailable: \(why)"
        case .sessionLimit: return "Parallel session limit reached"
        }
    }
}
