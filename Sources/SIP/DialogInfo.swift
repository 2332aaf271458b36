/// An `application/dialog-info+xml` document (RFC 4235), as a NOTIFY of the dialog event
/// package carries it.
public struct DialogInfo: Sendable, Equatable {
    /// RFC 4235 §3.7.1 dialog states.
    public enum State: String, Sendable { case trying, proceeding, early, confirmed, terminated }

    public struct Dialog: Sendable, Equatable {
        public var id: String
        public var callID: String?
        public var state: State
        /// Held by the user: the local target carries `+sip.rendering="no"` (RFC 4235 §4.1.6.2).
        public var held: Bool
        /// The far party's identity.
        public var remote: String?
        /// Attributes of Baton's `<sc:shared-call>` extension element (urn:x-baton:shared-call).
        public var extensions: [String: String]
        public init(id: String, callID: String?, state: State, held: Bool = false, remote: String? = nil, extensions: [String: String] = [:]) {
            self.id = id; self.callID = callID; self.state = state; self.held = held; self.remote = remote; self.extensions = extensions
        }
    }

    public var entity: String
    public var version: Int
    public var dialogs: [Dialog]

    public init(entity: String, version: Int, dialogs: [Dialog]) {
        self.entity = entity; self.version = version; self.dialogs = dialogs
    }

    public static let contentType = "application/dialog-info+xml"

    /// The full-state document.
    public func xml() -> String {
        var out = """
        <?xml version="1.0" encoding="UTF-8"?>
        <dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" xmlns:sc="urn:x-baton:shared-call" version="\(version)" state="full" entity="\(Self.escape(entity))">

        """
        for d in dialogs {
            out += "  <dialog id=\"\(Self.escape(d.id))\""
            if let c = d.callID { out += " call-id=\"\(Self.escape(c))\"" }
            out += ">\n    <state>\(d.state.rawValue)</state>\n"
            if let r = d.remote { out += "    <remote><identity>\(Self.escape(r))</identity></remote>\n" }
            if d.held {
                out += "    <local><target uri=\"\(Self.escape(entity))\"><param pname=\"+sip.rendering\" pvalue=\"no\"/></target></local>\n"
            }
            if !d.extensions.isEmpty {
                out += "    <sc:shared-call"
                for (k, v) in d.extensions.sorted(by: { $0.key < $1.key }) { out += " \(k)=\"\(Self.escape(v))\"" }
                out += "/>\n"
            }
            out += "  </dialog>\n"
        }
        return out + "</dialog-info>\n"
    }

    static func escape(_ s: String) -> String {
        var o = ""
        for c in s {
            switch c {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            case "'": o += "&apos;"
            default: o.append(c)
            }
        }
        return o
    }
}
