import COSIP2

/// An SDP body (RFC 4566), parsed and serialized by libosip2's `sdp_message`.
///
/// ```swift
/// let sdp = try SessionDescription(parsing: invite.body)
/// sdp.media[0].port                       // 6000, from "m=audio 6000 RTP/AVP 0"
/// try sdp.anchor(media: 0, address: "127.0.0.1", port: 20000)
/// invite.setBody(try sdp.serialize(), contentType: "application/sdp")
/// ```
public final class SessionDescription {
    let raw: UnsafeMutablePointer<sdp_message_t>

    /// The first SDP edit that failed; ``serialize()`` throws it (as
    /// ``SIPMessage/buildError``): an offer rewritten only in part is never sent.
    private var edits = OSIPEdits(prefix: "SDP: ")
    public var buildError: SIPError? { edits.failure }

    @discardableResult
    func osipCheck(_ rc: Int32, _ what: @autoclosure () -> String) -> Bool { edits.check(rc, what()) }
    @discardableResult
    func checkValue(_ value: String, _ name: String) -> Bool { edits.checkValue(value, name) }

    /// One m= line and the connection address that applies to it.
    public struct Media: Sendable, Equatable {
        public var kind: String
        public var port: Int
        public var proto: String
        public var address: String
        public var rtcpPort: Int?
    }

    public init(parsing bytes: [UInt8]) throws(SIPError) {
        guard !bytes.isEmpty else { throw .badSDP("empty body") }
        var s: UnsafeMutablePointer<sdp_message_t>?
        guard sdp_message_init(&s) == 0, let s else { throw .badSDP("sdp_message_init failed") }
        raw = s
        let text = String(decoding: SessionDescription.crlfLines(bytes), as: UTF8.self)
        guard sdp_message_parse(s, text) == 0 else { throw .badSDP("libosip2 could not parse it") }
        let m = media
        guard !m.isEmpty else { throw .badSDP("no m= line") }
        for item in m {
            guard item.port >= 0 && item.port <= 65535 else { throw .badSDP("port \(item.port) out of range") }
            guard SessionDescription.isIPAddress(item.address) else { throw .badSDP("bad connection address '\(item.address)'") }
        }
    }

    deinit { sdp_message_free(raw) }

    /// Every line ending as CRLF. RFC 4566 lets a parser accept a bare LF; libosip2 5.3.0
    /// reads past its buffer on an `m=` line without formats that ends in a lone CR or LF
    /// at the end of the body (found by the `sdp` fuzz target, regression
    /// tools/fuzz/regressions/sdp/m-line-bare-terminator): it only ever sees CRLF.
    static func crlfLines(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x0D || b == 0x0A {
                out.append(0x0D)
                out.append(0x0A)
                if b == 0x0D, i + 1 < bytes.count, bytes[i + 1] == 0x0A { i += 1 }
            } else {
                out.append(b)
            }
            i += 1
        }
        return out
    }

    /// The media lines with their effective connection addresses.
    public var media: [Media] {
        (0..<Int(baton_sdp_media_count(raw))).compactMap { i -> Media? in
            let i32 = Int32(i)
            guard let kind = baton_sdp_media_field(raw, i32, 0), let port = baton_sdp_media_field(raw, i32, 1) else { return nil }
            let proto = baton_sdp_media_field(raw, i32, 2).map { String(cString: $0) } ?? ""
            let addr = (baton_sdp_media_caddr(raw, i32) ?? baton_sdp_session_caddr(raw)).map { String(cString: $0) } ?? ""
            let rtcp = Int(baton_sdp_media_rtcp_port(raw, i32))
            return Media(kind: String(cString: kind), port: Int(String(cString: port).split(separator: "/").first ?? "") ?? -1,
                         proto: proto, address: addr, rtcpPort: rtcp > 0 ? rtcp : nil)
        }
    }

    /// Points media `index` at an anchored address and port (c=, o=, m= and a=rtcp: rewritten).
    public func anchor(media index: Int, address: String, port: Int) throws(SIPError) {
        let type = address.contains(":" as Character) ? "IP6" : "IP4"
        guard baton_sdp_anchor(raw, Int32(index), address, type, Int32(port)) == 0 else { throw .badSDP("no media \(index)") }
    }

    /// Removes ICE attributes (a=candidate, a=ice-ufrag, ...): Baton anchors, so the
    /// parties must not try to reach each other directly (rtpengine `ICE=remove`).
    public func removeICE() { baton_sdp_strip_ice(raw) }

    /// Sets every m= line's transport protocol (rtpengine `transport-protocol`).
    public func setTransportProtocol(_ proto: String) {
        for i in 0..<Int(baton_sdp_media_count(raw)) { osipCheck(baton_sdp_set_proto(raw, Int32(i), proto), "setting m=\(i)'s protocol") }
    }

    public func serialize() throws(SIPError) -> [UInt8] {
        if let buildError { throw buildError }
        var dest: UnsafeMutablePointer<CChar>?
        guard sdp_message_to_str(raw, &dest) == 0, let dest else { throw .serialize("sdp_message_to_str failed") }
        defer { baton_osip_free(dest) }
        return Array(String(cString: dest).utf8)
    }

    /// True for a dotted IPv4 or an IPv6 literal (0.0.0.0, the RFC 2543 hold address, included).
    public static func isIPAddress(_ s: String) -> Bool {
        if s.contains(":" as Character) { return s.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." } && s.count >= 2 }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in p.count <= 3 && !p.isEmpty && p.allSatisfy(\.isNumber) && Int(p)! <= 255 }
    }
}
