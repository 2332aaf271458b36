import Foundation
import SIP
import Synchronization

/// The status of one member of a shared call operation (a call, or one device's leg).
public enum MemberStatus: String, Sendable, Codable, CaseIterable {
    case trying, ringing, active, held, ended
}

/// The state of a whole shared call operation, derived from its members' statuses by
/// ``GlobalState/derive(_:)`` (docs/shared-calls.md has the table).
public enum GlobalState: String, Sendable, Codable, CaseIterable {
    case trying, ringing, active, held, ended

    /// The rules, in order (first that applies wins):
    /// 1. no member, or every member ended: `ended`;
    /// 2. any member active: `active` (the user is talking on some device);
    /// 3. any member ringing: `ringing`;
    /// 4. any member trying: `trying`;
    /// 5. otherwise every live member is held: `held`.
    public static func derive(_ statuses: [MemberStatus]) -> GlobalState {
        let live = statuses.filter { $0 != .ended }
        if live.isEmpty { return .ended }
        if live.contains(.active) { return .active }
        if live.contains(.ringing) { return .ringing }
        if live.contains(.trying) { return .trying }
        return .held
    }
}

/// Several related calls of one user under one user call identifier: a call, the speaker
/// leg of its switchover, a consultation, a parallel ring, an agent leg of a transfer.
public struct SharedCall: Sendable, Codable, Equatable {
    public struct Member: Sendable, Codable, Equatable {
        /// A call id, or a switchover/transfer operation id for a device's leg.
        public var id: String
        /// `call`, `switchover`, `transfer` or `related` (joined over the API).
        public var kind: String
        /// The call this member belongs to (itself for a call).
        public var call: String
        public var status: MemberStatus
        /// Unix time (seconds) of the last status change.
        public var since: Double
        /// Who the member's far end is ("sip:bob@example.com").
        public var peer: String?
        public init(id: String, kind: String, call: String, status: MemberStatus, since: Double, peer: String?) {
            self.id = id; self.kind = kind; self.call = call; self.status = status; self.since = since; self.peer = peer
        }
    }
    /// One change: a member's new status and the global state after it.
    public struct Change: Sendable, Codable, Equatable {
        public var time: Double
        public var member: String
        public var status: MemberStatus
        public var state: GlobalState
    }
    /// The user call identifier.
    public var id: String
    /// Users whose calls these are (user parts of the calls' From and To).
    public var users: [String]
    public var state: GlobalState
    public var members: [Member]
    public var history: [Change]
}

/// A shared operation changed (WebSocket `/events`, `type: "shared-call"`).
public struct SharedCallEvent: Sendable, Codable, Equatable {
    public var type = "shared-call"
    public var sharedCall: String
    public var member: String
    public var status: MemberStatus
    /// The global state before and after this change.
    public var previous: GlobalState?
    public var state: GlobalState
    public var time: Double
    public var users: [String]

    enum CodingKeys: String, CodingKey { case type, sharedCall = "shared_call", member, status, previous, state, time, users }
}

/// A change of one member this gateway holds, for the other gateways sharing the store
/// (``SharedCalls/memberChanged``, ``SharedCalls/mergeRemote(op:member:users:)``).
public struct SharedMemberChange: Sendable, Equatable {
    public var op: String
    public var member: SharedCall.Member
    public var users: [String]
    public init(op: String, member: SharedCall.Member, users: [String]) { self.op = op; self.member = member; self.users = users }
}

/// Why a shared-call request failed.
public enum SharedCallError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(String)
    case invalid(String)
    public var description: String {
        switch self { case .notFound(let s), .invalid(let s): s }
    }
}

