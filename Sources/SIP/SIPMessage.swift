import COSIP2
import Foundation

/// A SIP request or response, parsed and serialized by libosip2.
///
/// ```swift
/// let invite = try SIPMessage.parse(Array(text.utf8))
/// invite.method            // "INVITE"
/// invite.callID            // "a84b4c76e66710"
/// let ringing = try invite.makeResponse(180, "Ringing", toTag: "x1")
/// let wire = try ringing.serialize()
/// ```
/// The type owns its `osip_message_t` and frees it in `deinit`. It is not thread-safe:
/// a message lives on the SIP event loop.
public final class SIPMessage: CustomStringConvertible {
    let raw: UnsafeMutablePointer<osip_message_t>

    /// The first edit that failed while this message was built (a value libosip2 refused,
    /// memory, a value with a line break); ``serialize()`` throws it.
    private var edits = OSIPEdits()
    public var buildError: SIPError? { edits.failure }

    @discardableResult
    func osipCheck(_ rc: Int32, _ what: @autoclosure () -> String) -> Bool { edits.check(rc, what()) }

    /// Runs a throwing edit and keeps its failure as ``buildError`` (the message then refuses
    /// to serialize) instead of dropping it: for edits at call sites that build a message
    /// and hand it on, where throwing would only move the same check elsewhere.
    public func edit(_ body: (SIPMessage) throws -> Void) {
        do { try body(self) } catch { edits.record((error as? SIPError) ?? .serialize("\(error)")) }
    }

    /// Header values Baton writes must not carry line breaks or NUL (header injection).
    @discardableResult
    func checkValue(_ value: String, _ name: String) -> Bool { edits.checkValue(value, name) }

    private static let parserReady: Void = {
        _ = parser_init()
        // libosip2 prints its own trace to stderr for every bad message, bypassing Baton's
        // rate-limited logging; the SIPError Baton logs says the same.
        baton_osip_quiet()
    }()

    private init(raw: UnsafeMutablePointer<osip_message_t>) { self.raw = raw }

    deinit { osip_message_free(raw) }

    private static func fresh() -> SIPMessage {
        _ = parserReady
        var m: UnsafeMutablePointer<osip_message_t>?
        osip_message_init(&m)
        return SIPMessage(raw: m!)
    }

    /// Parses and validates one whole message (a UDP datagram or a TCP-framed message).
    public static func parse(_ bytes: [UInt8], maxSize: Int = 65535) throws(SIPError) -> SIPMessage {
        let m = try parseUnvalidated(bytes, maxSize: maxSize)
        try m.validate(received: bytes.count - (SIPFraming.headerEnd(bytes) ?? bytes.count))
        return m
    }

    /// Parses without the mandatory-header checks, so a server can still answer a request
    /// that fails them (call ``validate(received:)`` next).
    public static func parseUnvalidated(_ bytes: [UInt8], maxSize: Int = 65535) throws(SIPError) -> SIPMessage {
        guard bytes.count <= maxSize else { throw .tooLarge(bytes.count) }
        guard SIPFraming.headerEnd(bytes) != nil else { throw .malformed("no end of headers") }
        // A method is any token (RFC 3261 §25.1: "!interesting-Method..." is one, RFC 4475
        // §3.1.1.2); a start line never begins with a space or a control character.
        guard bytes.first.map({ $0 > 0x20 && $0 < 0x7F }) == true else { throw .malformed("no request or status line") }
        let m = fresh()
        guard m.osipParse(bytes[...]) else {
            // libosip2 refuses a body shorter than Content-Length: name that precisely.
            if let end = SIPFraming.headerEnd(bytes),
               let declared = SIPFraming.contentLength(headers: bytes[..<end]), declared > bytes.count - end {
                throw .badContentLength(declared: declared, received: bytes.count - end)
            }
            throw .malformed("libosip2 rejected the message")
        }
        if m.isRequest, m.raw.pointee.req_uri == nil { throw .malformed("bad Request-URI") }
        return m
    }

