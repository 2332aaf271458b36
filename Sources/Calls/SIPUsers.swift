import Foundation
import SIP
import Store
import Synchronization

/// The SIP users digest authentication checks against: kept in the store (HA1s only, see
/// ``SIPUserRecord``), answered from memory on the SIP loop. `baton users` and the HTTP API
/// change them through here, so the running gateway sees a change at once.
public final class SIPUsers: SIPCredentialSource, Sendable {
    private let users = Mutex<[String: SIPCredentials]>([:])
    private let store: (any SIPUserStore)?

    public init(store: (any SIPUserStore)?) { self.store = store }

    /// Loads every user from the store.
    public func load() async throws {
        guard let store else { return }
        let all = try await store.sipUsers()
        users.withLock { u in
            u = Dictionary(all.map { r in (r.user.lowercased(), SIPUsers.credentials(r)) }, uniquingKeysWith: { _, b in b })
        }
    }

    public func credentials(user: String, realm: String) -> SIPCredentials? {
        users.withLock { $0[user.lowercased()] }.flatMap { $0.realm == realm ? $0 : nil }
    }

    /// Whether `password` is `user`'s (whatever realm it was stored under).
    public func verify(user: String, password: String) -> Bool {
        users.withLock { $0[user.lowercased()] }?.matches(password: password) ?? false
    }

    public var all: [SIPCredentials] { users.withLock { Array($0.values) }.sorted { $0.user < $1.user } }

    /// Adds or replaces a user (the password is hashed here and not kept).
    public func put(user: String, realm: String, password: String) async throws {
        try SIPUsers.validate(user: user, password: password)
        let c = SIPCredentials(user: user, realm: realm, password: password)
        try await store?.save(SIPUsers.record(c))
        users.withLock { $0[user.lowercased()] = c }
    }

    /// Whether the user existed.
    public func remove(user: String) async throws -> Bool {
        let existed = try await store?.deleteSIPUser(user) ?? false
        let had = users.withLock { $0.removeValue(forKey: user.lowercased()) != nil }
        return existed || had
    }

    /// A username is a SIP user part Baton can match against To (no separators, no spaces),
    /// a password not empty.
    public static func validate(user: String, password: String) throws(SIPUsersError) {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_.!~*'()+%"))
        guard !user.isEmpty, user.count <= 64, user.unicodeScalars.allSatisfy(allowed.contains) else { throw .badUser(user) }
        guard !password.isEmpty, password.count <= 256 else { throw .badPassword }
    }

    static func record(_ c: SIPCredentials) -> SIPUserRecord {
        SIPUserRecord(user: c.user, realm: c.realm, ha1MD5: c.ha1[.md5] ?? "", ha1SHA256: c.ha1[.sha256] ?? "",
                      created: Date().timeIntervalSince1970)
    }

    static func credentials(_ r: SIPUserRecord) -> SIPCredentials {
        SIPCredentials(user: r.user, realm: r.realm, ha1: [.md5: r.ha1MD5, .sha256: r.ha1SHA256])
    }
}

public enum SIPUsersError: Error, Equatable, CustomStringConvertible {
    case badUser(String)
    case badPassword
    public var description: String {
        switch self {
        case .badUser(let u): "'\(u)' is not a SIP user name (1-64 letters, digits or -_.!~*'()+%)"
        case .badPassword: "the password must be 1-256 characters"
        }
    }
}