/// Keeps every call's user call identifier and the shared operations they form; recomputes
/// the global state on every member change and publishes it (``events``, ``onChange``).
///
/// ```swift
/// calls.shared.callStarted(call: id, users: ["alice", "bob"], peer: "sip:bob@example.com")
/// calls.shared.setStatus(member: id, .active)
/// calls.shared.join(call: consultation, into: calls.shared.id(ofCall: id)!)
/// ```
public final class SharedCalls: Sendable {
    struct State {
        var ops: [String: SharedCall] = [:]
        /// Member id -> shared operation id.
        var memberOf: [String: String] = [:]
        /// Members another gateway holds (mirrored from the shared store).
        var remote: Set<String> = []
        var endedOrder: [String] = []
    }
    private let state = Mutex(State())
    private let now: @Sendable () -> Double
    private let keepEnded: Int
    private let historyLimit = 200
    public let events = EventHub<SharedCallEvent>()
    /// Called with the users of an operation whose members or global state changed (the SIP
    /// layer sends dialog-event NOTIFYs to their subscribers: the document names the global
    /// state and the number of live members). Set once at start-up.
    public let onChange = Hook<[String]>()
    /// Told of every change of a member this gateway holds (its new status, or the operation
    /// it joined): with a shared store, the call layer writes it there and the other
    /// gateways merge it (``mergeRemote(op:member:users:)``), so an operation whose members
    /// sit on several gateways has one global state on all of them. Set once at start-up.
    public let memberChanged = Hook<SharedMemberChange>()

    public init(keepEnded: Int = 500, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.keepEnded = keepEnded
        self.now = now
    }

    public func get(_ id: String) -> SharedCall? { state.withLock { $0.ops[id] } }

    public func all() -> [SharedCall] { state.withLock { Array($0.ops.values) }.sorted { $0.id < $1.id } }

    /// How many members another gateway holds are mirrored here.
    var mirroredCount: Int { state.withLock { $0.remote.count } }

    /// The user call identifier of a call or leg.
    public func id(ofCall member: String) -> String? { state.withLock { $0.memberOf[member] } }

    /// Operations one user takes part in, oldest first (ended ones while kept).
    public func operations(user: String) -> [SharedCall] {
        let u = user.lowercased()
        return state.withLock { s in s.ops.values.filter { $0.users.contains(u) } }
            .sorted { ($0.history.first?.time ?? 0, $0.id) < ($1.history.first?.time ?? 0, $1.id) }
    }

    /// A new call gets its own user call identifier (`uc-` + the call id).
    public func callStarted(call: String, users: [String], peer: String?) {
        add(member: call, kind: "call", call: call, status: .trying, peer: peer, into: nil, users: users)
    }

    /// Adds a device leg of a call (switchover, transfer) to the call's operation.
    public func addLeg(_ member: String, kind: String, call: String, peer: String?, users: [String] = []) {
        guard let op = id(ofCall: call) else { return }
        add(member: member, kind: kind, call: call, status: .trying, peer: peer, into: op, users: users)
    }

    /// Joins a call to another operation (by API: a consultation, a parallel ring). The call
    /// leaves its own operation; an operation left empty is dropped.
    public func join(call: String, into target: String) throws(SharedCallError) -> SharedCall {
        let (result, users) = try state.withLock { s throws(SharedCallError) -> (SharedCall, [String]) in
            guard s.ops[target] != nil else { throw .notFound("Unknown shared call \(target)") }
            guard let from = s.memberOf[call] else { throw .notFound("Unknown call \(call)") }
            if from == target { return (s.ops[target]!, []) }
            guard s.ops[target]!.state != .ended else { throw .invalid("shared call \(target) has ended") }
            var moved = s.ops[from]!.members.filter { $0.call == call }
            s.ops[from]!.members.removeAll { $0.call == call }
            let oldUsers = s.ops[from]!.users
            if s.ops[from]!.members.isEmpty {
                s.ops[from] = nil
            } else {
                s.ops[from]!.state = GlobalState.derive(s.ops[from]!.members.map(\.status))
            }
            for i in moved.indices { moved[i].kind = moved[i].id == call ? "related" : moved[i].kind }
            for m in moved { s.memberOf[m.id] = target }
            var op = s.ops[target]!
            op.members += moved
            op.users = Array(Set(op.users + oldUsers)).sorted()
            let t = now()
            let before = op.state
            op.state = GlobalState.derive(op.members.map(\.status))
            op.history.append(.init(time: t, member: call, status: moved.first?.status ?? .trying, state: op.state))
            s.ops[target] = op
            if before != op.state {
                events.publish(SharedCallEvent(sharedCall: target, member: call, status: moved.first?.status ?? .trying,
                                               previous: before, state: op.state, time: t, users: op.users))
            }
            return (op, Array(Set(op.users + oldUsers)))
        }
        for m in result.members where m.call == call { published(result.id, m.id, users: result.users) }
        notify(users)
        return result
    }