    /// The header block of a message whose body is shorter than its Content-Length, parsed
    /// without that header, so a server can still answer 400 Bad Content-Length.
    public static func headersOfTruncated(_ bytes: [UInt8]) -> SIPMessage? {
        guard let end = SIPFraming.headerEnd(bytes) else { return nil }
        let kept = SIPFraming.droppingContentLength(headers: bytes[..<end])
        let m = fresh()
        return m.osipParse(kept[...]) ? m : nil
    }

    /// What can still be answered of a request libosip2 refused as a whole (a quoted string
    /// left open, a bracketed Request-URI, extra spaces in the start line, a header given
    /// twice): its method and the headers a response copies (Via, From, To, Call-ID, CSeq;
    /// the first of each but Via), parsed on their own. nil for a response, or when even
    /// those do not parse. The answer then goes where the Vias say, as for any request.
    public static func salvageRequest(_ bytes: [UInt8]) -> SIPMessage? {
        guard let end = SIPFraming.headerEnd(bytes) else { return nil }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        guard let start = lines.first, !start.hasPrefix("SIP/"),
              let method = start.split(separator: " ").first, method.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else { return nil }
        var kept: [String] = []
        var seen: Set<String> = []
        var keeping = false
        let names = ["via": "via", "v": "via", "from": "from", "f": "from", "to": "to", "t": "to",
                     "call-id": "call-id", "i": "call-id", "cseq": "cseq"]
        for line in lines.dropFirst() where !line.isEmpty {
            if line.first == " " || line.first == "\t" {
                if keeping { kept.append(line) }
                continue
            }
            let name = line.split(separator: ":", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard let canonical = names[name], canonical == "via" || !seen.contains(canonical) else { keeping = false; continue }
            seen.insert(canonical)
            kept.append(line)
            keeping = true
        }
        let text = "\(method) sip:invalid.invalid SIP/2.0\r\n" + kept.map { $0 + "\r\n" }.joined() + "Content-Length: 0\r\n\r\n"
        let m = fresh()
        guard m.osipParse(Array(text.utf8)[...]), m.viaCount > 0, m.callID != nil, m.from != nil,
              m.to != nil, m.cseqNumber != nil else { return nil }
        return m
    }

    /// The Request-URI schemes Baton routes.
    public static let routedSchemes: Set<String> = ["sip", "sips", "tel"]

    /// The scheme of a request start line's URI ("soap.beep" of "OPTIONS soap.beep://h SIP/2.0").
    static func startLineScheme(_ bytes: [UInt8]) -> String? {
        let line = bytes.prefix { $0 != 0x0D && $0 != 0x0A }
        let parts = String(decoding: line, as: UTF8.self).split(separator: " ")
        guard parts.count >= 3, !parts[0].hasPrefix("SIP/"), let colon = parts[1].firstIndex(of: ":") else { return nil }
        let scheme = parts[1][..<colon].lowercased()
        return scheme.isEmpty || scheme.contains("<") ? nil : scheme
    }

    private func osipParse(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { osip_message_parse(raw, $0.baseAddress, $0.count) }
        } == 0
    }

    /// Checks the headers RFC 3261 §8.1.1 requires and Content-Length against `received` body bytes.
    public func validate(received: Int) throws(SIPError) {
        if let v = version, v.uppercased() != "SIP/2.0" { throw .versionNotSupported(v) }
        if !isRequest, !(100...699).contains(statusCode) { throw .malformed("status code out of range") }
        // A Request-URI never carries headers (RFC 3261 §19.1.5; RFC 4475 §3.1.2.11).
        if isRequest, baton_osip_req_uri_has_headers(raw) != 0 { throw .malformed("Request-URI with headers") }
        guard baton_osip_via_count(raw) > 0 else { throw .missingHeader("Via") }
        guard raw.pointee.from != nil else { throw .missingHeader("From") }
        guard raw.pointee.to != nil else { throw .missingHeader("To") }
        guard raw.pointee.call_id != nil else { throw .missingHeader("Call-ID") }
        guard cseqNumber != nil, let cm = cseqMethod else { throw .missingHeader("CSeq") }
        if let method, cm.uppercased() != method.uppercased() { throw .malformed("CSeq method \(cm) differs from \(method)") }
        let declared = Int(baton_osip_content_length(raw))
        if declared < 0 { throw .malformed("negative Content-Length") }
        if declared > received { throw .badContentLength(declared: declared, received: received) }
    }

