import Calls
import ContactCenter
import Foundation
import Media
import SIP

/// A request to hand a call (its bot or first-agent side) to the next agent. Exactly one of
/// `agent`, `category` or `target` names where it goes.
public struct TransferRequest: Sendable, Codable, Equatable {
    /// An agent id: the agent's AOR is invited (the agent must be logged in somewhere).
    public var agent: String?
    /// A service category: a free logged-in agent with that skill (least recently chosen
    /// first), else its first contact.
    public var category: String?
    /// A SIP URI or AOR.
    public var target: String?
    /// The side that is handed over (default `callee`: the bot the caller called).
    public var leg: CallSide?
    /// `now` (default for transfers) or `silence`.
    public var mode: SpliceDecider.Mode?
    /// Lifetime of the call key (seconds; default `contact_center.key_ttl_s`).
    public var ttlS: Int?

    public init(agent: String? = nil, category: String? = nil, target: String? = nil, leg: CallSide? = nil,
                mode: SpliceDecider.Mode? = nil, ttlS: Int? = nil) {
        self.agent = agent; self.category = category; self.target = target; self.leg = leg; self.mode = mode; self.ttlS = ttlS
    }

    enum CodingKeys: String, CodingKey { case agent, category, target, leg, mode, ttlS = "ttl_s" }
}

/// What a transfer started: the switchover carrying it and the key the next agent enters.
public struct TransferResult: Sendable, Codable, Equatable {
    public var operation: SwitchoverOperation
    public var key: CallKey
    public var target: String
}

extension Handoff {
    /// Header carrying the call key on the agent's leg.
    public static let callKeyHeader = "X-Call-Key"

    /// `User-to-User` (RFC 7433) with the key as hex, for gateways that pass UUI but drop
    /// unknown headers.
    public static func userToUser(key: String) -> String {
        Array(key.utf8).map { String(format: "%02x", $0) }.joined() + ";encoding=hex;purpose=call-key"
    }

    /// Bot -> human: issues a call key for the call's data, then moves `leg` to the agent
    /// make-before-break; the agent's INVITE carries only the key (``callKeyHeader`` and
    /// User-to-User), never the data.
    public func transfer(call id: String, tenant: String, _ r: TransferRequest) async throws(HandoffError) -> TransferResult {
        guard let contactCenter else { throw .unavailable("no contact center configured") }
        let named = [r.agent, r.category, r.target].compactMap { $0 }.filter { !$0.isEmpty }
        guard named.count == 1 else { throw .invalid("name exactly one of agent, category or target") }
        let target: String
        var forAgent: String?
        if let a = r.agent, !a.isEmpty {
            guard let agent = contactCenter.agent(id: a) else { throw .refused(.targetNotFound("agent \(a)")) }
            guard let aor = agent.aor else { throw .refused(.targetNotFound("agent \(a) has no aor")) }
            guard agent.available else { throw .refused(.targetNotFound("agent \(a) is not logged in")) }
            target = aor
            forAgent = agent.id
        } else if let c = r.category, !c.isEmpty {
            guard let category = contactCenter.category(id: c) else { throw .refused(.targetNotFound("category \(c)")) }
            // A free agent of the skill, least recently chosen first (fair spread).
            let sip = self.sip
            let picked = await contactCenter.pick(skill: c) { agents in
                let aors = agents.compactMap { a in a.aor.flatMap(Devices.normalize).map { (a.id, $0) } }
                let free = (try? await sip.onLoop { aors.filter { sip.b2bua.freeContact(aor: $0.1) != nil }.map(\.0) }) ?? []
                return Set(free)
            }
            if let agent = picked, let aor = agent.aor {
                target = aor
                forAgent = agent.id
            } else if let contact = category.contacts.first {
                target = contact
            } else {
                throw .refused(.targetNotFound("category \(c) (no free logged-in agent and no contact)"))
            }
        } else {
            target = r.target!
        }
        guard calls.call(id: id)?.state == .answered else {
            throw calls.call(id: id) == nil ? .refused(.noSuchCall(id)) : .refused(.notAnswered(id))
        }
        let key: CallKey
        do { key = try await contactCenter.issueKey(call: id, tenant: tenant, ttl: r.ttlS, agent: forAgent) } catch {
            switch error {
            case .invalid(let s): throw .invalid(s)
            default: throw .unavailable(error.description)
            }
        }
        let req = SwitchoverRequest(target: target, mode: r.mode ?? .now, windowMs: configuration.windowMillis, leg: r.leg ?? .callee,
                                    primingMs: configuration.primingMillis)
        let headers = [(Handoff.callKeyHeader, key.key), ("User-to-User", Handoff.userToUser(key: key.key))]
        let result: Result<SwitchoverOperation, HandoffError>
        do {
            result = try await sip.onLoop { self.start(call: id, req, headers: headers, kind: "transfer") }
        } catch {
            throw .unavailable("the SIP service is not running")
        }
        let op = try result.get()
        // The history the transfer model's prior-transfer features count.
        let candidate = r.agent.flatMap { $0.isEmpty ? nil : $0 } ?? r.category.flatMap { $0.isEmpty ? nil : "category:\($0)" } ?? target
        if let info = calls.call(id: id) {
            // The model's training sample of this call, with the features it had now (before
            // the history counts this transfer).
            await contactCenter.recordSamples(call: id, caller: info.from, minutes: max(0, calls.currentTime - info.started) / 60,
                                              transferredTo: candidate)
            await contactCenter.recordTransfer(call: id, caller: info.from, candidate: candidate)
        }
        logger.info("transfer requested", metadata: ["call": "\(id)", "operation": "\(op.id)", "target": "\(target)"])
        return TransferResult(operation: op, key: key, target: target)
    }
}