    /// A member's status changed; recomputes the global state.
    public func setStatus(member: String, _ status: MemberStatus) {
        let users = state.withLock { s -> [String]? in
            guard let opID = s.memberOf[member], let i = s.ops[opID]?.members.firstIndex(where: { $0.id == member }),
                  let current = s.ops[opID]?.members[i].status, current != status, current != .ended else { return nil }
            // Taken out of the dictionary, the operation is uniquely referenced: its members and
            // history are mutated in place, not copied (a copy per status change showed in perf).
            var op = s.ops.removeValue(forKey: opID)!
            let t = now()
            op.members[i].status = status
            op.members[i].since = t
            // A call that ends ends its device legs too.
            if status == .ended && op.members[i].kind != "switchover" && op.members[i].kind != "transfer" {
                for j in op.members.indices where op.members[j].call == member && op.members[j].status != .ended {
                    op.members[j].status = .ended
                    op.members[j].since = t
                }
            }
            let before = op.state
            op.state = GlobalState.derive(op.members.map(\.status))
            op.history.append(.init(time: t, member: member, status: status, state: op.state))
            if op.history.count > historyLimit { op.history.removeFirst(op.history.count - historyLimit) }
            s.ops[opID] = op
            if op.state == .ended { retire(opID, &s) }
            events.publish(SharedCallEvent(sharedCall: opID, member: member, status: status, previous: before,
                                           state: op.state, time: t, users: op.users))
            return op.users
        }
        if let users {
            if let opID = id(ofCall: member), let op = get(opID) {
                for m in op.members where m.id == member || (m.call == member && m.since >= (op.history.last?.time ?? 0)) {
                    published(opID, m.id, users: op.users)
                }
            }
            notify(users)
        }
    }

    /// Tells ``memberChanged`` of a member this gateway holds (never of a mirrored one).
    private func published(_ opID: String, _ member: String, users: [String]) {
        guard let m = state.withLock({ s -> SharedCall.Member? in
            guard !s.remote.contains(member) else { return nil }
            return s.ops[opID]?.members.first { $0.id == member }
        }) else { return }
        memberChanged(SharedMemberChange(op: opID, member: m, users: users))
    }

    /// A member another gateway holds changed (from the shared store): it takes its place in
    /// `op` (leaving the operation it was in here, if another), the global state is derived
    /// again over every member, and this gateway's watchers hear of it like of a local change.
    /// A member this gateway holds itself is never overwritten.
    public func mergeRemote(op opID: String, member: SharedCall.Member, users: [String]) {
        let notifyUsers = state.withLock { s -> [String] in
            if s.memberOf[member.id] != nil && !s.remote.contains(member.id) { return [] }
            var touched: [String] = []
            if let old = s.memberOf[member.id], old != opID, var o = s.ops.removeValue(forKey: old) {
                o.members.removeAll { $0.id == member.id }
                if o.members.isEmpty {
                    s.endedOrder.removeAll { $0 == old }
                } else {
                    o.state = GlobalState.derive(o.members.map(\.status))
                    s.ops[old] = o
                }
                touched += o.users
            }
            var op = s.ops.removeValue(forKey: opID) ?? SharedCall(id: opID, users: [], state: .trying, members: [], history: [])
            let before = s.ops[opID] == nil && op.members.isEmpty ? nil : op.state
            let wasEnded = op.state == .ended && !op.members.isEmpty
            op.members.removeAll { $0.id == member.id }
            op.members.append(member)
            op.users = Array(Set(op.users + users.map { $0.lowercased() }.filter { !$0.isEmpty })).sorted()
            op.state = GlobalState.derive(op.members.map(\.status))
            let t = now()
            op.history.append(.init(time: t, member: member.id, status: member.status, state: op.state))
            if op.history.count > historyLimit { op.history.removeFirst(op.history.count - historyLimit) }
            s.ops[opID] = op
            s.memberOf[member.id] = opID
            s.remote.insert(member.id)
            if op.state == .ended && !wasEnded { retire(opID, &s) }
            events.publish(SharedCallEvent(sharedCall: opID, member: member.id, status: member.status, previous: before,
                                           state: op.state, time: t, users: op.users))
            return Array(Set(op.users + touched))
        }
        notify(notifyUsers)
    }

