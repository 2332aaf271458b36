import CSRTP2
import Synchronization

/// One SRTP direction (protect or unprotect) on libsrtp2, with the default
/// AES_CM_128_HMAC_SHA1_80 suite.
///
/// ```swift
/// let key = [UInt8](repeating: 7, count: 30)                  // 16-byte key + 14-byte salt
/// let tx = try SRTPSession(key: key, direction: .outbound)
/// let rx = try SRTPSession(key: key, direction: .inbound)
/// var packet = rtpBytes
/// try tx.protect(&packet)     // appends the 10-byte auth tag
/// try rx.unprotect(&packet)   // back to the plain RTP
/// ```
/// One instance per leg and direction: the far party's keys never change at a switchover.
public final class SRTPSession {
    public enum Direction: Sendable { case inbound, outbound }
    /// Master key (16 bytes) plus master salt (14 bytes).
    public static let keyLength = 30
    /// Bytes that protect appends to an RTP packet (the HMAC-SHA1-80 tag).
    public static let maxTrailer = Int(SRTP_MAX_TRAILER_LEN)

    private var session: srtp_t?
    private static let initialised: Result<Void, MediaError> = {
        let r = srtp_init()
        return r == srtp_err_status_ok ? .success(()) : .failure(.library(name: "libsrtp2", call: "srtp_init", code: Int32(r.rawValue)))
    }()

    public init(key: [UInt8], direction: Direction) throws(MediaError) {
        try SRTPSession.initialised.get()
        guard key.count == SRTPSession.keyLength else {
            throw .library(name: "libsrtp2", call: "key length \(key.count)", code: -1)
        }
        var policy = srtp_policy_t()
        srtp_crypto_policy_set_rtp_default(&policy.rtp)
        srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
        policy.ssrc.type = direction == .inbound ? ssrc_any_inbound : ssrc_any_outbound
        policy.window_size = 128
        var keyCopy = key
        var s: srtp_t?
        let r = keyCopy.withUnsafeMutableBufferPointer { buf -> srtp_err_status_t in
            policy.key = buf.baseAddress
            return srtp_create(&s, &policy)
        }
        guard r == srtp_err_status_ok else {
            throw .library(name: "libsrtp2", call: "srtp_create", code: Int32(r.rawValue))
        }
        session = s
    }

    deinit { if let session { srtp_dealloc(session) } }

    /// Encrypts an RTP packet in place and appends its authentication tag.
    public func protect(_ packet: inout [UInt8]) throws(MediaError) {
        var len = Int32(packet.count)
        packet.append(contentsOf: repeatElement(0, count: SRTPSession.maxTrailer))
        let r = packet.withUnsafeMutableBytes { srtp_protect(session, $0.baseAddress, &len) }
        guard r == srtp_err_status_ok else {
            packet.removeLast(SRTPSession.maxTrailer)
            throw .library(name: "libsrtp2", call: "srtp_protect", code: Int32(r.rawValue))
        }
        packet.removeLast(packet.count - Int(len))
    }

    /// Authenticates and decrypts an SRTP packet in place.
    public func unprotect(_ packet: inout [UInt8]) throws(MediaError) {
        var len = Int32(packet.count)
        let r = packet.withUnsafeMutableBytes { srtp_unprotect(session, $0.baseAddress, &len) }
        guard r == srtp_err_status_ok else {
            throw .library(name: "libsrtp2", call: "srtp_unprotect", code: Int32(r.rawValue))
        }
        packet.removeLast(packet.count - Int(len))
    }
}
