#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
/// Errors thrown by the Media module. Each case says what failed and with what.
public enum MediaError: Error, Equatable, CustomStringConvertible {
    /// No free even/odd port pair was left in the configured range.
    case portRangeExhausted(min: Int, max: Int)
    /// A socket call failed with `errno`.
    case system(call: String, errno: Int32)
    /// An address could not be parsed as IPv4 or IPv6.
    case badAddress(String)
    /// The relay's sockets reached their share of the process's descriptors (RLIMIT_NOFILE
    /// less a reserve for SIP, HTTP and the store): `pairs` port pairs are open.
    case descriptorBudget(pairs: Int)
    /// A media stream id is not (or no longer) known to the relay.
    case unknownStream(UInt64)
    /// A C library returned an error code.
    case library(name: String, call: String, code: Int32)
    /// A given port pair (a call resumed after a restart) is outside the range, odd, or
    /// already in use.
    case portUnavailable(Int)

    public var description: String {
        switch self {
        case let .portRangeExhausted(min, max): return "no free RTP port pair in \(min)-\(max)"
        case let .system(call, errno): return "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))"
        case let .badAddress(a): return "bad media address '\(a)'"
        case let .descriptorBudget(pairs):
            return "descriptor budget reached: \(pairs) RTP port pairs open (raise ulimit -n / LimitNOFILE)"
        case let .unknownStream(id): return "unknown media stream \(id)"
        case let .library(name, call, code): return "\(name) \(call) failed with code \(code)"
        case let .portUnavailable(p): return "RTP port pair \(p)/\(p + 1) is not free in the configured range"
        }
    }
}