    /// Status of one member, if known.
    public func status(member: String) -> MemberStatus? {
        state.withLock { s in s.memberOf[member].flatMap { s.ops[$0]?.members.first { $0.id == member }?.status } }
    }

    private func add(member: String, kind: String, call: String, status: MemberStatus, peer: String?, into: String?, users: [String]) {
        let notifyUsers = state.withLock { s -> [String] in
            let t = now()
            let opID = into ?? "uc-" + call
            if s.ops[opID]?.state == .ended { return [] }
            let before = s.ops[opID]?.state
            var op = s.ops.removeValue(forKey: opID) ?? SharedCall(id: opID, users: [], state: .trying, members: [], history: [])
            op.members.removeAll { $0.id == member }
            op.members.append(.init(id: member, kind: kind, call: call, status: status, since: t, peer: peer))
            if !users.isEmpty {
                op.users = Array(Set(op.users + users.map { $0.lowercased() }.filter { !$0.isEmpty })).sorted()
            }
            op.state = GlobalState.derive(op.members.map(\.status))
            op.history.append(.init(time: t, member: member, status: status, state: op.state))
            s.ops[opID] = op
            s.memberOf[member] = opID
            events.publish(SharedCallEvent(sharedCall: opID, member: member, status: status, previous: before,
                                           state: op.state, time: t, users: op.users))
            return op.users
        }
        if let opID = id(ofCall: member) { published(opID, member, users: notifyUsers) }
        notify(notifyUsers)
    }

    /// Keeps the last `keepEnded` ended operations for queries; forgets older ones.
    private func retire(_ id: String, _ s: inout State) {
        s.endedOrder.append(id)
        while s.endedOrder.count > keepEnded {
            let old = s.endedOrder.removeFirst()
            if let op = s.ops.removeValue(forKey: old) {
                for m in op.members where s.memberOf[m.id] == old {
                    s.memberOf[m.id] = nil
                    s.remote.remove(m.id)   // mirrored members go with their operation
                }
            }
        }
    }

    private func notify(_ users: [String]) {
        guard !users.isEmpty else { return }
        onChange(users)
    }

    // MARK: Dialog event package (RFC 4235)

    /// The dialog-info document for a user: one `<dialog>` per shared operation the user
    /// takes part in (id = the user call identifier), its `<state>` the global state mapped
    /// to RFC 4235 (trying, early, confirmed, terminated; held is confirmed with the local
    /// target's `+sip.rendering="no"`), plus Baton's `<sc:shared-call>` element naming the
    /// global state itself.
    public func dialogInfo(user: String, entity: String, version: Int) -> DialogInfo {
        let ops = operations(user: user)
        // A terminated dialog is reported once after it ended, then dropped.
        let dialogs = ops.suffix(20).map { op -> DialogInfo.Dialog in
            let primary = op.members.first { $0.kind == "call" } ?? op.members.first
            return DialogInfo.Dialog(id: op.id, callID: primary?.call, state: Self.dialogState(op.state),
                                     held: op.state == .held, remote: primary?.peer,
                                     extensions: ["state": op.state.rawValue, "members": "\(op.members.filter { $0.status != .ended }.count)"])
        }
        return DialogInfo(entity: entity, version: version, dialogs: dialogs)
    }

    static func dialogState(_ g: GlobalState) -> DialogInfo.State {
        switch g {
        case .trying: .trying
        case .ringing: .early
        case .active, .held: .confirmed
        case .ended: .terminated
        }
    }
}
