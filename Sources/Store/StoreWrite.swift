/// One write for ``Store/apply(_:)``: the call layer queues these and a single writer
/// applies them in batches, in order.
public enum StoreWrite: Sendable {
    case call(CallRecord)
    case saveRegistration(RegistrationRecord)
    case deleteRegistration(aor: String, contact: String)
    case event(CallEventRecord)
    /// Which gateway anchors a call and its legs' dialogs (replaced when a switchover changes a leg).
    case anchor(CallAnchorRecord)
    /// The call ended: nobody needs its dialogs any more.
    case releaseAnchor(callID: String)
    /// A member of a user's shared call operation changed (a shared store tells the other
    /// gateways; SQLite, one gateway, keeps nothing).
    case sharedMember(SharedMemberRecord)
}

/// One member of a shared call operation as the gateway holding it last saw it (the
/// `shared_members` table; the row travels whole in the change notification).
public struct SharedMemberRecord: Codable, Sendable, Equatable {
    public var member: String
    public var op: String
    public var kind: String
    public var call: String
    public var status: String
    public var since: Double
    public var peer: String?
    /// The operation's users, JSON array.
    public var users: String
    public var gateway: String
    public init(member: String, op: String, kind: String, call: String, status: String, since: Double, peer: String?, users: String,
                gateway: String) {
        self.member = member; self.op = op; self.kind = kind; self.call = call; self.status = status; self.since = since
        self.peer = peer; self.users = users; self.gateway = gateway
    }
}

/// A call a gateway anchors, with what another gateway needs to send its BYEs (each leg's
/// dialog as JSON: route set, tags, CSeq, where to send) if this one is lost.
public struct CallAnchorRecord: Codable, Sendable, Equatable {
    public var callID: String
    public var gateway: String
    public var caller: String
    public var callee: String
    public var updated: Double
    /// What the gateway itself needs to resume the call after a restart (media, SDPs, SRTP
    /// keys), sealed with its own key; empty when it keeps none.
    public var state: String
    public init(callID: String, gateway: String, caller: String, callee: String, updated: Double, state: String = "") {
        self.callID = callID; self.gateway = gateway; self.caller = caller; self.callee = callee; self.updated = updated
        self.state = state
    }
}

/// A gateway sharing the store: its id, where it answers (SIP and HTTP), when it last beat.
public struct GatewayRecord: Codable, Sendable, Equatable {
    public var id: String
    public var sip: String
    public var http: String
    public init(id: String, sip: String, http: String) { self.id = id; self.sip = sip; self.http = http }
}

/// One event in a call's life kept with its record (a switchover's steps, for now):
/// `detail` is the event's JSON.
public struct CallEventRecord: Codable, Sendable, Equatable {
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
public struct DeviceRecord: Codable, Sendable, Equatable {
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
public struct ForwardingRecord: Codable, Sendable, Equatable {
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

/// A contact-center agent (`agents` table); `skills` is a JSON array of service categories,
/// `logins` a JSON object of login states by system ("desktop", "sip-phone", ...).
public struct AgentRecord: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var aor: String?
    public var skills: String
    public var logins: String
    public init(id: String, name: String, aor: String?, skills: String, logins: String) {
        self.id = id; self.name = name; self.aor = aor; self.skills = skills; self.logins = logins
    }
}

/// A service category of the directory (`categories`); `contacts` is a JSON array of URIs.
public struct CategoryRecord: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var description: String
    public var contacts: String
    public var hours: String?
    public init(id: String, name: String, description: String, contacts: String, hours: String?) {
        self.id = id; self.name = name; self.description = description; self.contacts = contacts; self.hours = hours
    }
}

/// What a call's first portion (a bot, a first agent) learned, as JSON, per tenant and call.
public struct CallDataRecord: Codable, Sendable, Equatable {
    public var tenant: String
    public var callID: String
    public var data: String
    public var updated: Double
    public init(tenant: String, callID: String, data: String, updated: Double) {
        self.tenant = tenant; self.callID = callID; self.data = data; self.updated = updated
    }
}

/// A call key: short text standing for one call's data until it expires.
public struct CallKeyRecord: Codable, Sendable, Equatable {
    public var key: String
    public var tenant: String
    public var callID: String
    public var created: Double
    public var expires: Double
    /// The agent the key was made for (a transfer's target): only that agent's own session or
    /// token, or a non-agent token of the tenant, may redeem it. nil: any holder in the tenant.
    public var agent: String?
    public init(key: String, tenant: String, callID: String, created: Double, expires: Double, agent: String? = nil) {
        self.key = key; self.tenant = tenant; self.callID = callID; self.created = created; self.expires = expires
        self.agent = agent
    }
}

/// A SIP user's digest credentials: the HA1 of each algorithm (RFC 8760), never the password.
public struct SIPUserRecord: Codable, Sendable, Equatable {
    /// The digest username, also the user part of the one AOR it may register.
    public var user: String
    public var realm: String
    /// MD5(user:realm:password) and SHA-256(user:realm:password), lowercase hex.
    public var ha1MD5: String
    public var ha1SHA256: String
    public var created: Double