    /// Serializes to wire bytes.
    public func serialize() throws(SIPError) -> [UInt8] {
        var dest: UnsafeMutablePointer<CChar>?
        var len = 0
        if let buildError { throw buildError }
        guard osip_message_force_update(raw) == 0 else { throw .serialize("osip_message_force_update failed") }
        guard osip_message_to_str(raw, &dest, &len) == 0, let dest else { throw .serialize("osip_message_to_str failed") }
        defer { baton_osip_free(dest) }
        return dest.withMemoryRebound(to: UInt8.self, capacity: len) { Array(UnsafeBufferPointer(start: $0, count: len)) }
    }

    public var description: String {
        (try? serialize()).map { String(decoding: $0, as: UTF8.self) } ?? "<unserializable SIP message>"
    }

    /// A deep copy.
    public func clone() -> SIPMessage {
        var copy: UnsafeMutablePointer<osip_message_t>?
        osip_message_clone(raw, &copy)
        return SIPMessage(raw: copy!)
    }

    // MARK: Start line

    public var isRequest: Bool { baton_osip_is_request(raw) != 0 }
    public var method: String? { raw.pointee.sip_method.map { String(cString: $0) } }
    public var statusCode: Int { Int(raw.pointee.status_code) }
    public var reasonPhrase: String? { raw.pointee.reason_phrase.map { String(cString: $0) } }

    public var requestURI: SIPURI? { SIPURI(baton_osip_req_uri_ptr(raw)) }
    /// The Request-URI's scheme, lower-cased ("sip", "sips", "tel", or what a peer sent).
    public var requestURIScheme: String? { take(baton_osip_req_uri_scheme(raw))?.lowercased() }
    /// The start line's protocol version ("SIP/2.0").
    public var version: String? { take(baton_osip_version(raw)) }
    /// The Accept header's media types ("application/sdp"), in order; empty without one.
    public var accepts: [String] { (0..<Int(baton_osip_accept_count(raw))).compactMap { take(baton_osip_accept(raw, Int32($0))) } }
    /// Changes the method of a request (the CSeq method is set separately).
    public func setMethod(_ method: String) {
        baton_osip_free(raw.pointee.sip_method)
        raw.pointee.sip_method = osip_strdup(method)
    }
    public func setRequestURI(_ uri: String) throws(SIPError) {
        guard baton_osip_set_req_uri(raw, uri) == 0 else { throw .malformed("bad URI \(uri)") }
    }

    // MARK: Dialog headers

    public var callID: String? { take(baton_osip_call_id(raw)) }
    public var from: String? { take(baton_osip_from(raw)) }
    public var to: String? { take(baton_osip_to(raw)) }
    public var fromTag: String? { take(baton_osip_from_tag(raw)) }
    public var toTag: String? { take(baton_osip_to_tag(raw)) }
    public var fromURI: SIPURI? { SIPURI(baton_osip_from_uri(raw)) }
    public var toURI: SIPURI? { SIPURI(baton_osip_to_uri(raw)) }
    public var cseqNumber: UInt32? { take(baton_osip_cseq_number(raw)).flatMap { UInt32($0) } }
    public var cseqMethod: String? { take(baton_osip_cseq_method(raw)) }

    public func setToTag(_ tag: String) { if checkValue(tag, "To tag") { osipCheck(baton_osip_set_to_tag(raw, tag), "setting the To tag") } }
    public func setFrom(_ value: String) throws(SIPError) {
        guard baton_osip_replace_from(raw, value) == 0 else { throw .malformed("bad From \(value)") }
    }
    public func setTo(_ value: String) throws(SIPError) {
        guard baton_osip_replace_to(raw, value) == 0 else { throw .malformed("bad To \(value)") }
    }
    public func setCallID(_ value: String) throws(SIPError) {
        guard baton_osip_replace_call_id(raw, value) == 0 else { throw .malformed("bad Call-ID \(value)") }
    }
    public func setCSeq(_ number: UInt32, _ method: String) throws(SIPError) {
        guard baton_osip_replace_cseq(raw, "\(number) \(method)") == 0 else { throw .malformed("bad CSeq") }
    }

