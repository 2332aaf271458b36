import COSIP2

/// One format of an m= line: payload type, its `a=rtpmap` (or the RFC 3551 static
/// defaults) and its `a=fmtp`.
public struct PayloadFormat: Sendable, Equatable {
    public var payloadType: Int
    /// Encoding name as written ("PCMU", "opus", "telephone-event").
    public var encoding: String
    public var clockRate: Int
    public var channels: Int?
    public var fmtp: String?

    public init(payloadType: Int, encoding: String, clockRate: Int, channels: Int? = nil, fmtp: String? = nil) {
        self.payloadType = payloadType; self.encoding = encoding; self.clockRate = clockRate
        self.channels = channels; self.fmtp = fmtp
    }

    /// RFC 3551 static payload types a format list may use without a=rtpmap.
    static let staticTypes: [Int: (String, Int)] = [
        0: ("PCMU", 8000), 3: ("GSM", 8000), 4: ("G723", 8000), 8: ("PCMA", 8000), 9: ("G722", 8000),
        13: ("CN", 8000), 18: ("G729", 8000),
    ]

    public var isTelephoneEvent: Bool { encoding.lowercased() == "telephone-event" }
    /// Comfort noise and events are not the stream's codec.
    public var isAudioCodec: Bool { !isTelephoneEvent && encoding.uppercased() != "CN" }

    /// `a=rtpmap:` value.
    public var rtpmap: String { "\(payloadType) \(encoding)/\(clockRate)" + (channels.map { "/\($0)" } ?? "") }
}

extension SessionDescription {
    /// Formats of media `index` in m= order, with their rtpmap/fmtp (static types filled in).
    public func formats(media index: Int) -> [PayloadFormat] {
        let i32 = Int32(index)
        var maps: [Int: (String, Int, Int?)] = [:]
        var fmtps: [Int: String] = [:]
        for (field, value) in attributes(media: index) {
            guard let value else { continue }
            let parts = value.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let pt = Int(parts[0]) else { continue }
            if field == "rtpmap" {
                let enc = parts[1].split(separator: "/")
                guard enc.count >= 2, let rate = Int(enc[1]) else { continue }
                maps[pt] = (String(enc[0]), rate, enc.count > 2 ? Int(enc[2]) : nil)
            } else if field == "fmtp" {
                fmtps[pt] = String(parts[1])
            }
        }
        return (0..<Int(baton_sdp_format_count(raw, i32))).compactMap { k -> PayloadFormat? in
            guard let f = baton_sdp_format(raw, i32, Int32(k)), let pt = Int(String(cString: f)) else { return nil }
            if let m = maps[pt] { return PayloadFormat(payloadType: pt, encoding: m.0, clockRate: m.1, channels: m.2, fmtp: fmtps[pt]) }
            if let s = PayloadFormat.staticTypes[pt] { return PayloadFormat(payloadType: pt, encoding: s.0, clockRate: s.1, fmtp: fmtps[pt]) }
            return PayloadFormat(payloadType: pt, encoding: "unknown", clockRate: 8000, fmtp: fmtps[pt])
        }
    }

    /// Replaces media `index`'s format list and its a=rtpmap / a=fmtp lines.
    public func setFormats(media index: Int, _ formats: [PayloadFormat]) {
        let i32 = Int32(index)
        osipCheck(baton_sdp_clear_formats(raw, i32), "clearing m=\(index)'s formats")
        for f in formats { osipCheck(baton_sdp_add_format(raw, i32, String(f.payloadType)), "adding format \(f.payloadType)") }
        removeAttributes(media: index) { field, _ in field == "rtpmap" || field == "fmtp" }
        for f in formats {
            addAttribute(media: index, "rtpmap", f.rtpmap)
            if let fmtp = f.fmtp { addAttribute(media: index, "fmtp", "\(f.payloadType) \(fmtp)") }
        }
    }

    /// The attributes of media `index` (-1: session level), in order.
    public func attributes(media index: Int) -> [(field: String, value: String?)] {
        let i32 = Int32(index)
        return (0..<Int(baton_sdp_attr_count(raw, i32))).compactMap { k in
            guard let f = baton_sdp_attr(raw, i32, Int32(k), 0) else { return nil }
            return (String(cString: f), baton_sdp_attr(raw, i32, Int32(k), 1).map { String(cString: $0) })
        }
    }

    public func removeAttributes(media index: Int, where match: (String, String?) -> Bool) {
        let i32 = Int32(index)
        var k: Int32 = 0
        while k < baton_sdp_attr_count(raw, i32) {
            let field = baton_sdp_attr(raw, i32, k, 0).map { String(cString: $0) } ?? ""
            let value = baton_sdp_attr(raw, i32, k, 1).map { String(cString: $0) }
            // A failed removal moves on too: the loop always ends.
            if match(field, value), osipCheck(baton_sdp_attr_remove(raw, i32, k), "removing a=\(field)") { continue }
            k += 1
        }
    }

    public func addAttribute(media index: Int, _ field: String, _ value: String?) {
        guard checkValue(field + (value ?? ""), "a=\(field)") else { return }
        osipCheck(baton_sdp_attr_add(raw, Int32(index), field, value), "adding a=\(field)")
    }

    /// SDES `a=crypto` lines of media `index` (malformed ones are skipped).
    public func crypto(media index: Int) -> [SDESCrypto] {
        attributes(media: index).compactMap { $0.field == "crypto" ? $0.value.flatMap(SDESCrypto.init(parsing:)) : nil }
    }

    /// Replaces media `index`'s a=crypto lines.
    public func setCrypto(media index: Int, _ lines: [SDESCrypto]) {
        removeAttributes(media: index) { field, _ in field == "crypto" }
        for c in lines { addAttribute(media: index, "crypto", c.attributeValue) }
    }

    /// Sets one m= line's transport protocol.
    public func setTransportProtocol(media index: Int, _ proto: String) {
        osipCheck(baton_sdp_set_proto(raw, Int32(index), proto), "setting m=\(index)'s protocol")
    }
}
