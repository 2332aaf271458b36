/// A SIP request method as a type; the wire text is its raw value (RFC 3261 §7.1: methods are
/// case-sensitive tokens, Baton matches them uppercased, as libosip2 keeps them).
///
/// ```swift
/// switch request.sipMethod {
/// case .invite?: ...
/// case nil: respond(.notImplemented)       // a method Baton does not know
/// }
/// ```
public enum SIPMethod: String, CaseIterable, Sendable, Hashable {
    case invite = "INVITE", ack = "ACK", bye = "BYE", cancel = "CANCEL", options = "OPTIONS"
    case register = "REGISTER", refer = "REFER", subscribe = "SUBSCRIBE", notify = "NOTIFY"
    case update = "UPDATE", info = "INFO", prack = "PRACK", message = "MESSAGE", publish = "PUBLISH"

    /// The wire text of a method, uppercased; nil for an extension method Baton does not know.
    public init?(wire: String) { self.init(rawValue: wire.uppercased()) }

    /// What Baton answers as a user agent server (its `Allow` header, in this order).
    public static let allowed: [SIPMethod] = [.invite, .ack, .bye, .cancel, .options, .register, .refer, .subscribe, .info, .update]

    /// The `Allow` header value.
    public static let allowHeader = allowed.map(\.rawValue).joined(separator: ", ")

    /// The metrics label: the method, or "other" for anything else, so a flood of junk
    /// methods cannot grow the label set.
    public static func label(_ wire: String?) -> String { wire.flatMap(SIPMethod.init(wire:))?.rawValue ?? "other" }
}

extension SIPMessage {
    /// The request's method as a type; nil for a response or an unknown method.
    public var sipMethod: SIPMethod? { method.flatMap(SIPMethod.init(wire:)) }
    /// The CSeq method as a type.
    public var cseqSIPMethod: SIPMethod? { cseqMethod.flatMap(SIPMethod.init(wire:)) }
}

extension SIPMessage {
    /// A request with its method as a type (see the `String` form for the parameters).
    public static func request(method: SIPMethod, uri: String, via: String?, from: String, to: String,
                               callID: String, cseq: UInt32, contact: String?, maxForwards: Int = 70) throws(SIPError) -> SIPMessage {
        try request(method: method.rawValue, uri: uri, via: via, from: from, to: to, callID: callID, cseq: cseq,
                    contact: contact, maxForwards: maxForwards)
    }
    public func setCSeq(_ number: UInt32, _ method: SIPMethod) throws(SIPError) { try setCSeq(number, method.rawValue) }
    public func setMethod(_ method: SIPMethod) { setMethod(method.rawValue) }
}
