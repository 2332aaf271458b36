/// G.711 µ-law (PCMU) and A-law (PCMA), as in the ITU-T G.191 reference implementation
/// (g711.c): expansion by table (256 entries, built once), compression by segment search.
///
/// Why our own: it is 60 lines of arithmetic fixed by the standard, and the Debian
/// libraries that have it (spandsp, libavcodec) would add a large dependency for it; the
/// tests pin it to the ITU reference values.
///
/// ```swift
/// let code = G711.ulawEncode(1000)      // 16-bit linear -> µ-law byte
/// let back = G711.ulaw(code)            // µ-law byte -> 16-bit linear (±quantization)
/// ```
public enum G711 {
    static let ulawTable: [Int16] = (0...255).map { expandULaw(UInt8($0)) }
    static let alawTable: [Int16] = (0...255).map { expandALaw(UInt8($0)) }

    /// µ-law byte to 16-bit linear.
    @inline(__always)
    public static func ulaw(_ byte: UInt8) -> Int16 { ulawTable.withUnsafeBufferPointer { $0[Int(byte)] } }

    /// A-law byte to 16-bit linear.
    @inline(__always)
    public static func alaw(_ byte: UInt8) -> Int16 { alawTable.withUnsafeBufferPointer { $0[Int(byte)] } }

    static func expandULaw(_ byte: UInt8) -> Int16 {
        let u = ~byte
        let t = ((Int32(u & 0x0F) << 3) + 0x84) << Int32((u & 0x70) >> 4)
        return Int16(truncatingIfNeeded: (u & 0x80) != 0 ? 0x84 - t : t - 0x84)
    }

    static func expandALaw(_ byte: UInt8) -> Int16 {
        let a = byte ^ 0x55
        var t = Int32(a & 0x0F) << 4
        let seg = Int32((a & 0x70) >> 4)
        switch seg {
        case 0: t += 8
        case 1: t += 0x108
        default: t += 0x108; t <<= seg - 1
        }
        return Int16(truncatingIfNeeded: (a & 0x80) != 0 ? t : -t)
    }

    /// 16-bit linear to µ-law (G.191 linear2ulaw on the 14-bit magnitude, bias 0x84, clip 8159).
    @inline(__always)
    public static func ulawEncode(_ sample: Int16) -> UInt8 {
        var pcm = Int32(sample) >> 2
        let mask: Int32
        if pcm < 0 { pcm = -pcm; mask = 0x7F } else { mask = 0xFF }
        if pcm > 8159 { pcm = 8159 }
        pcm += 0x84 >> 2
        var seg: Int32 = 0
        var limit: Int32 = 0x3F
        while seg < 8 && pcm > limit { seg += 1; limit = (limit << 1) | 1 }
        if seg >= 8 { return UInt8(0x7F ^ mask) }
        let uval = (seg << 4) | ((pcm >> (seg + 1)) & 0x0F)
        return UInt8(truncatingIfNeeded: uval ^ mask)
    }

    /// 16-bit linear to A-law (G.191 linear2alaw on the 13-bit magnitude).
    @inline(__always)
    public static func alawEncode(_ sample: Int16) -> UInt8 {
        var pcm = Int32(sample) >> 3
        let mask: Int32
        if pcm >= 0 { mask = 0xD5 } else { mask = 0x55; pcm = -pcm - 1 }
        var seg: Int32 = 0
        var limit: Int32 = 0x1F
        while seg < 8 && pcm > limit { seg += 1; limit = (limit << 1) | 1 }
        if seg >= 8 { return UInt8(truncatingIfNeeded: 0x7F ^ mask) }
        var aval = seg << 4
        aval |= seg < 2 ? (pcm >> 1) & 0x0F : (pcm >> seg) & 0x0F
        return UInt8(truncatingIfNeeded: aval ^ mask)
    }
}
