import GRDB

/// One write for ``Store/apply(_:)``: the call layer queues these and a single writer
/// applies them in batches, in order.
public enum StoreWrite: Sendable {
    case call(CallRecord)
    case saveRegistration(RegistrationRecord)
    case deleteRegistration(aor: String, contact: String)
    case event(CallEventRecord)
}

/// One event in a call's life kept with its record (a switchover's steps, for now):
/// `detail` is the event's JSON.
public struct CallEventRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "call_events"
    public var seq: Int64?
    public var callID: String
    public var time: Double
    public var kind: String
    public var operation: String?
    public var detail: String?

    public init(callID: String, time: Double, kind: String, operation: String? = nil, detail: String? = nil) {
        self.callID = callID; self.time = time; self.kind = kind; self.operation = operation; self.detail = detail
    }
}

/// A user's device: a phone, a smart speaker near the user, a bot or an agent position.
/// The user's speakers (kind "speaker") form the group "move to my speaker" picks from,
/// lowest priority first.
public struct DeviceRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "devices"
    public var user: String
    public var id: String
    /// The device's address-of-record ("kitchen@example.com"): how Baton finds it registered.
    public var aor: String
    public var kind: String
    public var priority: Int

    public init(user: String, id: String, aor: String, kind: String, priority: Int = 0) {
        self.user = user; self.id = id; self.aor = aor; self.kind = kind; self.priority = priority
    }
}

/// A call-forwarding rule set over the HTTP API (`forwarding` table).
public struct ForwardingRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "forwarding"
    /// The called number (canonical) or user part.
    public var number: String
    /// "unconditional", "user-busy" or "no-answer".
    public var on: String
    public var to: String
    public var afterSeconds: Int

    public init(number: String, on: String, to: String, afterSeconds: Int) {
        self.number = number; self.on = on; self.to = to; self.afterSeconds = afterSeconds
    }
}
