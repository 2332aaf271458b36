@testable import Calls
import Foundation
import SIP
import Synchronization
import Testing

@Suite struct SharedCallsTests {
    /// The table of docs/shared-calls.md, row by row: member statuses -> global state.
    static let table: [([MemberStatus], GlobalState)] = [
        ([], .ended),
        ([.ended], .ended),
        ([.ended, .ended], .ended),
        ([.trying], .trying),
        ([.ringing], .ringing),
        ([.active], .active),
        ([.held], .held),
        ([.held, .held], .held),
        ([.held, .ended], .held),
        ([.held, .trying], .trying),
        ([.held, .ringing], .ringing),
        ([.held, .active], .active),
        ([.trying, .ringing], .ringing),
        ([.ringing, .active], .active),
        ([.trying, .active], .active),
        ([.active, .ended], .active),
        ([.ringing, .ended], .ringing),
        ([.trying, .ended], .trying),
        ([.held, .ringing, .active, .trying, .ended], .active),
    ]

    @Test(arguments: table)
    func globalStateRule(_ statuses: [MemberStatus], _ expected: GlobalState) {
        #expect(GlobalState.derive(statuses) == expected)
        // Order never matters.
        #expect(GlobalState.derive(statuses.reversed()) == expected)
    }

    /// Every transition of one member between any two statuses, next to a second member in
    /// any status: the global state after it is the rule applied to the new statuses, and
    /// an event is published exactly when something changed.
    @Test func everyTransitionRecomputesTheGlobalState() {
        for other in MemberStatus.allCases where other != .ended {
            for from in MemberStatus.allCases where from != .ended {
                for to in MemberStatus.allCases where to != from {
                    let shared = SharedCalls(now: { 0 })
                    shared.callStarted(call: "c1", users: ["alice"], peer: nil)
                    shared.callStarted(call: "c2", users: ["alice"], peer: nil)
                    _ = try? shared.join(call: "c2", into: "uc-c1")
                    shared.setStatus(member: "c2", other)
                    shared.setStatus(member: "c1", from)
                    let op0 = shared.get("uc-c1")!
                    #expect(op0.state == GlobalState.derive([from, other]))
                    shared.setStatus(member: "c1", to)
                    let op = shared.get("uc-c1")!
                    #expect(op.state == GlobalState.derive([to, other]), "\(from) -> \(to) beside \(other)")
                    #expect(op.history.last?.member == "c1" && op.history.last?.status == to && op.history.last?.state == op.state)
                }
            }
        }
    }

    @Test func aCallsLifeWithAConsultationAndASwitchoverLeg() async throws {
        let notified = Mutex<[[String]]>([])
        let shared = SharedCalls(now: { 0 })
        shared.onChange.set { users in notified.withLock { $0.append(users) } }
        let events = shared.events.subscribe()
        shared.callStarted(call: "c1", users: ["alice", "bob"], peer: "sip:bob@example.com")
        #expect(shared.get("uc-c1")?.state == .trying)
        shared.setStatus(member: "c1", .ringing)
        shared.setStatus(member: "c1", .active)
        shared.setStatus(member: "c1", .held)
        #expect(shared.get("uc-c1")?.state == .held)
        // A consultation joins by API: its ringing shows while the first call is held.
        shared.callStarted(call: "c2", users: ["alice", "carol"], peer: "sip:carol@example.com")
        let joined = try shared.join(call: "c2", into: "uc-c1")
        #expect(joined.members.map(\.id) == ["c1", "c2"] && joined.users == ["alice", "bob", "carol"])
        #expect(shared.get("uc-c2") == nil && shared.id(ofCall: "c2") == "uc-c1")
        shared.setStatus(member: "c2", .ringing)
        #expect(shared.get("uc-c1")?.state == .ringing)
        shared.setStatus(member: "c2", .active)
        #expect(shared.get("uc-c1")?.state == .active)
        shared.setStatus(member: "c2", .ended)
        #expect(shared.get("uc-c1")?.state == .held)
        // A switchover leg of c1 is added automatically (Handoff) and ends with its call.
        shared.setStatus(member: "c1", .active)
        shared.addLeg("sw-1", kind: "switchover", call: "c1", peer: "sip:kitchen@example.com", users: ["kitchen"])
        shared.setStatus(member: "sw-1", .ringing)
        shared.setStatus(member: "sw-1", .active)
        #expect(shared.get("uc-c1")?.members.first { $0.id == "sw-1" }?.status == .active)
        shared.setStatus(member: "c1", .ended)
        let op = try #require(shared.get("uc-c1"))
        #expect(op.state == .ended && op.members.allSatisfy { $0.status == .ended })
        // A status after the end changes nothing.
        shared.setStatus(member: "c1", .active)
        #expect(shared.get("uc-c1")?.state == .ended)
        #expect(throws: SharedCallError.self) { try shared.join(call: "c1", into: "uc-nope") }
        // Subscribers were told of each change (the dialog document names the live members
        // too), plus the consultation's own start before it joined.
        let states = op.history.map(\.state)
        #expect(states.first == .trying && states.last == .ended)
        #expect(notified.withLock { $0.count } == op.history.count + 1)
        shared.events.finish()
        var kinds: [GlobalState] = []
        for await e in events { kinds.append(e.state) }
        #expect(kinds.count == op.history.count + 1)   // + the consultation's own start
        #expect(shared.operations(user: "carol").map(\.id) == ["uc-c1"])
    }