    // MARK: Via

    public var viaCount: Int { Int(baton_osip_via_count(raw)) }
    public func via(_ i: Int) -> String? { take(baton_osip_via(raw, Int32(i))) }
    public func viaParameter(_ i: Int, _ name: String) -> String? { take(baton_osip_via_param(raw, Int32(i), name)) }
    public var topViaBranch: String? { viaParameter(0, "branch") }
    public var topViaHost: String? { take(baton_osip_via_host(raw, 0)) }
    public var topViaPort: Int { Int(baton_osip_via_port(raw, 0)) }
    public var topViaTransport: String? { take(baton_osip_via_protocol(raw, 0)) }
    public func setTopViaParameter(_ name: String, _ value: String?) {
        guard checkValue(name + (value ?? ""), "Via parameter") else { return }
        osipCheck(baton_osip_via_set_param(raw, 0, name, value), "setting Via parameter \(name)")
    }
    public func prependVia(_ via: String) throws(SIPError) {
        guard baton_osip_prepend_via(raw, via) == 0 else { throw .malformed("bad Via \(via)") }
    }
    public func removeTopVia() { osipCheck(baton_osip_remove_via(raw, 0), "removing the top Via (none)") }
    public func removeAllVias() { osipCheck(baton_osip_remove_all_vias(raw), "removing the Vias") }

    // MARK: Contact, routes and other headers

    public var contactCount: Int { Int(baton_osip_contact_count(raw)) }
    public func contact(_ i: Int) -> String? { take(baton_osip_contact(raw, Int32(i))) }
    public func contactURI(_ i: Int) -> SIPURI? { SIPURI(baton_osip_contact_uri(raw, Int32(i))) }
    public func contactParameter(_ i: Int, _ name: String) -> String? { take(baton_osip_contact_param(raw, Int32(i), name)) }
    public func setContact(_ value: String) throws(SIPError) {
        baton_osip_remove_contacts(raw)
        guard osip_message_set_contact(raw, value) == 0 else { throw .malformed("bad Contact \(value)") }
    }
    /// Adds a Contact after the existing ones.
    public func addContact(_ value: String) throws(SIPError) {
        guard osip_message_set_contact(raw, value) == 0 else { throw .malformed("bad Contact \(value)") }
    }
    /// Replaces the From tag (a B2BUA's new leg).
    public func setFromTag(_ tag: String) { if checkValue(tag, "From tag") { osipCheck(baton_osip_set_from_tag(raw, tag), "setting the From tag") } }
    public func removeContacts() { baton_osip_remove_contacts(raw) }
    public func removeRoutes() { baton_osip_remove_routes(raw) }
    /// The Route headers, in order.
    public var routes: [String] {
        (0..<Int(baton_osip_route_count(raw))).compactMap { take(baton_osip_route(raw, Int32($0))) }
    }
    /// Appends a Route header (a dialog's route set, RFC 3261 §12.2.1.1).
    public func addRoute(_ value: String) {
        if checkValue(value, "Route") { osipCheck(osip_message_set_route(raw, value), "adding a Route") }
    }
    public var recordRoutes: [String] {
        (0..<Int(baton_osip_record_route_count(raw))).compactMap { take(baton_osip_record_route(raw, Int32($0))) }
    }

    /// A header libosip2 keeps as generic (Expires, Max-Forwards, Retry-After, ...).
    public func header(_ name: String) -> String? { take(baton_osip_header(raw, name.lowercased(), 0)) }
    public func setHeader(_ name: String, _ value: String) {
        baton_osip_remove_header(raw, name.lowercased())
        if checkValue(name + value, name) { osipCheck(osip_message_set_header(raw, name, value), "setting header \(name)") }
    }
    public func removeHeader(_ name: String) { baton_osip_remove_header(raw, name.lowercased()) }
    /// Every value of a generic header (e.g. several Identity fields), in order.
    /// Removes every Authorization and Proxy-Authorization header: credentials are for the
    /// hop that challenged them and are never passed on.
    public func removeAuthorizations() { baton_osip_remove_authorizations(raw) }

