import Calls
import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
import SIP
import Store
import Testing
import TestSupport
@testable import Control

@Suite(.serialized) struct HTTPAPITests {
    func app() throws -> (some ApplicationProtocol, CallManager) {
        let calls = try testCalls(ports: TestPorts.range(50))
        let router = HTTPAPI.router(calls: calls, registry: PrometheusCollectorRegistry())
        return (Application(router: router), calls)
    }

    @Test func healthCallsAndErrors() async throws {
        let (app, calls) = try app()
        calls.callEvent(.started(id: "abc", from: "a", to: "b", callerCallID: "cid",
                                 caller: .sip(SIPPeer(transport: .udp, host: "127.0.0.1", port: 5070))))
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { r in
                #expect(r.status == .ok)
                let body = try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any]
                #expect(body?["status"] as? String == "ok")
                #expect(body?["activeCalls"] as? Int == 1)
            }
            try await client.execute(uri: "/calls", method: .get) { r in
                let list = try JSONDecoder().decode(CallListBody.self, from: Data(buffer: r.body))
                #expect(list.active.map(\.id) == ["abc"])
                #expect(list.active.first?.legs.first?.signaling == "udp:127.0.0.1:5070")
            }
            try await client.execute(uri: "/calls/abc", method: .get) { r in
                #expect(r.status == .ok)
                let info = try JSONDecoder().decode(CallInfo.self, from: Data(buffer: r.body))
                #expect(info.from == "a")
            }
            try await client.execute(uri: "/calls/nope", method: .get) { r in
                #expect(r.status == .notFound)
                let err = try JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: [String: String]]
                #expect(err?["error"]?["message"] == "Unknown call-id nope")
            }
        }
    }

    @Test func metricsIncludeRelayAndCallCounters() async throws {
        let (app, calls) = try app()
        try await app.test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { r in
                #expect(r.headers[.contentType]?.hasPrefix("text/plain") == true)
                let text = String(buffer: r.body)
                #expect(text.contains("baton_rtp_packets_relayed_total 0"))
                #expect(text.contains("baton_rtp_packets_dropped_total{reason=\"source_mismatch\"} 0"))
                #expect(text.contains("baton_rtp_packets_dropped_total{reason=\"parked_port\"} 0"))
                #expect(text.contains("baton_rtp_port_pairs_in_use 0"))
                #expect(text.contains("baton_rtp_port_pairs_parked 0"))
                #expect(text.contains("baton_rtp_port_pair_budget \(calls.relay.pool.pairBudget)"))
            }
        }
    }

    struct CallListBody: Decodable { var active: [CallInfo]; var ended: [CallInfo] }
}

@Suite(.serialized) struct ForwardingAPITests {
    @Test func putListDeleteAndSurviveARestart() async throws {
        let calls = try testCalls(ports: TestPorts.range(20))
        let store = try Store(path: ":memory:")
        let table = ForwardingTable([ForwardingRule(number: "alice", to: "sip:bob@127.0.0.1", on: .unconditional)], store: store)
        let app = Application(router: HTTPAPI.router(calls: calls, registry: PrometheusCollectorRegistry(), forwarding: table))
        try await app.test(.router) { client in
            try await client.execute(uri: "/forwarding/+1-202-555-0102/no-answer", method: .put,
                                     body: ByteBuffer(string: #"{"to": "sip:vm@127.0.0.1:5080", "after_s": 12}"#)) { r in
                #expect(r.status == .ok, "\(String(buffer: r.body))")
            }
            try await client.execute(uri: "/forwarding/x/sometimes", method: .put, body: ByteBuffer(string: #"{"to": "sip:a@b"}"#)) { r in
                #expect(r.status == .badRequest)
            }
            try await client.execute(uri: "/forwarding/x/busy", method: .put, body: ByteBuffer(string: #"{"to": "not a uri"}"#)) { r in
                #expect(r.status == .badRequest)
            }
            try await client.execute(uri: "/forwarding", method: .get) { r in
                let rules = try JSONDecoder().decode([ForwardingRule].self, from: Data(buffer: r.body))
                #expect(rules.count == 2)
            }
            try await client.execute(uri: "/forwarding/alice/unconditional", method: .delete) { r in #expect(r.status == .noContent) }
            try await client.execute(uri: "/forwarding/alice/unconditional", method: .delete) { r in #expect(r.status == .notFound) }
        }
        #expect(table.noAnswer(called: "sip:+12025550102@example.com")?.seconds == 12)
        #expect(table.target(called: "sip:alice@127.0.0.1", reason: .unconditional) == nil)
        // What the API set comes back from the store.
        let again = ForwardingTable(store: store)
        try await again.restore()
        #expect(again.noAnswer(called: "sip:+12025550102@x")?.target == "sip:vm@127.0.0.1:5080")
        #expect(again.forwards("12025550102"))
    }
}
