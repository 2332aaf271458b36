/// Errors of the Calls module.
public enum CallsError: Error, Equatable, CustomStringConvertible {
    case unknownCall(String)
    case mediaUnavailable(String)
    public var description: String {
        switch self {
        case .unknownCall(let id): return "Unknown call-id \(id)"
        case .mediaUnavailable(let why): return "media unavailable: \(why)"
        }
    }
}