    public init(user: String, realm: String, ha1MD5: String, ha1SHA256: String, created: Double) {
        self.user = user; self.realm = realm; self.ha1MD5 = ha1MD5; self.ha1SHA256 = ha1SHA256; self.created = created
    }
}

/// An HTTP API token: who holds it (name), what it may do (role), for which tenant (and,
/// for an agent token, which agent). Only the SHA-256 of its secret is stored.
public struct APITokenRecord: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var role: String
    public var tenant: String
    public var agent: String?
    /// SHA-256 of the token's secret, lowercase hex.
    public var hash: String
    public var created: Double
    public init(id: String, name: String, role: String, tenant: String, agent: String?, hash: String, created: Double) {
        self.id = id; self.name = name; self.role = role; self.tenant = tenant; self.agent = agent; self.hash = hash; self.created = created
    }
}

/// A trained transfer-probability model (Prediction's `TransferModel` as JSON), by version.
public struct TransferModelRecord: Codable, Sendable, Equatable {
    public var version: Int
    public var created: Double
    public var model: String
    public init(version: Int, created: Double, model: String) { self.version = version; self.created = created; self.model = model }
}

/// One dialog information record of a call: what the bot application reported
/// (`kind` "bot"), as JSON in `detail`.
public struct DialogRecord: Codable, Sendable, Equatable {
    public var seq: Int64?
    public var callID: String
    public var time: Double
    public var kind: String
    public var detail: String
    public init(seq: Int64? = nil, callID: String, time: Double, kind: String, detail: String) {
        self.seq = seq; self.callID = callID; self.time = time; self.kind = kind; self.detail = detail
    }
}

/// One training sample of the transfer model, stored as a bot call ends or is transferred:
/// the feature vector the call had for one candidate (JSON, by feature name) and whether
/// the call went to that candidate.
public struct TransferSampleRecord: Codable, Sendable, Equatable {
    public var seq: Int64?
    public var callID: String
    public var candidate: String
    public var features: String
    public var transferred: Bool
    public var time: Double
    public init(seq: Int64? = nil, callID: String, candidate: String, features: String, transferred: Bool, time: Double) {
        self.seq = seq; self.callID = callID; self.candidate = candidate; self.features = features
        self.transferred = transferred; self.time = time
    }
}

/// A transfer asked for: the caller's AOR and the candidate it went to (an agent id, or
/// "category:<id>").
public struct TransferRecord: Codable, Sendable, Equatable {
    public var seq: Int64?
    public var callID: String
    public var caller: String
    public var candidate: String
    public var time: Double
    public init(seq: Int64? = nil, callID: String, caller: String, candidate: String, time: Double) {
        self.seq = seq; self.callID = callID; self.caller = caller; self.candidate = candidate; self.time = time
    }
}
