import Calls
import ContactCenter
import Foundation
import Handoff
import HTTPTypes
import Hummingbird

/// Shared calls, agents, the service-category directory, call data, call keys and
/// transfers (docs/contact-center.md, docs/http-api.md).
extension HTTPAPI {
    /// The tenant of a request: `X-Baton-Tenant`, else the configured default. Keys and call
    /// data of one tenant are invisible to every other.
    static let tenantHeader = HTTPField.Name("X-Baton-Tenant")!

    static func tenant(_ request: Request, default d: String) throws -> String {
        guard let t = request.headers[tenantHeader] else { return d }
        guard !t.isEmpty, t.count <= 64, t.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw HTTPError(.badRequest, message: "X-Baton-Tenant must be 1-64 visible ASCII characters")
        }
        return t
    }

    /// Decodes a JSON body or answers 400 with what was expected.
    static func body<T: Decodable>(_ request: Request, _ ctx: BasicRequestContext, _ type: T.Type, example: String) async throws -> T {
        do { return try await request.decode(as: T.self, context: ctx) } catch {
            throw HTTPError(.badRequest, message: "body must be JSON like \(example): \(error)")
        }
    }

    static func status(of e: ContactCenterError) -> HTTPResponse.Status {
        switch e {
        case .invalid: .badRequest
        case .notFound: .notFound
        case .expired: .gone
        case .unavailable: .serviceUnavailable
        }
    }

    static func cc<T>(_ body: () async throws(ContactCenterError) -> T) async throws -> T {
        do { return try await body() } catch { throw HTTPError(status(of: error), message: error.description) }
    }

    struct AgentBody: Decodable { var name: String; var aor: String?; var skills: [String]? }
    struct LoginBody: Decodable { var state: Agent.Login.State }
    struct CategoryBody: Decodable { var name: String; var description: String?; var contacts: [String]?; var hours: String? }
    struct KeyBody: Decodable { var ttl_s: Int? }
    struct JoinBody: Decodable { var call: String }

    /// A redeemed key: what the next agent sees.
    struct KeyView: ResponseEncodable { var key: String; var call: String; var expires: Double; var data: CallData }

    static func contactCenterRoutes(_ router: Router<BasicRequestContext>, cc center: ContactCenter, calls: CallManager,
                                    handoff: Handoff?, defaultTenant: String) {
        // Agents and logins.
        router.get("/agents") { _, _ -> [Agent] in center.agents() }
        router.get("/agents/:id") { _, ctx -> Agent in
            let id = try ctx.parameters.require("id")
            guard let a = center.agent(id: id) else { throw HTTPError(.notFound, message: "Unknown agent \(id)") }
            return a
        }
        router.put("/agents/:id") { request, ctx -> Agent in
            let b = try await body(request, ctx, AgentBody.self, example: #"{"name": "Ann", "aor": "agent1@example.com", "skills": ["billing"]}"#)
            let id = try ctx.parameters.require("id")
            return try await cc { () async throws(ContactCenterError) in
                try await center.putAgent(Agent(id: id, name: b.name, aor: b.aor, skills: b.skills ?? []))
            }
        }
        router.delete("/agents/:id") { _, ctx -> HTTPResponse.Status in
            let id = try ctx.parameters.require("id")
            guard try await cc({ () async throws(ContactCenterError) in try await center.deleteAgent(id: id) }) else {
                throw HTTPError(.notFound, message: "Unknown agent \(id)")
            }
            return .noContent
        }
        router.put("/agents/:id/logins/:system") { request, ctx -> Agent in
            let b = try await body(request, ctx, LoginBody.self, example: #"{"state": "logged-in"}"#)
            let id = try ctx.parameters.require("id"), system = try ctx.parameters.require("system")
            return try await cc { () async throws(ContactCenterError) in
                try await center.setLogin(agent: id, system: system, loggedIn: b.state == .loggedIn)
            }
        }

        // Service-category directory.
        router.get("/categories") { _, _ -> [ServiceCategory] in center.categories() }
        router.get("/categories/:id") { _, ctx -> ServiceCategory in
            let id = try ctx.parameters.require("id")
            guard let c = center.category(id: id) else { throw HTTPError(.notFound, message: "Unknown category \(id)") }
            return c
        }
        router.put("/categories/:id") { request, ctx -> ServiceCategory in
            let b = try await body(request, ctx, CategoryBody.self,
                                   example: #"{"name": "Billing", "description": "...", "contacts": ["sip:billing@example.com"], "hours": "Mo-Fr 8-18"}"#)
            let id = try ctx.parameters.require("id")
            return try await cc { () async throws(ContactCenterError) in
                try await center.putCategory(ServiceCategory(id: id, name: b.name, description: b.description ?? "",
                                                             contacts: b.contacts ?? [], hours: b.hours))
            }
        }
        router.delete("/categories/:id") { _, ctx -> HTTPResponse.Status in
            let id = try ctx.parameters.require("id")
            guard try await cc({ () async throws(ContactCenterError) in try await center.deleteCategory(id: id) }) else {
                throw HTTPError(.notFound, message: "Unknown category \(id)")
            }
            return .noContent
        }

        // Call data and keys.
        @Sendable func requireCall(_ id: String) throws {
            guard calls.call(id: id) != nil else { throw HTTPError(.notFound, message: "Unknown call-id \(id)") }
        }
        router.get("/calls/:id/data") { request, ctx -> CallData in
            let id = try ctx.parameters.require("id"), tenant = try tenant(request, default: defaultTenant)
            guard let d = try await cc({ () async throws(ContactCenterError) in try await center.callData(call: id, tenant: tenant) }) else {
                throw HTTPError(.notFound, message: "No call data for \(id)")
            }
            return d
        }
        router.post("/calls/:id/data") { request, ctx -> CallData in
            let id = try ctx.parameters.require("id"), tenant = try tenant(request, default: defaultTenant)
            try requireCall(id)
            let u = try await body(request, ctx, CallDataUpdate.self,
                                   example: #"{"account": "4711", "reason": "billing", "notes": "...", "transcript": ["..."], "fields": {"k": "v"}}"#)
            return try await cc { () async throws(ContactCenterError) in try await center.updateCallData(call: id, tenant: tenant, u) }
        }
        router.post("/calls/:id/keys") { request, ctx -> EditedResponse<CallKey> in
            let id = try ctx.parameters.require("id"), tenant = try tenant(request, default: defaultTenant)
            try requireCall(id)
            let b = try await body(request, ctx, KeyBody.self, example: #"{"ttl_s": 600}"#)
            return EditedResponse(status: .created, response: try await cc { () async throws(ContactCenterError) in
                try await center.issueKey(call: id, tenant: tenant, ttl: b.ttl_s)
            })
        }
        router.get("/call-keys/:key") { request, ctx -> KeyView in
            let key = try ctx.parameters.require("key"), tenant = try tenant(request, default: defaultTenant)
            let (k, d) = try await cc { () async throws(ContactCenterError) in try await center.redeem(key: key, tenant: tenant) }
            return KeyView(key: k.key, call: k.call, expires: k.expires, data: d)
        }
        if let handoff {
            router.post("/calls/:id/transfer") { request, ctx -> EditedResponse<TransferResult> in
                let id = try ctx.parameters.require("id"), tenant = try tenant(request, default: defaultTenant)
                let b = try await body(request, ctx, TransferRequest.self,
                                       example: #"{"agent": "a1"} or {"category": "billing"} or {"target": "sip:..."}, with "leg", "mode", "ttl_s""#)
                do {
                    return EditedResponse(status: .accepted, response: try await handoff.transfer(call: id, tenant: tenant, b))
                } catch let e as HandoffError {
                    throw HTTPError(status(of: e), message: e.description)
                }
            }
        }

        // Shared calls.
        router.get("/shared-calls") { request, _ -> [SharedCall] in
            if let user = request.uri.queryParameters["user"].map(String.init) { return calls.shared.operations(user: user) }
            return calls.shared.all()
        }
        router.get("/shared-calls/:id") { _, ctx -> SharedCall in
            let id = try ctx.parameters.require("id")
            guard let op = calls.shared.get(id) else { throw HTTPError(.notFound, message: "Unknown shared call \(id)") }
            return op
        }
        router.post("/shared-calls/:id/members") { request, ctx -> SharedCall in
            let id = try ctx.parameters.require("id")
            let b = try await body(request, ctx, JoinBody.self, example: #"{"call": "<call id>"}"#)
            do { return try calls.shared.join(call: b.call, into: id) } catch let e as SharedCallError {
                switch e {
                case .notFound(let s): throw HTTPError(.notFound, message: s)
                case .invalid(let s): throw HTTPError(.conflict, message: s)
                }
            }
        }
    }
}

extension Agent: ResponseEncodable {}
extension ServiceCategory: ResponseEncodable {}
extension CallData: ResponseEncodable {}
extension CallKey: ResponseEncodable {}
extension SharedCall: ResponseEncodable {}
extension TransferResult: ResponseEncodable {}
