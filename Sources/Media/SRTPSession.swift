import CSRTP2
import Synchronization

/// The SRTP crypto suites Baton negotiates (RFC 4568 names).
public enum SRTPSuite: String, Sendable, CaseIterable, Codable {
    case aesCM128HmacSHA1_80 = "AES_CM_128_HMAC_SHA1_80"
    case aesCM128HmacSHA1_32 = "AES_CM_128_HMAC_SHA1_32"
    case aeadAES128GCM = "AEAD_AES_128_GCM"

    /// Master key plus master salt, in bytes (what `inline:` carries, base64).
    public var keyLength: Int { self == .aeadAES128GCM ? 28 : 30 }
    /// Bytes an SRTP packet grows by (the authentication tag).
    public var rtpTagLength: Int {
        switch self {
        case .aesCM128HmacSHA1_80: 10
        case .aesCM128HmacSHA1_32: 4
        case .aeadAES128GCM: 16
        }
    }

    /// The order Baton offers suites in: AEAD_AES_128_GCM first (as rtpengine does), because
    /// with the NSS backend Debian builds libsrtp2 with it costs a third of AES-CM +
    /// HMAC-SHA1 per packet (docs/performance.md); then the RFC 4568 mandatory suites.
    public static var offerOrder: [SRTPSuite] {
        [.aeadAES128GCM, .aesCM128HmacSHA1_80, .aesCM128HmacSHA1_32].filter(available.contains)
    }

    /// Suites libsrtp2 on this machine can actually run (GCM needs a crypto backend that has it).
    public static let available: [SRTPSuite] = allCases.filter { suite in
        (try? SRTPSession(suite: suite, key: [UInt8](repeating: 1, count: suite.keyLength), direction: .outbound)) != nil
    }

    func apply(_ p: inout srtp_policy_t) {
        switch self {
        case .aesCM128HmacSHA1_80:
            // srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 is a macro for the default.
            srtp_crypto_policy_set_rtp_default(&p.rtp)
            srtp_crypto_policy_set_rtcp_default(&p.rtcp)
        case .aesCM128HmacSHA1_32:
            // RFC 4568 §6.2.2: SRTCP keeps the 80-bit tag with the _32 suite.
            srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p.rtp)
            srtp_crypto_policy_set_rtcp_default(&p.rtcp)
        case .aeadAES128GCM:
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp)
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp)
        }
    }
}

/// One SRTP direction (protect or unprotect) of one leg on libsrtp2: RTP and RTCP, replay
/// protection (128-packet window).
///
/// ```swift
/// let key = SRTPSession.generateKey(.aesCM128HmacSHA1_80)    // 16-byte key + 14-byte salt
/// let tx = try SRTPSession(suite: .aesCM128HmacSHA1_80, key: key, direction: .outbound)
/// let rx = try SRTPSession(suite: .aesCM128HmacSHA1_80, key: key, direction: .inbound)
/// var packet = rtpBytes
/// try tx.protect(&packet)     // encrypts, appends the 10-byte tag
/// try rx.unprotect(&packet)   // back to the plain RTP
/// ```
/// One instance per leg and direction: the far party's keys never change at a switchover.
/// The relay protects in place in its receive buffers (which keep room for the trailer), so
/// no packet allocates.
/// Not thread-safe: one thread at a time (the relay thread that owns the leg).
public final class SRTPSession: @unchecked Sendable {
    public enum Direction: Sendable { case inbound, outbound }
    /// Master key (16 bytes) plus master salt (14 bytes) of the default suite.
    public static let keyLength = 30
    /// The most an SRTP or SRTCP packet grows by.
    public static let maxTrailer = Int(SRTP_MAX_TRAILER_LEN)

    public let suite: SRTPSuite
    private var session: srtp_t?
    private static let initialised: Result<Void, MediaError> = {
        let r = srtp_init()
        return r == srtp_err_status_ok ? .success(()) : .failure(.library(name: "libsrtp2", call: "srtp_init", code: Int32(r.rawValue)))
    }()

    public convenience init(key: [UInt8], direction: Direction) throws(MediaError) {
        try self.init(suite: .aesCM128HmacSHA1_80, key: key, direction: direction)
    }