    @Test func dialogInfoReflectsTheGlobalState() throws {
        let shared = SharedCalls(now: { 0 })
        shared.callStarted(call: "c1", users: ["alice", "bob"], peer: "sip:bob@example.com")
        shared.setStatus(member: "c1", .ringing)
        var xml = shared.dialogInfo(user: "alice", entity: "sip:alice@example.com", version: 3).xml()
        #expect(xml.contains(#"version="3" state="full" entity="sip:alice@example.com""#))
        #expect(xml.contains(#"<dialog id="uc-c1" call-id="c1">"#) && xml.contains("<state>early</state>"))
        #expect(xml.contains(#"<sc:shared-call members="1" state="ringing"/>"#))
        shared.setStatus(member: "c1", .active)
        shared.setStatus(member: "c1", .held)
        xml = shared.dialogInfo(user: "ALICE", entity: "sip:alice@example.com", version: 4).xml()
        #expect(xml.contains("<state>confirmed</state>") && xml.contains(#"pname="+sip.rendering" pvalue="no""#))
        #expect(xml.contains(#"state="held""#))
        #expect(!shared.dialogInfo(user: "carol", entity: "sip:carol@x", version: 1).xml().contains("<dialog "))
        // Escaping.
        let d = DialogInfo(entity: "sip:a&b@x", version: 1, dialogs: [.init(id: "<x>", callID: "\"q\"", state: .trying)]).xml()
        #expect(d.contains("sip:a&amp;b@x") && d.contains("&lt;x&gt;") && d.contains("&quot;q&quot;"))
    }

    /// Two gateways' views of one user's shared call, wired as the shared store wires them
    /// (each local change published, merged by the other): members on both, one global state.
    @Test func membersOnTwoGatewaysHaveOneGlobalState() throws {
        let a = SharedCalls(), b = SharedCalls()
        a.memberChanged.set { c in b.mergeRemote(op: c.op, member: c.member, users: c.users) }
        b.memberChanged.set { c in a.mergeRemote(op: c.op, member: c.member, users: c.users) }
        let notifiedOnB = Mutex<[String]>([])
        b.onChange.set { users in notifiedOnB.withLock { $0 += users } }
        a.callStarted(call: "c1", users: ["alice", "bob"], peer: "sip:bob@example.com")
        a.setStatus(member: "c1", .active)
        #expect(b.get("uc-c1")?.state == .active, "B mirrors A's call")
        #expect(notifiedOnB.withLock { $0 }.contains("alice"), "B's watchers of alice hear of it")
        // A second call of alice's on B joins the operation A holds.
        b.callStarted(call: "c2", users: ["alice", "carol"], peer: "sip:carol@example.com")
        b.setStatus(member: "c2", .ringing)
        _ = try b.join(call: "c2", into: "uc-c1")
        for g in [a, b] {
            let op = try #require(g.get("uc-c1"))
            #expect(Set(op.members.map(\.id)) == ["c1", "c2"])
            #expect(op.state == .active)
            #expect(Set(op.users) == ["alice", "bob", "carol"])
        }
        #expect(a.get("uc-c2") == nil && b.get("uc-c2") == nil, "the emptied operation is gone on both")
        // c2 ends on B, c1 is held on A: held on both; then c1 ends: ended on both.
        b.setStatus(member: "c2", .ended)
        a.setStatus(member: "c1", .held)
        #expect(a.get("uc-c1")?.state == .held && b.get("uc-c1")?.state == .held)
        a.setStatus(member: "c1", .ended)
        #expect(a.get("uc-c1")?.state == .ended && b.get("uc-c1")?.state == .ended)
        // Mirrored members are forgotten with their operation (keepEnded), not kept forever.
        let c = SharedCalls(keepEnded: 1)
        for i in 0..<5 {
            c.mergeRemote(op: "uc-r\(i)", member: .init(id: "r\(i)", kind: "call", call: "r\(i)", status: .ended, since: 0, peer: nil), users: ["u"])
        }
        #expect(c.all().count == 1 && c.mirroredCount == 1)
        // A mirrored member never overwrites a member this gateway holds.
        b.mergeRemote(op: "uc-x", member: .init(id: "c2", kind: "call", call: "c2", status: .active, since: 0, peer: nil), users: [])
        #expect(b.status(member: "c2") == .ended)
    }
}