    /// The Authorization (or, with `proxy`, Proxy-Authorization) headers as text, in order.
    public func authorizations(proxy: Bool) -> [String] {
        var out: [String] = []
        var i: Int32 = 0
        while i < 16, let h = take(baton_osip_authorization(raw, proxy ? 1 : 0, i)) { out.append(h); i += 1 }
        return out
    }

    public func headers(_ name: String) -> [String] {
        var pos: Int32 = 0
        var out: [String] = []
        let lower = name.lowercased()
        while let v = take(baton_osip_header_next(raw, lower, &pos)) { out.append(v) }
        return out
    }
    /// Appends one more value of a generic header.
    public func addHeader(_ name: String, _ value: String) {
        if checkValue(name + value, name) { osipCheck(osip_message_set_header(raw, name, value), "adding header \(name)") }
    }

    // MARK: Body

    public var contentType: String? { take(baton_osip_content_type(raw)) }
    public var body: [UInt8] {
        var len = 0
        guard let p = baton_osip_body(raw, &len), len > 0 else { return [] }
        return p.withMemoryRebound(to: UInt8.self, capacity: len) { Array(UnsafeBufferPointer(start: $0, count: len)) }
    }
    /// Replaces the body (empty removes it) and sets Content-Type and Content-Length.
    public func setBody(_ bytes: [UInt8], contentType: String?) {
        baton_osip_clear_body(raw)
        if !bytes.isEmpty {
            osipCheck(bytes.withUnsafeBufferPointer { b in
                b.withMemoryRebound(to: CChar.self) { osip_message_set_body(raw, $0.baseAddress, $0.count) }
            }, "setting the body")
            if let contentType, checkValue(contentType, "Content-Type") {
                osipCheck(osip_message_set_content_type(raw, contentType), "setting Content-Type \(contentType)")
            }
        }
        osipCheck(osip_message_set_content_length(raw, "\(bytes.count)"), "setting Content-Length")
    }

    // MARK: Building

    /// A response to this request with Via, From, To, Call-ID and CSeq copied (RFC 3261 §8.2.6).
    public func makeResponse(_ status: Int, _ reason: String, toTag: String? = nil) -> SIPMessage {
        let r = SIPMessage.fresh()
        r.osipCheck(baton_osip_set_status(r.raw, Int32(status), reason), "setting status \(status)")
        r.osipCheck(baton_osip_copy_dialog_headers(r.raw, raw), "copying Via, From, To, Call-ID and CSeq")
        // A dialog-creating response carries the request's Record-Route (RFC 3261 §12.1.1).
        if (101...299).contains(status), ["INVITE", "SUBSCRIBE"].contains(method ?? ""), baton_osip_record_route_count(raw) > 0 {
            r.osipCheck(baton_osip_copy_record_routes(r.raw, raw), "copying Record-Route")
        }
        if let toTag, r.toTag == nil { r.setToTag(toTag) }
        r.setBody([], contentType: nil)
        return r
    }

    /// A new request with the given start line and headers (values as on the wire).
    /// `via` may be nil when the transaction layer adds it on sending.
    public static func request(method: String, uri: String, via: String?, from: String, to: String,
                               callID: String, cseq: UInt32, contact: String?, maxForwards: Int = 70) throws(SIPError) -> SIPMessage {
        let m = fresh()
        guard baton_osip_set_request_line(m.raw, method, uri) == 0 else { throw .malformed("bad Request-URI \(uri)") }
        if let via { try m.prependVia(via) }
        guard osip_message_set_from(m.raw, from) == 0 else { throw .malformed("bad From \(from)") }
        guard osip_message_set_to(m.raw, to) == 0 else { throw .malformed("bad To \(to)") }
        guard osip_message_set_call_id(m.raw, callID) == 0 else { throw .malformed("bad Call-ID") }
        try m.setCSeq(cseq, method)
        if let contact { try m.setContact(contact) }
        m.setHeader("Max-Forwards", "\(maxForwards)")
        m.setBody([], contentType: nil)
        return m
    }
}

