import Calls
import ContactCenter
import Foundation
import Handoff
import Prediction
import Hummingbird
import class SIP.B2BUA
import enum SIP.CallSide
import struct SIP.SIPURI
import Store

/// The HTTP API's operations, one method per `operationId` of openapi.yaml. The protocol
/// (`APIProtocol`) and the input/output types are generated from the document, so a handler
/// that answers something the document does not describe does not compile. Domain errors
/// are thrown as `HTTPError` (JSON `{"error":{"message"}}`, statuses listed in the document).
struct APIHandler: APIProtocol {
    let calls: CallManager
    let handoff: Handoff?
    let forwarding: ForwardingTable?
    let contactCenter: ContactCenter?
    let defaultTenant: String
    var login: DesktopLogin? = nil
    /// SIP users (`/users`, admin tokens only) and the realm new ones get (`auth.realm`).
    var users: SIPUsers? = nil
    var realm = "baton"
    var models: TransferModels? = nil

    // MARK: System and calls

    func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        .ok(.init(body: .json(.init(status: "ok", activeCalls: calls.activeCount, activeStreams: calls.relay.activeStreams))))
    }

    func listCalls(_ input: Operations.ListCalls.Input) async throws -> Operations.ListCalls.Output {
        .ok(.init(body: .json(.init(active: calls.calls().map(Schemas.Call.init), ended: calls.endedCalls().map(Schemas.Call.init)))))
    }

    func getCall(_ input: Operations.GetCall.Input) async throws -> Operations.GetCall.Output {
        guard let info = calls.call(id: input.path.id) else { return .notFound(.init("Unknown call-id \(input.path.id)")) }
        return .ok(.init(body: .json(.init(info))))
    }

    // MARK: Switchover and devices

    func startSwitchover(_ input: Operations.StartSwitchover.Input) async throws -> Operations.StartSwitchover.Output {
        guard case .json(let body) = input.body else { throw HTTPError(.unsupportedMediaType) }
        let request = SwitchoverRequest(body)
        try authorizeAgentMove(input.headers.xBatonAgent, call: input.path.id, side: request.leg ?? .callee, target: request.target)
        let op = try await handoffCall { try await $0.switchover(call: input.path.id, request) }
        return .accepted(.init(body: .json(.init(op))))
    }

    func listCallSwitchovers(_ input: Operations.ListCallSwitchovers.Input) async throws -> Operations.ListCallSwitchovers.Output {
        .ok(.init(body: .json(try requireHandoff().operations(call: input.path.id).map(Schemas.SwitchoverOperation.init))))
    }

    func getSwitchover(_ input: Operations.GetSwitchover.Input) async throws -> Operations.GetSwitchover.Output {
        guard let op = try requireHandoff().operation(id: input.path.op) else {
            return .notFound(.init("Unknown switchover \(input.path.op)"))
        }
        return .ok(.init(body: .json(.init(op))))
    }

    func listDevices(_ input: Operations.ListDevices.Input) async throws -> Operations.ListDevices.Output {
        .ok(.init(body: .json(try requireDevices().list(user: input.path.user).map(Schemas.Device.init))))
    }

    func putDevice(_ input: Operations.PutDevice.Input) async throws -> Operations.PutDevice.Output {
        guard case .json(let body) = input.body else { throw HTTPError(.unsupportedMediaType) }
        let devices = try requireDevices()
        let d = DeviceRecord(user: input.path.user, id: input.path.id, aor: body.aor, kind: body.kind.rawValue,
                             priority: body.priority ?? 0)
        try await handoffCall { _ in try await devices.put(d) }
        return .ok(.init(body: .json(.init(d))))
    }

    func deleteDevice(_ input: Operations.DeleteDevice.Input) async throws -> Operations.DeleteDevice.Output {
        let devices = try requireDevices()
        let (user, id) = (input.path.user, input.path.id)
        guard try await handoffCall({ _ in try await devices.delete(user: user, id: id) }) else {
            return .notFound(.init("Unknown device \(user)/\(id)"))
        }
        return .noContent(.init())
    }

    func listSpeakers(_ input: Operations.ListSpeakers.Input) async throws -> Operations.ListSpeakers.Output {
        .ok(.init(body: .json(try await requireHandoff().speakers(user: input.path.user).map(Schemas.Speaker.init))))
    }

    // MARK: Call forwarding

    func listForwardingRules(_ input: Operations.ListForwardingRules.Input) async throws -> Operations.ListForwardingRules.Output {
        .ok(.init(body: .json(try requireForwarding().all.map(Schemas.ForwardingRule.init))))
    }

    func putForwardingRule(_ input: Operations.PutForwardingRule.Input) async throws -> Operations.PutForwardingRule.Output {
        let table = try requireForwarding()
        let on = try Self.forwardReason(input.path.on.rawValue)
        guard case .json(let body) = input.body else { throw HTTPError(.unsupportedMediaType) }
        guard SIPURI(parsing: body.to) != nil else { return .badRequest(.init("to must be a SIP URI, not '\(body.to)'")) }
        let after = body.afterS ?? 20
        guard (1...600).contains(after) else { return .badRequest(.init("after_s must be 1-600")) }
        let rule = ForwardingRule(number: input.path.number, to: body.to, on: on, afterSeconds: after)
        try await table.put(rule)
        return .ok(.init(body: .json(.init(rule))))
    }

    func deleteForwardingRule(_ input: Operations.DeleteForwardingRule.Input) async throws -> Operations.DeleteForwardingRule.Output {
        let table = try requireForwarding()
        guard try await table.delete(number: input.path.number, on: try Self.forwardReason(input.path.on.rawValue)) else {
            return .notFound(.init("no such forwarding rule"))
        }
        return .noContent(.init())
    }

    static func forwardReason(_ on: String) throws -> ForwardReason {
        guard let r = on == "busy" ? .busy : ForwardReason(rawValue: on) else {
            throw HTTPError(.badRequest, message: "on must be unconditional, busy (user-busy) or no-answer, not '\(on)'")
        }
        return r
    }

    // MARK: Agents and service categories

    func listAgents(_ input: Operations.ListAgents.Input) async throws -> Operations.ListAgents.Output {
        .ok(.init(body: .json(try requireCenter().agents().map(Schemas.Agent.init))))
    }

    /// An agent's token or desktop session (`X-Baton-Agent`, set by the auth middleware) moves
    /// a call only as SIP REFER may (``MoveRules``): its own side of a call it is a party of, to
    /// its own devices or an allowed target (a transfer's agent or category is the agent's job).
    /// Application and admin tokens are not limited here.
    private func authorizeAgentMove(_ agentID: String?, call: String, side: CallSide, target: String?) throws {
        guard let agentID, !agentID.isEmpty else { return }
        guard let agent = contactCenter?.agent(id: agentID) else {
            throw HTTPError(.forbidden, message: "agent \(agentID) is unknown")
        }
        let user = agent.aor.map(DesktopLogin.userPart) ?? agent.id
        if case .deny(let why) = calls.authorizeMove(call: call, side: side, byUser: user, target: target) {
            throw HTTPError(.forbidden, message: why)
        }
    }

    // MARK: Dialog records and transfer probabilities

    func reportDialog(_ input: Operations.ReportDialog.Input) async throws -> Operations.ReportDialog.Output {
        let center = try requireCenter(), id = input.path.id
        guard case .json(let b) = input.body else { throw HTTPError(.unsupportedMediaType) }
        guard let c = calls.call(id: id), c.state != .ended else { return .notFound(.init("Unknown call-id \(id)")) }
        let report = BotReport(b)
        let summary = try await Self.cc { () async throws(ContactCenterError) in try await center.report(call: id, report) }
        var decision: ConversationDecision?
        if let handoff { decision = await handoff.conversation.reported(call: id, summary: summary, handoff: handoff) }
        return .ok(.init(body: .json(.init(summary: .init(summary), decision: decision.map(Schemas.ConversationDecision.init)))))
    }

    func getDialog(_ input: Operations.GetDialog.Input) async throws -> Operations.GetDialog.Output {
        let center = try requireCenter(), id = input.path.id
        let records = try await Self.cc { () async throws(ContactCenterError) in try await center.dialogRecords(call: id) }
        let decision = handoff?.conversation.decision(call: id).map(Schemas.ConversationDecision.init)
        return .ok(.init(body: .json(.init(decision: decision, summary: .init(center.dialogSummary(call: id)), records: records.map {
            .init(time: $0.time, report: .init($0.report))
        }))))
    }

    /// Per candidate second operator (every category, every logged-in agent): the model's
    /// probability that this live call is transferred to it. Media signals (talk-over,
    /// silences) are 0 until Baton measures them.
    func getPredictions(_ input: Operations.GetPredictions.Input) async throws -> Operations.GetPredictions.Output {
        let center = try requireCenter(), id = input.path.id
        guard let c = calls.call(id: id), c.state != .ended else { return .notFound(.init("Unknown call-id \(id)")) }
        guard let model = models?.model else { return .conflict(.init("no transfer model trained yet (baton model train)")) }
        let candidates = center.categories().map { "category:\($0.id)" } + center.agents().filter(\.available).map(\.id)
        let (features, out) = await predictions(c, candidates: candidates, model: model, center: center)
        return .ok(.init(body: .json(.init(call: id, modelVersion: model.version, features: .init(additionalProperties: features),
                                           candidates: out.map { .init(candidate: $0.0, probability: $0.1) }))))
    }

    /// The call's shared features and, per candidate, the model's probability (highest first).
    private func predictions(_ c: CallInfo, candidates: [String], model: TransferModel,
                             center: ContactCenter) async -> (features: [String: Double], [(String, Double)]) {
        let minutes = max(0, calls.currentTime - c.started) / 60
        let rows = await center.features(call: c.id, caller: c.from, minutes: minutes, candidates: candidates)
        var out = rows.map { ($0.candidate, model.probability(of: $0.features)) }
        out.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        return (DialogFeatures.shared(center.dialogSummary(call: c.id), minutes: minutes), out)
    }

    /// The live calls likely to reach an agent (it, or a category of its skills), highest
    /// probability first, with the call data it would get (fetched before any transfer).
    func getLikelyCalls(_ input: Operations.GetLikelyCalls.Input) async throws -> Operations.GetLikelyCalls.Output {
        let center = try requireCenter(), id = input.path.id
        guard let agent = center.agent(id: id) else { return .notFound(.init("Unknown agent \(id)")) }
        guard let model = models?.model else { return .ok(.init(body: .json([]))) }
        let tenant = try tenant(input.headers.xBatonTenant)
        let mine = [agent.id] + agent.skills.map { "category:\($0)" }
        var rows: [Schemas.LikelyCall] = []
        for c in calls.calls() where c.state == .answered {
            let (_, ranked) = await predictions(c, candidates: mine, model: model, center: center)
            guard let best = ranked.first else { continue }
            let data = try? await center.callData(call: c.id, tenant: tenant)
            rows.append(.init(call: c.id, candidate: best.0, probability: best.1, reason: data?.reason, account: data?.account))
        }
        rows.sort { $0.probability > $1.probability }
        return .ok(.init(body: .json(rows)))
    }

    func getConversationRules(_ input: Operations.GetConversationRules.Input) async throws -> Operations.GetConversationRules.Output {
        .ok(.init(body: .json((handoff?.conversation.current.rules ?? []).map(Schemas.ConversationRule.init))))
    }

    func putConversationRules(_ input: Operations.PutConversationRules.Input) async throws -> Operations.PutConversationRules.Output {
        let conversation = try requireHandoff().conversation
        guard case .json(let list) = input.body else { throw HTTPError(.unsupportedMediaType) }
        let rules = list.map { ConversationRule(name: $0.name, type: $0._type, when: $0.when, channel: $0.channel) }
        do {
            _ = try ConversationRules(rules)
        } catch {
            return .badRequest(.init(error.description))
        }
        // Kept in the store first (they outlive a restart), then in force.
        if let cc = contactCenter {
            do { try await cc.saveConversationRules(rules) } catch { throw HTTPError(.serviceUnavailable, message: error.description) }
        }
        do { try conversation.replace(rules) } catch { return .badRequest(.init(error.description)) }
        return .ok(.init(body: .json(conversation.current.rules.map(Schemas.ConversationRule.init))))
    }

    // MARK: Transfer model

    func getTransferModel(_ input: Operations.GetTransferModel.Input) async throws -> Operations.GetTransferModel.Output {
        guard let m = models?.model else { return .notFound(.init("no transfer model trained yet (baton model train)")) }
        return .ok(.init(body: .json(.init(m))))
    }

    // MARK: SIP users

    func listUsers(_ input: Operations.ListUsers.Input) async throws -> Operations.ListUsers.Output {
        .ok(.init(body: .json(try requireUsers().all.map(Schemas.SIPUser.init))))
    }

    func putUser(_ input: Operations.PutUser.Input) async throws -> Operations.PutUser.Output {
        let users = try requireUsers(), name = input.path.user
        guard case .json(let b) = input.body else { throw HTTPError(.unsupportedMediaType) }
        do { try await users.put(user: name, realm: realm, password: b.password) } catch let e as SIPUsersError {
            return .badRequest(.init(e.description))
        } catch {
            return .serviceUnavailable(.init("store: \(error)"))
        }
        guard let saved = users.all.first(where: { $0.user.lowercased() == name.lowercased() }) else {
            return .serviceUnavailable(.init("user \(name) not kept"))
        }
        return .ok(.init(body: .json(.init(saved))))
    }

    func deleteUser(_ input: Operations.DeleteUser.Input) async throws -> Operations.DeleteUser.Output {
        let users = try requireUsers(), name = input.path.user
        let existed: Bool
        do { existed = try await users.remove(user: name) } catch { return .serviceUnavailable(.init("store: \(error)")) }
        return existed ? .noContent(.init()) : .notFound(.init("Unknown user \(name)"))
    }

    private func requireUsers() throws -> SIPUsers {
        guard let users else { throw HTTPError(.serviceUnavailable, message: "no SIP user directory configured") }
        return users
    }

    func login(_ input: Operations.Login.Input) async throws -> Operations.Login.Output {
        let center = try requireCenter()
        guard case .json(let b) = input.body else { throw HTTPError(.unsupportedMediaType) }
        let desk = login ?? DesktopLogin(users: nil, tokens: nil)
        switch desk.login(agent: b.agent, password: b.password, center: center, tenant: defaultTenant) {
        case let .loggedIn(agent, token, expires):
            return .ok(.init(body: .json(.init(agent: .init(agent), token: token, expires: expires))))
        case .refused:
            return .unauthorized(.init("wrong agent id or password"))
        case .blocked(let retry):
            throw HTTPError(.tooManyRequests, headers: [.retryAfter: "\(retry)"],
                            message: "too many failed logins for this agent; try again in \(retry) s")
        }
    }

    func getAgent(_ input: Operations.GetAgent.Input) async throws -> Operations.GetAgent.Output {
        guard let a = try requireCenter().agent(id: input.path.id) else { return .notFound(.init("Unknown agent \(input.path.id)")) }
        return .ok(.init(body: .json(.init(a))))
    }

    func putAgent(_ input: Operations.PutAgent.Input) async throws -> Operations.PutAgent.Output {
        let center = try requireCenter()
        guard case .json(let b) = input.body else { throw HTTPError(.unsupportedMediaType) }
        let agent = Agent(id: input.path.id, name: b.name, aor: b.aor, skills: b.skills ?? [])
        let saved = try await Self.cc { () async throws(ContactCenterError) in try await center.putAgent(agent) }
        return .ok(.init(body: .json(.init(saved))))
    }

    func deleteAgent(_ input: Operations.DeleteAgent.Input) async throws -> Operations.DeleteAgent.Output {
        let center = try requireCenter(), id = input.path.id
        guard try await Self.cc({ () async throws(ContactCenterError) in try await center.deleteAgent(id: id) }) else {
            return .notFound(.init("Unknown agent \(id)"))
        }
        return .noContent(.init())
    }

    func setAgentLogin(_ input: Operations.SetAgentLogin.Input) async throws -> Operations.SetAgentLogin.Output {
        let center = try requireCenter()
        guard case .json(let b) = input.body else { throw HTTPError(.unsupportedMediaType) }
        let (id, system) = (input.path.id, input.path.system)
        let agent = try await Self.cc { () async throws(ContactCenterError) in
            try await center.setLogin(agent: id, system: system, loggedIn: b.state == .loggedIn)
        }
        return .ok(.init(body: .json(.init(agent))))
    }

    func listCategories(_ input: Operations.ListCategories.Input) async throws -> Operations.ListCategories.Output {
        .ok(.init(body: .json(try requireCenter().categories().map(Schemas.Category.init))))
    }

    func getCategory(_ input: Operations.GetCategory.Input) async throws -> Operations.GetCategory.Output {
        guard let c = try requireCenter().category(id: input.path.id) else {
            return .notFound(.init("Unknown category \(input.path.id)"))
        }
        return .ok(.init(body: .json(.init(c))))
    }

    func putCategory(_ input: Operations.PutCategory.Input) async throws -> Operations.PutCategory.Output {
        let center = try requireCenter()
        guard case .json(let b) = input.body else { throw HTTPError(.unsupportedMediaType) }
        let category = ServiceCategory(id: input.path.id, name: b.name, description: b.description ?? "",
                                       contacts: b.contacts ?? [], hours: b.hours)
        let saved = try await Self.cc { () async throws(ContactCenterError) in try await center.putCategory(category) }
        return .ok(.init(body: .json(.init(saved))))
    }

    func deleteCategory(_ input: Operations.DeleteCategory.Input) async throws -> Operations.DeleteCategory.Output {
        let center = try requireCenter(), id = input.path.id
        guard try await Self.cc({ () async throws(ContactCenterError) in try await center.deleteCategory(id: id) }) else {
            return .notFound(.init("Unknown category \(id)"))
        }
        return .noContent(.init())
    }

    // MARK: Call data, call keys and transfers

    func getCallData(_ input: Operations.GetCallData.Input) async throws -> Operations.GetCallData.Output {
        let center = try requireCenter(), id = input.path.id
        let tenant = try tenant(input.headers.xBatonTenant)
        guard let d = try await Self.cc({ () async throws(ContactCenterError) in try await center.callData(call: id, tenant: tenant) }) else {
            return .notFound(.init("No call data for \(id)"))
        }
        return .ok(.init(body: .json(.init(d))))
    }

    func updateCallData(_ input: Operations.UpdateCallData.Input) async throws -> Operations.UpdateCallData.Output {
        let center = try requireCenter(), id = input.path.id
        let tenant = try tenant(input.headers.xBatonTenant)
        guard calls.call(id: id) != nil else { return .notFound(.init("Unknown call-id \(id)")) }
        guard case .json(let b) = input.body else { throw HTTPError(.unsupportedMediaType) }
        let update = CallDataUpdate(b)
        let d = try await Self.cc { () async throws(ContactCenterError) in try await center.updateCallData(call: id, tenant: tenant, update) }
        return .ok(.init(body: .json(.init(d))))
    }

    func issueCallKey(_ input: Operations.IssueCallKey.Input) async throws -> Operations.IssueCallKey.Output {
        let center = try requireCenter(), id = input.path.id
        let tenant = try tenant(input.headers.xBatonTenant)
        guard calls.call(id: id) != nil else { return .notFound(.init("Unknown call-id \(id)")) }
        guard case .json(let b) = input.body else { throw HTTPError(.unsupportedMediaType) }
        let ttl = b.ttlS
        let key = try await Self.cc { () async throws(ContactCenterError) in try await center.issueKey(call: id, tenant: tenant, ttl: ttl) }
        return .created(.init(body: .json(.init(key))))
    }

    func redeemCallKey(_ input: Operations.RedeemCallKey.Input) async throws -> Operations.RedeemCallKey.Output {
        let center = try requireCenter(), key = input.path.key
        let tenant = try tenant(input.headers.xBatonTenant)
        let agent = input.headers.xBatonAgent.flatMap { $0.isEmpty ? nil : $0 }
        let (k, d) = try await Self.cc { () async throws(ContactCenterError) in try await center.redeem(key: key, tenant: tenant, agent: agent) }
        return .ok(.init(body: .json(.init(key: k.key, call: k.call, expires: k.expires, data: .init(d)))))
    }

    func transferCall(_ input: Operations.TransferCall.Input) async throws -> Operations.TransferCall.Output {
        _ = try requireCenter()
        let tenant = try tenant(input.headers.xBatonTenant)
        guard case .json(let b) = input.body else { throw HTTPError(.unsupportedMediaType) }
        let request = TransferRequest(b)
        try authorizeAgentMove(input.headers.xBatonAgent, call: input.path.id, side: request.leg ?? .callee, target: nil)
        let result = try await handoffCall { try await $0.transfer(call: input.path.id, tenant: tenant, request) }
        return .accepted(.init(body: .json(.init(result))))
    }

    // MARK: Shared calls

    func listSharedCalls(_ input: Operations.ListSharedCalls.Input) async throws -> Operations.ListSharedCalls.Output {
        let ops = input.query.user.map { calls.shared.operations(user: $0) } ?? calls.shared.all()
        return .ok(.init(body: .json(ops.map(Schemas.SharedCall.init))))
    }

    func getSharedCall(_ input: Operations.GetSharedCall.Input) async throws -> Operations.GetSharedCall.Output {
        guard let op = calls.shared.get(input.path.id) else { return .notFound(.init("Unknown shared call \(input.path.id)")) }
        return .ok(.init(body: .json(.init(op))))
    }

    func joinSharedCall(_ input: Operations.JoinSharedCall.Input) async throws -> Operations.JoinSharedCall.Output {
        guard case .json(let b) = input.body else { throw HTTPError(.unsupportedMediaType) }
        do {
            return .ok(.init(body: .json(.init(try calls.shared.join(call: b.call, into: input.path.id)))))
        } catch {
            switch error {
            case .notFound(let s): return .notFound(.init(s))
            case .invalid(let s): return .conflict(.init(s))
            }
        }
    }

    // MARK: Helpers

    /// The tenant of a request: `X-Baton-Tenant`, else the configured default. Keys and call
    /// data of one tenant are invisible to every other.
    func tenant(_ header: String?) throws -> String {
        guard let t = header else { return defaultTenant }
        guard !t.isEmpty, t.count <= 64, t.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw HTTPError(.badRequest, message: "X-Baton-Tenant must be 1-64 visible ASCII characters")
        }
        return t
    }

    /// A part of the gateway that this configuration runs without: its operations answer 404.
    static func notEnabled(_ what: String) -> HTTPError {
        HTTPError(.notFound, message: "\(what) is not enabled on this gateway")
    }

    func requireHandoff() throws -> Handoff {
        guard let handoff else { throw Self.notEnabled("switchover") }
        return handoff
    }

    func requireDevices() throws -> Devices {
        guard let devices = try requireHandoff().devices else { throw Self.notEnabled("the device registry") }
        return devices
    }

    func requireForwarding() throws -> ForwardingTable {
        guard let forwarding else { throw Self.notEnabled("call forwarding") }
        return forwarding
    }

    func requireCenter() throws -> ContactCenter {
        guard let contactCenter else { throw Self.notEnabled("the contact center") }
        return contactCenter
    }

    /// Runs a Handoff operation; its refusal becomes the HTTP status the document lists.
    func handoffCall<T>(_ body: (Handoff) async throws -> T) async throws -> T {
        let h = try requireHandoff()
        do { return try await body(h) } catch let e as HandoffError { throw HTTPError(HTTPAPI.status(of: e), message: e.description) }
    }

    static func cc<T>(_ body: () async throws(ContactCenterError) -> T) async throws -> T {
        do { return try await body() } catch { throw HTTPError(HTTPAPI.status(of: error), message: error.description) }
    }
}
