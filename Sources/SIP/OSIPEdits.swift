/// The first failure while a libosip2 message or SDP body is built, kept so that the one
/// place it leaves Baton (`serialize()`) throws it: a message that could not be built as asked
/// is never sent half-built, and its many setters stay non-throwing. Shared by
/// ``SIPMessage`` and ``SessionDescription``.
struct OSIPEdits {
    /// Names what is being built in the error ("SDP: "), empty for a SIP message.
    let prefix: String
    private(set) var failure: SIPError?

    init(prefix: String = "") { self.prefix = prefix }

    /// The one place a libosip2 result is checked: 0 (OSIP_SUCCESS) or a negative error code.
    mutating func check(_ rc: Int32, _ what: @autoclosure () -> String) -> Bool {
        guard rc != 0 else { return true }
        record(.serialize("\(prefix)\(what()) failed (libosip2 error \(rc))"))
        return false
    }

    /// Values Baton writes into a header or an SDP line must not carry CR, LF or NUL (an
    /// injected header or SDP line from a value that came from an API or another message).
    mutating func checkValue(_ value: String, _ name: String) -> Bool {
        guard value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else { return true }
        record(.serialize("\(prefix)\(name) value with CR, LF or NUL refused"))
        return false
    }

    /// Keeps `error` unless an earlier failure is already kept.
    mutating func record(_ error: SIPError) {
        if failure == nil { failure = error }
    }
}