    public init(suite: SRTPSuite, key: [UInt8], direction: Direction, replayWindow: UInt = 128) throws(MediaError) {
        self.suite = suite
        try SRTPSession.initialised.get()
        guard key.count == suite.keyLength else {
            throw .library(name: "libsrtp2", call: "\(suite.rawValue) needs a \(suite.keyLength)-byte key, got \(key.count)", code: -1)
        }
        var policy = srtp_policy_t()
        suite.apply(&policy)
        session = try SRTPSession.create(policy, key: key, direction: direction, window: replayWindow)
    }

    /// AES-CM with no authentication: only for checking the cipher against RFC 3711's
    /// appendix B vectors.
    init(nullAuthKey key: [UInt8], direction: Direction) throws(MediaError) {
        suite = .aesCM128HmacSHA1_80
        try SRTPSession.initialised.get()
        var policy = srtp_policy_t()
        srtp_crypto_policy_set_aes_cm_128_null_auth(&policy.rtp)
        srtp_crypto_policy_set_aes_cm_128_null_auth(&policy.rtcp)
        session = try SRTPSession.create(policy, key: key, direction: direction, window: 128)
    }

    private static func create(_ p: srtp_policy_t, key: [UInt8], direction: Direction, window: UInt) throws(MediaError) -> srtp_t? {
        var policy = p
        policy.ssrc.type = direction == .inbound ? ssrc_any_inbound : ssrc_any_outbound
        policy.window_size = window
        var keyCopy = key
        var s: srtp_t?
        let r = keyCopy.withUnsafeMutableBufferPointer { buf -> srtp_err_status_t in
            policy.key = buf.baseAddress
            return srtp_create(&s, &policy)
        }
        guard r == srtp_err_status_ok else {
            throw .library(name: "libsrtp2", call: "srtp_create", code: Int32(r.rawValue))
        }
        return s
    }

    deinit { if let session { srtp_dealloc(session) } }

    /// A fresh master key and salt for `suite` from the system's CSPRNG (one per leg).
    public static func generateKey(_ suite: SRTPSuite) -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<suite.keyLength).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// Encrypts an RTP packet in place and appends its authentication tag.
    public func protect(_ packet: inout [UInt8]) throws(MediaError) { try run(&packet, grow: true, srtp_protect, "srtp_protect") }
    /// Authenticates (replay window included) and decrypts an SRTP packet in place.
    public func unprotect(_ packet: inout [UInt8]) throws(MediaError) { try run(&packet, grow: false, srtp_unprotect, "srtp_unprotect") }
    /// SRTCP: encrypts, appends the index (E flag) and the tag.
    public func protectRTCP(_ packet: inout [UInt8]) throws(MediaError) { try run(&packet, grow: true, srtp_protect_rtcp, "srtp_protect_rtcp") }
    public func unprotectRTCP(_ packet: inout [UInt8]) throws(MediaError) { try run(&packet, grow: false, srtp_unprotect_rtcp, "srtp_unprotect_rtcp") }

    private func run(_ packet: inout [UInt8], grow: Bool,
                     _ f: (srtp_t?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?) -> srtp_err_status_t,
                     _ name: String) throws(MediaError) {
        let original = packet.count
        var len = Int32(original)
        if grow { packet.append(contentsOf: repeatElement(0, count: SRTPSession.maxTrailer)) }
        let r = packet.withUnsafeMutableBytes { f(session, $0.baseAddress, &len) }
        guard r == srtp_err_status_ok else {
            if grow { packet.removeLast(SRTPSession.maxTrailer) }
            throw .library(name: "libsrtp2", call: name, code: Int32(r.rawValue))
        }
        packet.removeLast(packet.count - Int(len))
    }

    /// In place on the relay's buffers: `buffer` holds `length` bytes and has room for
    /// ``maxTrailer`` more. Returns the new length, or -1 when libsrtp2 refused the packet
    /// (bad tag, replay, unknown stream). No allocation.
    @inline(__always)
    func protectInPlace(_ buffer: UnsafeMutableRawPointer, length: Int, rtcp: Bool = false) -> Int {
        var len = Int32(length)
        let r = rtcp ? srtp_protect_rtcp(session, buffer, &len) : srtp_protect(session, buffer, &len)
        return r == srtp_err_status_ok ? Int(len) : -1
    }

    @inline(__always)
    func unprotectInPlace(_ buffer: UnsafeMutableRawPointer, length: Int, rtcp: Bool = false) -> Int {
        var len = Int32(length)
        let r = rtcp ? srtp_unprotect_rtcp(session, buffer, &len) : srtp_unprotect(session, buffer, &len)
        return r == srtp_err_status_ok ? Int(len) : -1
    }
}
