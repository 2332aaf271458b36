import CBatonSys

/// Views of RTP and RTCP headers in a relay buffer (RFC 3550): read and rewrite in place,
/// no copies. Callers have checked the length (12 bytes for RTP, 8 for RTCP).
enum RTPHeader {
    /// Version 2 and at least a fixed header: worth reading as RTP.
    @inline(__always)
    static func isRTP(_ p: UnsafeMutablePointer<UInt8>, length: Int) -> Bool { length >= 12 && p[0] & 0xC0 == 0x80 }

    @inline(__always)
    static func sequence(_ p: UnsafeMutablePointer<UInt8>) -> UInt16 { UInt16(p[2]) << 8 | UInt16(p[3]) }

    @inline(__always)
    static func timestamp(_ p: UnsafeMutablePointer<UInt8>) -> UInt32 {
        UInt32(p[4]) << 24 | UInt32(p[5]) << 16 | UInt32(p[6]) << 8 | UInt32(p[7])
    }

    /// Writes the RTP timestamp (bytes 4-7).
    @inline(__always)
    static func writeTimestamp(_ p: UnsafeMutablePointer<UInt8>, _ ts: UInt32) {
        p[4] = UInt8(truncatingIfNeeded: ts >> 24); p[5] = UInt8(truncatingIfNeeded: ts >> 16)
        p[6] = UInt8(truncatingIfNeeded: ts >> 8); p[7] = UInt8(truncatingIfNeeded: ts)
    }

    /// Where an RTP packet's payload lies: after the CSRCs and a header extension, before the
    /// padding; nil when the header runs past the packet or nothing is left.
    @inline(__always)
    static func payload(_ p: UnsafeMutablePointer<UInt8>, length: Int) -> (offset: Int, end: Int)? {
        var offset = 12 + Int(p[0] & 0x0F) * 4
        if p[0] & 0x10 != 0 {
            guard length >= offset + 4 else { return nil }
            offset += 4 + (Int(p[offset + 2]) << 8 | Int(p[offset + 3])) * 4
        }
        var end = length
        if p[0] & 0x20 != 0 { end -= Int(p[length - 1]) }
        guard end > offset else { return nil }
        return (offset, end)
    }

    /// Runs the RTP header through the egress rewriter; writes it back only when a splice
    /// made the rewriter active (before any switchover this is a read).
    @inline(__always)
    static func rewrite(_ p: UnsafeMutablePointer<UInt8>, seq: UInt16, timestamp: UInt32, egress: inout RTPRewriter,
                        source: Int, nanos: Int64) {
        let h = RTPRewriter.Header(
            ssrc: UInt32(p[8]) << 24 | UInt32(p[9]) << 16 | UInt32(p[10]) << 8 | UInt32(p[11]),
            seq: seq, timestamp: timestamp, marker: p[1] & 0x80 != 0)
        let out = egress.rewrite(source: source, h, nanos: nanos)
        guard egress.rewriting else { return }
        p[1] = out.marker ? p[1] | 0x80 : p[1] & 0x7F
        p[2] = UInt8(truncatingIfNeeded: out.seq >> 8); p[3] = UInt8(truncatingIfNeeded: out.seq)
        p[4] = UInt8(truncatingIfNeeded: out.timestamp >> 24); p[5] = UInt8(truncatingIfNeeded: out.timestamp >> 16)
        p[6] = UInt8(truncatingIfNeeded: out.timestamp >> 8); p[7] = UInt8(truncatingIfNeeded: out.timestamp)
        p[8] = UInt8(truncatingIfNeeded: out.ssrc >> 24); p[9] = UInt8(truncatingIfNeeded: out.ssrc >> 16)
        p[10] = UInt8(truncatingIfNeeded: out.ssrc >> 8); p[11] = UInt8(truncatingIfNeeded: out.ssrc)
    }

    /// After a splice, the first RTCP packet of a compound toward the far party carries the
    /// far party's SSRC, and a sender report's RTP timestamp moves with the RTP stream.
    @inline(__always)
    static func rewriteReport(_ p: UnsafeMutablePointer<UInt8>, length: Int, egress: RTPRewriter) {
        let pt = p[1]
        guard pt == 200 || pt == 201 else { return }
        let ssrc = egress.ssrc
        p[4] = UInt8(truncatingIfNeeded: ssrc >> 24); p[5] = UInt8(truncatingIfNeeded: ssrc >> 16)
        p[6] = UInt8(truncatingIfNeeded: ssrc >> 8); p[7] = UInt8(truncatingIfNeeded: ssrc)
        if pt == 200, length >= 20 {
            let ts = (UInt32(p[16]) << 24 | UInt32(p[17]) << 16 | UInt32(p[18]) << 8 | UInt32(p[19])) &+ egress.tsDelta
            p[16] = UInt8(truncatingIfNeeded: ts >> 24); p[17] = UInt8(truncatingIfNeeded: ts >> 16)
            p[18] = UInt8(truncatingIfNeeded: ts >> 8); p[19] = UInt8(truncatingIfNeeded: ts)
        }
    }

    /// Voice activity of one RTP packet's payload (nil when the codec cannot be judged).
    @inline(__always)
    static func silence(_ p: UnsafeMutablePointer<UInt8>, length: Int) -> Bool? {
        var offset = 12 + Int(p[0] & 0x0F) * 4
        if p[0] & 0x10 != 0, length >= offset + 4 {
            offset += 4 + (Int(p[offset + 2]) << 8 | Int(p[offset + 3])) * 4
        }
        var end = length
        if p[0] & 0x20 != 0, length > 0 { end -= Int(p[length - 1]) }
        guard end > offset else { return nil }
        return VoiceActivity.isSilent(payloadType: p[1] & 0x7F,
                                      payload: UnsafeRawBufferPointer(start: p + offset, count: end - offset))
    }
}
