/// A bencode value (BitTorrent encoding), the body of rtpengine's ng control protocol.
///
/// ```swift
/// let v = try Bencode.decode(Array("d7:command4:pinge".utf8))
/// v["command"]?.string            // "ping"
/// Bencode.dictionary(["result": "pong"]).encoded   // "d6:result4:ponge"
/// ```
public enum Bencode: Sendable, Equatable {
    case integer(Int)
    case bytes([UInt8])
    case list([Bencode])
    /// Keys in the order they were decoded (bencode requires sorted keys on output).
    case dictionary([(String, Bencode)])

    public static func == (l: Bencode, r: Bencode) -> Bool {
        switch (l, r) {
        case let (.integer(a), .integer(b)): return a == b
        case let (.bytes(a), .bytes(b)): return a == b
        case let (.list(a), .list(b)): return a == b
        case let (.dictionary(a), .dictionary(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// Decoding failures, said as the ng error-reason rtpengine uses where it has one.
    public enum DecodeError: Error, Equatable, CustomStringConvertible {
        case truncated
        case unexpected(UInt8, at: Int)
        case badInteger(at: Int)
        case tooDeep
        case tooLarge
        case trailingData
        public var description: String {
            switch self {
            case .truncated: return "Failed to decode bencode: truncated"
            case let .unexpected(b, i): return "Failed to decode bencode: unexpected byte 0x\(String(b, radix: 16)) at \(i)"
            case .badInteger(let i): return "Failed to decode bencode: bad integer at \(i)"
            case .tooDeep: return "Failed to decode bencode: nested too deep"
            case .tooLarge: return "Failed to decode bencode: too many elements"
            case .trailingData: return "Failed to decode bencode: trailing data"
            }
        }
    }

    public static func string(_ s: String) -> Bencode { .bytes(Array(s.utf8)) }

    public subscript(key: String) -> Bencode? {
        guard case .dictionary(let d) = self else { return nil }
        return d.first { $0.0 == key }?.1
    }

    public var string: String? {
        if case .bytes(let b) = self { return String(decoding: b, as: UTF8.self) }
        if case .integer(let i) = self { return String(i) }
        return nil
    }
    public var int: Int? {
        if case .integer(let i) = self { return i }
        if case .bytes(let b) = self { return Int(String(decoding: b, as: UTF8.self)) }
        return nil
    }
    public var list: [Bencode]? { if case .list(let l) = self { return l } else { return nil } }
    /// The strings of a list (non-strings skipped), as ng flags are sent.
    public var strings: [String] { list?.compactMap(\.string) ?? [] }

    // MARK: Decoding

    /// Decodes one value that must span all of `bytes`. Bounded: depth ≤ 32, elements ≤ 10 000.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(DecodeError) -> Bencode {
        var p = Parser(bytes: bytes, i: bytes.startIndex)
        let v = try p.value(depth: 0)
        guard p.i == bytes.endIndex else { throw .trailingData }
        return v
    }
    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> Bencode { try decode(bytes[...]) }

    struct Parser {
        let bytes: ArraySlice<UInt8>
        var i: Int
        var elements = 0

        mutating func peek() throws(DecodeError) -> UInt8 {
            guard i < bytes.endIndex else { throw .truncated }
            return bytes[i]
        }

        mutating func number(until end: UInt8) throws(DecodeError) -> Int {
            let start = i
            var negative = false
            if try peek() == UInt8(ascii: "-") { negative = true; i += 1 }
            var n = 0, digits = 0
            while try peek() != end {
                let c = bytes[i]
                guard c >= 0x30 && c <= 0x39, digits < 18 else { throw .badInteger(at: start) }
                n = n * 10 + Int(c - 0x30)
                digits += 1
                i += 1
            }
            guard digits > 0 else { throw .badInteger(at: start) }
            i += 1
            return negative ? -n : n
        }

        mutating func value(depth: Int) throws(DecodeError) -> Bencode {
            guard depth < 32 else { throw .tooDeep }
            elements += 1
            guard elements <= 10_000 else { throw .tooLarge }
            let c = try peek()
            switch c {
            case UInt8(ascii: "i"):
                i += 1
                return .integer(try number(until: UInt8(ascii: "e")))
            case UInt8(ascii: "l"):
                i += 1
                var out: [Bencode] = []
                while try peek() != UInt8(ascii: "e") { out.append(try value(depth: depth + 1)) }
                i += 1
                return .list(out)
            case UInt8(ascii: "d"):
                i += 1
                var out: [(String, Bencode)] = []
                while try peek() != UInt8(ascii: "e") {
                    guard case .bytes(let k) = try value(depth: depth + 1) else { throw .unexpected(bytes[i - 1], at: i - 1) }
                    out.append((String(decoding: k, as: UTF8.self), try value(depth: depth + 1)))
                }
                i += 1
                return .dictionary(out)
            case 0x30...0x39:
                let len = try number(until: UInt8(ascii: ":"))
                guard len <= bytes.endIndex - i else { throw .truncated }
                defer { i += len }
                return .bytes(Array(bytes[i..<(i + len)]))
            default:
                throw .unexpected(c, at: i)
            }
        }
    }

    // MARK: Encoding

    public var encoded: [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    public func encode(into out: inout [UInt8]) {
        switch self {
        case .integer(let n):
            out.append(UInt8(ascii: "i")); Bencode.appendDecimal(n, to: &out); out.append(UInt8(ascii: "e"))
        case .bytes(let b):
            Bencode.appendDecimal(b.count, to: &out); out.append(UInt8(ascii: ":")); out += b
        case .list(let l):
            out.append(UInt8(ascii: "l")); l.forEach { $0.encode(into: &out) }; out.append(UInt8(ascii: "e"))
        case .dictionary(let d):
            out.append(UInt8(ascii: "d"))
            // Keys go out in byte order. Replies are mostly built in that order already: check
            // first (no allocation), sort only when needed.
            let precedes = { (a: (String, Bencode), b: (String, Bencode)) in a.0.utf8.lexicographicallyPrecedes(b.0.utf8) }
            var sorted = true
            var i = 1
            while i < d.count { if !precedes(d[i - 1], d[i]) { sorted = false; break }; i += 1 }
            for (k, v) in sorted ? d : d.sorted(by: precedes) {
                Bencode.appendDecimal(k.utf8.count, to: &out)
                out.append(UInt8(ascii: ":"))
                out += k.utf8
                v.encode(into: &out)
            }
            out.append(UInt8(ascii: "e"))
        }
    }

    /// Decimal digits of `n` without building a String.
    static func appendDecimal(_ n: Int, to out: inout [UInt8]) {
        if n < 0 { out.append(UInt8(ascii: "-")) }
        var m = n.magnitude
        if m < 10 { out.append(UInt8(ascii: "0") + UInt8(m)); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buf in
            while m > 0 { buf[count] = UInt8(ascii: "0") + UInt8(m % 10); m /= 10; count += 1 }
            var k = count - 1
            while k >= 0 { out.append(buf[k]); k -= 1 }
        }
    }
}

extension Bencode: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .integer(value) }
}

extension Bencode: ExpressibleByDictionaryLiteral, ExpressibleByArrayLiteral {
    public init(dictionaryLiteral elements: (String, Bencode)...) { self = .dictionary(elements) }
    public init(arrayLiteral elements: Bencode...) { self = .list(elements) }
}