/// Takes ownership of a libosip2-allocated C string.
@inline(__always) func take(_ p: UnsafeMutablePointer<CChar>?) -> String? {
    guard let p else { return nil }
    defer { baton_osip_free(p) }
    return String(cString: p)
}

/// The parts of a SIP URI Baton routes on.
public struct SIPURI: Sendable, Hashable, CustomStringConvertible {
    public var user: String?
    public var host: String
    public var port: Int?
    public var transport: String?
    /// The URI as libosip2 serialized it.
    public var text: String

    init?(_ p: UnsafePointer<osip_uri_t>?) {
        guard let p, let host = take(baton_osip_uri_host(p)), let text = take(baton_osip_uri_str(p)) else { return nil }
        self.host = host
        self.user = take(baton_osip_uri_user(p))
        let port = Int(baton_osip_uri_port(p))
        self.port = port > 0 ? port : nil
        self.transport = take(baton_osip_uri_transport(p))?.lowercased()
        self.text = text
    }

    /// Parses a SIP URI ("sip:alice@127.0.0.1:5070"); nil when libosip2 rejects it.
    public init?(parsing text: String) {
        guard let u = baton_osip_uri_parse(text) else { return nil }
        defer { baton_osip_uri_free(u) }
        self.init(UnsafePointer(u))
    }

    /// The URI text of a name-addr or addr-spec header value:
    /// "Name <sip:x@h>;tag=1" -> "sip:x@h", "sip:x@h;tag=1" -> "sip:x@h".
    public static func addressText(_ header: String) -> String {
        let v = header.trimmedSpaces
        if let o = v.firstIndex(of: "<"), let c = v[o...].firstIndex(of: ">") {
            return String(v[v.index(after: o)..<c])
        }
        return String(v.split(separator: ";").first ?? Substring(v))
    }

    /// Address-of-record key: "user@host" (lower-cased host).
    public var aor: String { (user.map { "\($0)@" } ?? "") + host.lowercased() }
    public var description: String { text }
}

/// Finds message boundaries on a byte stream (TCP) and the end of the header block.
/// This is framing only; libosip2 parses the message itself.
public enum SIPFraming {
    /// The Content-Length of a header block (long or compact form), 0 when absent, nil when unreadable.
    /// Only a stream transport needs it before libosip2 sees the message (RFC 3261 §18.3).
    public static func contentLength(headers b: ArraySlice<UInt8>) -> Int? {
        let text = String(decoding: b, as: UTF8.self)
        for line in text.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmedSpaces.lowercased()
            if name == "content-length" || name == "l" {
                return Int(line[line.index(after: colon)...].trimmedSpaces)
            }
        }
        return 0
    }

    /// The header block without its Content-Length line (for answering a truncated message).
    static func droppingContentLength(headers b: ArraySlice<UInt8>) -> [UInt8] {
        let text = String(decoding: b, as: UTF8.self)
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: false).filter { line in
            guard let colon = line.firstIndex(of: ":") else { return true }
            let name = line[..<colon].trimmedSpaces.lowercased()
            return name != "content-length" && name != "l"
        }
        return Array(lines.joined(separator: "\r\n").utf8)
    }

    /// Index just past the blank line ending the headers, if present.
    public static func headerEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        var i = 0
        while i + 3 < b.count {
            if b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i + 4 }
            i += 1
        }
        return nil
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs (SIP's LWS on one line).
    /// Foundation's `trimmingCharacters(in: .whitespaces)` goes through NSString and a
    /// CharacterSet: it was ~2 % of the SIP loop's CPU on the call path.
    public var trimmedSpaces: String {
        let whole = Substring(self)
        let u = whole.utf8
        var start = u.startIndex, end = u.endIndex
        while start < end, u[start] == 0x20 || u[start] == 0x09 { start = u.index(after: start) }
        while end > start {
            let before = u.index(before: end)
            guard u[before] == 0x20 || u[before] == 0x09 else { break }
            end = before
        }
        return String(whole[start..<end])
    }
}
