/// A SIP response status as a type: the code and its reason phrase, written to the wire
/// only when a response is built. The standard ones carry RFC 3261 §21's phrases (RFC 3265,
/// RFC 3891 for the event and Replaces ones); `because(_:)` gives a more precise phrase for
/// the same code ("400 Bad Refer-To").
///
/// ```swift
/// t.respond(.notImplemented) { $0.setHeader("Allow", SIPMethod.allowHeader) }
/// t.respond(.badRequest.because("Bad Refer-To"))
/// ```
public struct SIPStatus: Sendable, Hashable, CustomStringConvertible {
    public var code: Int
    public var reason: String
    public init(_ code: Int, _ reason: String) { self.code = code; self.reason = reason }

    /// The same status with another reason phrase.
    public func because(_ reason: String) -> SIPStatus { SIPStatus(code, reason) }

    public var description: String { "\(code) \(reason)" }
    public var isFinal: Bool { code >= 200 }
    public var isSuccess: Bool { (200..<300).contains(code) }

    public static let trying = SIPStatus(100, "Trying")
    public static let ringing = SIPStatus(180, "Ringing")
    public static let ok = SIPStatus(200, "OK")
    public static let accepted = SIPStatus(202, "Accepted")
    public static let badRequest = SIPStatus(400, "Bad Request")
    public static let notFound = SIPStatus(404, "Not Found")
    public static let requestTimeout = SIPStatus(408, "Request Timeout")
    public static let sessionIntervalTooSmall = SIPStatus(422, "Session Interval Too Small")
    public static let intervalTooBrief = SIPStatus(423, "Interval Too Brief")
    public static let callDoesNotExist = SIPStatus(481, "Call/Transaction Does Not Exist")
    public static let tooManyHops = SIPStatus(483, "Too Many Hops")
    public static let busyHere = SIPStatus(486, "Busy Here")
    public static let requestTerminated = SIPStatus(487, "Request Terminated")
    public static let notAcceptableHere = SIPStatus(488, "Not Acceptable Here")
    public static let badEvent = SIPStatus(489, "Bad Event")
    public static let requestPending = SIPStatus(491, "Request Pending")
    public static let serverInternalError = SIPStatus(500, "Server Internal Error")
    public static let notImplemented = SIPStatus(501, "Not Implemented")
    public static let serviceUnavailable = SIPStatus(503, "Service Unavailable")
}

extension ServerTransaction {
    /// Answers with `status` (Via, From, To, Call-ID and CSeq copied from the request).
    public func respond(_ status: SIPStatus, toTag: String? = nil, configure: (SIPMessage) -> Void = { _ in }) {
        respond(status.code, status.reason, toTag: toTag, configure: configure)
    }
}
