import Calls
import Foundation
import SIP
import Store
import Synchronization

/// Users' devices and their groups of nearby speakers, kept in the store and cached in
/// memory (the switchover reads them on the SIP loop without waiting on the store).
///
/// ```swift
/// let devices = Devices(store: store)
/// try await devices.load()
/// try await devices.put(DeviceRecord(user: "alice", id: "kitchen", aor: "kitchen@example.com", kind: "speaker"))
/// ```
public final class Devices: DeviceDirectory, Sendable {
    public static let kinds: Set<String> = ["phone", "speaker", "bot", "agent", "other"]
    let store: any DeviceStore
    private let cache = Mutex<[DeviceRecord]>([])

    public init(store: any DeviceStore) { self.store = store }

    public func load() async throws {
        let all = try await store.devices()
        cache.withLock { $0 = all }
    }

    public func all() -> [DeviceRecord] { cache.withLock { $0 } }

    public func list(user: String) -> [DeviceRecord] { all().filter { $0.user == user } }

    /// Creates or replaces a device (validated: id, user, AOR and kind).
    public func put(_ d: DeviceRecord) async throws(HandoffError) {
        guard !d.user.isEmpty, !d.id.isEmpty, d.user.allSatisfy({ !$0.isWhitespace && $0 != "/" }),
              d.id.allSatisfy({ !$0.isWhitespace && $0 != "/" }) else { throw .invalid("user and device id must be non-empty, without spaces or '/'") }
        guard Devices.kinds.contains(d.kind) else { throw .invalid("kind must be one of \(Devices.kinds.sorted().joined(separator: ", "))") }
        guard Devices.normalize(d.aor) != nil else { throw .invalid("aor must look like user@host (or sip:user@host)") }
        do { try await store.save(d) } catch { throw .unavailable("store: \(error)") }
        cache.withLock { c in
            c.removeAll { $0.user == d.user && $0.id == d.id }
            c.append(d)
            c.sort { ($0.user, $0.priority, $0.id) < ($1.user, $1.priority, $1.id) }
        }
    }

    public func delete(user: String, id: String) async throws(HandoffError) -> Bool {
        let removed: Bool
        do { removed = try await store.deleteDevice(user: user, id: id) } catch { throw .unavailable("store: \(error)") }
        cache.withLock { $0.removeAll { $0.user == user && $0.id == id } }
        return removed
    }

    /// The device with this AOR ("2000@127.0.0.1"); the user part alone matches when no
    /// device has the exact AOR (a phone seen under another host name).
    public func owner(aor: String) -> DeviceRecord? {
        guard let key = Devices.normalize(aor) else { return nil }
        let devices = all()
        if let exact = devices.first(where: { Devices.normalize($0.aor) == key }) { return exact }
        let user = key.split(separator: "@").first.map(String.init)
        return devices.first { Devices.normalize($0.aor)?.split(separator: "@").first.map(String.init) == user }
    }

    public func ownerUser(aor: String) -> String? { owner(aor: aor)?.user }

    /// The user's speakers, in priority order.
    public func speakers(user: String) -> [DeviceRecord] { list(user: user).filter { $0.kind == "speaker" } }

    /// "sip:Kitchen@Example.com:5060;x" or "Kitchen@Example.com" -> "Kitchen@example.com",
    /// the registrar's key (parsed by libosip2 like any SIP URI).
    static func normalize(_ aor: String) -> String? {
        let v = aor.trimmingCharacters(in: .whitespaces)
        guard let uri = SIPURI(parsing: v.lowercased().hasPrefix("sip:") ? v : "sip:" + v), uri.user?.isEmpty == false else { return nil }
        return uri.aor
    }
}
