import Calls
import ContactCenter
import Control
import Foundation
import Handoff
import Logging
import Prediction
import SIP
import ServiceLifecycle
import Store
import Synchronization

/// Keeps this gateway's in-memory copies current with what other gateways write to a shared
/// PostgreSQL store: for each changed row (`baton_changes` notifications) the cache holding
/// its table reloads: registrations (per AOR, into the registrar), devices, forwarding rules,
/// agents and categories, SIP users, API tokens, the transfer model, conversation rules.
/// Changes arriving within 50 ms reload once. With SQLite the change sequence ends at once and
/// this service just waits for shutdown.
struct StoreFollower: Service {
    let store: any BatonStore
    let sip: SIPServer
    let users: SIPUsers
    let tokens: APITokens?
    let devices: Devices
    let forwarding: ForwardingTable
    let contactCenter: ContactCenter
    let models: TransferModels
    let conversation: Conversation
    let calls: CallManager
    let gatewayID: String
    private let logger = Logger(label: "baton.store")

    init(store: any BatonStore, sip: SIPServer, users: SIPUsers, tokens: APITokens?, devices: Devices, forwarding: ForwardingTable,
         contactCenter: ContactCenter, models: TransferModels, conversation: Conversation, calls: CallManager, gatewayID: String) {
        self.calls = calls; self.gatewayID = gatewayID
        self.store = store; self.sip = sip; self.users = users; self.tokens = tokens; self.devices = devices
        self.forwarding = forwarding; self.contactCenter = contactCenter; self.models = models; self.conversation = conversation
    }

    func run() async {
        guard store.isShared else {
            // One gateway on SQLite: nothing else writes; wait for shutdown.
            try? await gracefulShutdown()
            return
        }
        let changes = store.changes()
        let pending = Pending()
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { g in
                g.addTask { for await c in changes { pending.list.withLock { $0.append(c) } } }
                // A burst of writes (a registration storm, a bulk agent import) reloads once per 50 ms.
                g.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(50))
                        let batch = pending.list.withLock { p in defer { p = [] }; return p }
                        if !batch.isEmpty { await apply(batch) }
                    }
                }
            }
        }
    }

    /// Reloads the caches the changed tables feed ("*": all of them, after a reconnect).
    func apply(_ changes: [StoreChange]) async {
        let tables = Set(changes.map(\.table))
        let all = tables.contains("*")
        func wants(_ t: String) -> Bool { all || tables.contains(t) }
        do {
            if wants("registrations") {
                let now = Date().timeIntervalSince1970
                var byAOR: [String: [Registration]] = [:]
                if all {
                    // After a reconnect: every binding (what changed meanwhile is unknown).
                    byAOR = Dictionary(grouping: try await store.registrations(validAt: now).map(Registration.init), by: \.aor)
                } else {
                    // One query per changed AOR, never the whole table per change.
                    for aor in Set(changes.filter { $0.table == "registrations" }.map(\.key)) {
                        byAOR[aor] = try await store.registrations(aor: aor, validAt: now).map(Registration.init)
                    }
                }
                try await sip.onLoop { [sip, byAOR] in
                    for (aor, regs) in byAOR { sip.registrar.replace(aor: aor, with: regs) }
                }
            }
            // Another gateway's shared-call member: merged into this gateway's view of the
            // operation (the whole row is in the notification).
            let dec = JSONDecoder()
            for c in changes where c.table == "shared_members" {
                guard let r = try? dec.decode(SharedMemberRecord.self, from: Data(c.key.utf8)), r.gateway != gatewayID,
                      let status = MemberStatus(rawValue: r.status) else { continue }
                let users = (try? dec.decode([String].self, from: Data(r.users.utf8))) ?? []
                calls.shared.mergeRemote(op: r.op, member: SharedCall.Member(id: r.member, kind: r.kind, call: r.call, status: status,
                                                                            since: r.since, peer: r.peer), users: users)
            }
            if wants("devices") { try await devices.load() }
            if wants("forwarding") { try await forwarding.restore() }
            if wants("agents") || wants("categories") { try await contactCenter.load() }
            if wants("sip_users") { try await users.load() }
            if wants("api_tokens") { try await tokens?.load() }
            if wants("transfer_models") { try await models.load() }
            if wants("stored_settings"), let stored = await contactCenter.storedConversationRules() {
                try conversation.replace(stored.rules)
            }
            logger.debug("caches reloaded from the store", metadata: ["tables": "\(tables.sorted())"])
        } catch {
            logger.warning("could not reload from the store what another gateway changed", metadata: [
                "tables": "\(tables.sorted())", "error": "\(error)"])
        }
    }
}

/// Changes received and not yet applied (shared by the receiving and the applying task).
private final class Pending: Sendable {
    let list = Mutex<[StoreChange]>([])
}
