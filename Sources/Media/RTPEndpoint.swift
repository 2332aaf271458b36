import CORTP
import Foundation
import Synchronization

/// A plain RTP endpoint on libortp, for tools and tests (a softphone's media side):
/// it sends PCMU payloads with rising timestamps and receives what arrives.
///
/// ```swift
/// let ep = try RTPEndpoint(localIP: "127.0.0.1", localPort: 0)
/// try ep.setRemote(ip: "127.0.0.1", port: 20000)
/// try ep.send(payload: [UInt8](repeating: 0xFF, count: 160), timestamp: 160)
/// let got = ep.receive(timeout: .seconds(1))
/// ```
public final class RTPEndpoint {
    private let session: UnsafeMutablePointer<RtpSession>
    private static let initialised: Void = {
        ortp_init()
    }()

    public init(localIP: String = "127.0.0.1", localPort: Int) throws(MediaError) {
        _ = RTPEndpoint.initialised
        guard let s = rtp_session_new(Int32(RTP_SESSION_SENDRECV.rawValue)) else {
            throw .library(name: "libortp", call: "rtp_session_new", code: -1)
        }
        session = s
        rtp_session_set_scheduling_mode(s, 0)
        rtp_session_set_blocking_mode(s, 0)
        rtp_session_enable_jitter_buffer(s, 0)
        rtp_session_set_profile(s, baton_ortp_av_profile())
        _ = rtp_session_set_payload_type(s, 0)
        let r = rtp_session_set_local_addr(s, localIP, Int32(localPort), localPort == 0 ? 0 : Int32(localPort + 1))
        guard r == 0 else { rtp_session_destroy(s); throw .library(name: "libortp", call: "rtp_session_set_local_addr", code: r) }
    }

    deinit { rtp_session_destroy(session) }

    /// The local RTP port (the kernel's choice when 0 was asked).
    public var localPort: Int { Int(rtp_session_get_local_port(session)) }

    public func setRemote(ip: String, port: Int) throws(MediaError) {
        let r = rtp_session_set_remote_addr(session, ip, Int32(port))
        guard r == 0 else { throw .library(name: "libortp", call: "rtp_session_set_remote_addr", code: r) }
    }

    /// Sends one RTP packet with payload type 0 (PCMU).
    public func send(payload: [UInt8], timestamp: UInt32) throws(MediaError) {
        let r = payload.withUnsafeBufferPointer { rtp_session_send_with_ts(session, $0.baseAddress, Int32($0.count), timestamp) }
        guard r > 0 else { throw .library(name: "libortp", call: "rtp_session_send_with_ts", code: r) }
    }

    /// The payloads of the packets that arrived with timestamps up to `timestamp` (the
    /// receiver's clock: libortp maps the sender's first timestamp onto it), without waiting.
    public func receiveAvailable(timestamp: UInt32) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buf = [UInt8](repeating: 0, count: 1500)
        while out.count < 50 {
            var more: Int32 = 0
            let n = buf.withUnsafeMutableBufferPointer {
                rtp_session_recv_with_ts(session, $0.baseAddress, Int32($0.count), timestamp, &more)
            }
            if n > 0 { out.append(Array(buf.prefix(Int(n)))) }
            if n <= 0 && more == 0 { break }
        }
        return out
    }

    /// Waits up to `timeout` for one packet and returns its payload.
    public func receive(timestamp: UInt32, timeout: Duration) -> [UInt8]? {
        let deadline = ContinuousClock.now + timeout
        var buf = [UInt8](repeating: 0, count: 1500)
        while ContinuousClock.now < deadline {
            var more: Int32 = 0
            let n = buf.withUnsafeMutableBufferPointer {
                rtp_session_recv_with_ts(session, $0.baseAddress, Int32($0.count), timestamp, &more)
            }
            if n > 0 { return Array(buf.prefix(Int(n))) }
            usleep(2000)
        }
        return nil
    }
}
