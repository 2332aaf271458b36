import Foundation

/// One contact bound to an address-of-record (RFC 3261 §10).
public struct Registration: Sendable, Equatable, Codable {
    /// "user@host" of the To header.
    public var aor: String
    /// The Contact URI as registered.
    public var contact: String
    /// Where the REGISTER came from (requests are sent there: NAT-friendly, like rport).
    public var transport: SIPTransportKind
    public var sourceHost: String
    public var sourcePort: Int
    /// Unix time (seconds) the binding expires.
    public var expires: Double
    public var callID: String
    public var cseq: UInt32
    /// The REGISTER's Path (RFC 3327), in order: the proxies a request to this contact must
    /// go back through (sent as its Route headers). Empty: straight to the source.
    public var path: [String] = []

    public init(aor: String, contact: String, transport: SIPTransportKind, sourceHost: String, sourcePort: Int,
                expires: Double, callID: String, cseq: UInt32, path: [String] = []) {
        self.aor = aor; self.contact = contact; self.transport = transport
        self.sourceHost = sourceHost; self.sourcePort = sourcePort
        self.expires = expires; self.callID = callID; self.cseq = cseq; self.path = path
    }

    public var peer: SIPPeer { SIPPeer(transport: transport, host: sourceHost, port: sourcePort) }
}

/// Where registrations are persisted (the Store, behind the Calls layer).
public protocol RegistrationPersisting: AnyObject, Sendable {
    func save(_ registration: Registration)
    func delete(aor: String, contact: String)
}

/// The registrar: binds contacts to AORs with expiry and answers lookups for routing.
///
/// ```swift
/// let r = Registrar(configuration: .init())
/// r.handle(register, from: peer, transaction: txn)   // answers 200 with the bindings
/// r.lookup(aor: "bob@127.0.0.1")                     // unexpired bindings
/// ```
/// Runs on the SIP event loop (not thread-safe).
public final class Registrar {
    public struct Configuration: Sendable, Equatable {
        public var defaultExpires: Int = 3600
        public var minExpires: Int = 60
        public var maxExpires: Int = 7200
        public init() {}
    }

    public let configuration: Configuration
    private var bindings: [String: [Registration]] = [:]
    public weak var persistence: (any RegistrationPersisting)?
    let now: @Sendable () -> Double

    public init(configuration: Configuration, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.configuration = configuration
        self.now = now
    }

    /// Loads bindings kept by the store; expired ones are skipped.
    public func restore(_ regs: [Registration]) {
        let t = now()
        for r in regs where r.expires > t { bindings[r.aor, default: []].append(r) }
    }

    /// Replaces an AOR's bindings with the store's (another gateway registered or removed one);
    /// nothing is written back.
    public func replace(aor: String, with regs: [Registration]) {
        let t = now()
        let live = regs.filter { $0.aor == aor && $0.expires > t }
        bindings[aor] = live.isEmpty ? nil : live
    }

    /// Unexpired bindings of an AOR, most recent first.
    public func lookup(aor: String) -> [Registration] {
        let t = now()
        let live = (bindings[aor] ?? []).filter { $0.expires > t }
        bindings[aor] = live.isEmpty ? nil : live
        return live.sorted { $0.expires > $1.expires }
    }

    public var count: Int { bindings.values.reduce(0) { $0 + $1.count } }

    /// The AORs with an unexpired binding registered from `peer`'s address and port (a scan:
    /// asked only for forwarded INVITEs).
    public func aors(registeredFrom peer: SIPPeer) -> [String] {
        let t = now()
        return bindings.compactMap { aor, regs in
            regs.contains { $0.expires > t && $0.sourceHost == peer.host && $0.sourcePort == peer.port } ? aor : nil
        }.sorted()
    }

    /// Processes a REGISTER and answers on its transaction. `user`: the digest username the
    /// request authenticated as (nil: authentication is off or the source is trusted); it
    /// may bind only its own AOR (To's user part), as RFC 3261 §10.3 step 6 asks.
    public func handle(_ req: SIPMessage, transaction: ServerTransaction, user: String? = nil) {
        guard let aor = req.toURI?.aor, let callID = req.callID, let cseq = req.cseqNumber else {
            transaction.respond(.badRequest.because("Bad To"))
            return
        }
        if let user, req.toURI?.user?.lowercased() != user.lowercased() {
            transaction.respond(SIPStatus(403, "Forbidden").because("Credentials of \(user) cannot register \(aor)"), toTag: randomToken(10))
            return
        }
        let headerExpires = req.header("Expires").flatMap { Int($0.trimmedSpaces) }
        // RFC 3327: a proxy on the way asked to stay on the path of requests to this contact.
        let path = req.headers("Path").flatMap { Registrar.splitList($0) }
        let t = now()
        var current = (bindings[aor] ?? []).filter { $0.expires > t }
        if req.contactCount == 1, req.contact(0)?.trimmedSpaces == "*" || req.contactURI(0) == nil && req.contact(0) != nil {
            guard headerExpires == 0 else { transaction.respond(.badRequest.because("Wildcard Contact needs Expires 0")); return }
            for r in current { persistence?.delete(aor: aor, contact: r.contact) }
            bindings[aor] = nil
            transaction.respond(.ok, toTag: randomToken(10))
            return
        }
        for i in 0..<req.contactCount {
            guard let uri = req.contactURI(i) else { continue }
            let asked = req.contactParameter(i, "expires").flatMap(Int.init) ?? headerExpires ?? configuration.defaultExpires
            if asked != 0 && asked < configuration.minExpires {
                transaction.respond(.intervalTooBrief) { $0.setHeader("Min-Expires", "\(self.configuration.minExpires)") }
                return
            }
            let expires = min(asked, configuration.maxExpires)
            current.removeAll { $0.contact == uri.text }
            if expires == 0 {
                persistence?.delete(aor: aor, contact: uri.text)
                continue
            }
            let reg = Registration(aor: aor, contact: uri.text, transport: transaction.peer.transport,
                                   sourceHost: transaction.peer.host, sourcePort: transaction.peer.port,
                                   expires: t + Double(expires), callID: callID, cseq: cseq, path: path)
            current.append(reg)
            persistence?.save(reg)
        }
        bindings[aor] = current.isEmpty ? nil : current
        transaction.respond(.ok, toTag: randomToken(10)) { resp in
            resp.removeContacts()
            for r in current {
                resp.edit { try $0.addContact("<\(r.contact)>;expires=\(max(0, Int(r.expires - t)))") }
            }
            resp.setHeader("Date", Registrar.httpDate(t))
            // The Path the registrar stored, echoed (RFC 3327 §5.3).
            for p in path { resp.addHeader("Path", p) }
        }
    }

    /// A header's comma-separated values (name-addrs; a comma inside <> or quotes stays).
    static func splitList(_ value: String) -> [String] {
        var out: [String] = [], cur = "", depth = 0, quoted = false
        for ch in value {
            switch ch {
            case "\"": quoted.toggle(); cur.append(ch)
            case "<" where !quoted: depth += 1; cur.append(ch)
            case ">" where !quoted: depth = max(0, depth - 1); cur.append(ch)
            case "," where !quoted && depth == 0:
                let v = cur.trimmingCharacters(in: .whitespaces); if !v.isEmpty { out.append(v) }; cur = ""
            default: cur.append(ch)
            }
        }
        let v = cur.trimmingCharacters(in: .whitespaces); if !v.isEmpty { out.append(v) }
        return out
    }

    static func httpDate(_ t: Double) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return f.string(from: Date(timeIntervalSince1970: t))
    }
}
