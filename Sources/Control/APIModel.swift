import Calls
import ContactCenter
import Handoff
import Media
import Prediction
import Store
import enum SIP.CallSide
import struct SIP.SIPCredentials

// Domain values -> the API's wire types (generated from openapi.yaml). Domain types stay
// free of HTTP concerns; this file is the one place that decides how they look on the wire,
// and the compiler checks every field against the document.

typealias Schemas = Components.Schemas

extension Schemas.ErrorBody {
    init(_ message: String) { self.init(error: .init(message: message)) }
}

extension Components.Responses.Failure {
    init(_ message: String) { self.init(body: .json(.init(message))) }
}

extension Schemas.Counters {
    init(_ s: StreamStats.Snapshot) {
        func i(_ v: UInt64) -> Int64 { Int64(clamping: v) }
        self.init(rxPackets: i(s.rxPackets), rxBytes: i(s.rxBytes), txPackets: i(s.txPackets), txBytes: i(s.txBytes),
                  droppedSource: i(s.droppedSource), droppedNoDestination: i(s.droppedNoDestination),
                  droppedSendError: i(s.droppedSendError), sequenceGaps: i(s.sequenceGaps), duplicates: i(s.duplicates),
                  jitter: i(s.jitter), droppedSRTP: i(s.droppedSRTP), droppedCodec: i(s.droppedCodec))
    }
}

extension Schemas.Call {
    init(_ c: CallInfo) {
        self.init(id: c.id, state: .init(c.state), from: c.from, to: c.to, started: c.started, answered: c.answered,
                  ended: c.ended, hungUpBy: c.hungUpBy, reason: c.reason, legs: c.legs.map(Schemas.Leg.init))
    }
}

extension Schemas.Call.StatePayload {
    init(_ s: CallInfo.State) {
        switch s {
        case .calling: self = .calling
        case .answered: self = .answered
        case .ended: self = .ended
        }
    }
}

extension Schemas.Leg {
    init(_ l: LegInfo) {
        self.init(side: .init(l.side), callID: l.callID, signaling: l.signaling,
                  dialog: l.dialog.map { .init(callID: $0.callID, localTag: $0.localTag, remoteTag: $0.remoteTag) },
                  media: l.media.map {
                      .init(localPort: $0.localPort, advertised: $0.advertised, latched: $0.latched,
                            rtp: .init($0.rtp), rtcp: .init($0.rtcp))
                  })
    }
}

extension Schemas.SwitchoverOperation {
    init(_ o: SwitchoverOperation) {
        self.init(id: o.id, kind: o.kind == "transfer" ? .transfer : .switchover, call: o.call, target: o.target,
                  leg: o.leg.rawValue, mode: o.mode.rawValue, windowMs: o.windowMs, primingMs: o.primingMs,
                  state: .init(o.state), reason: o.reason, events: o.events.map(Schemas.SwitchoverEvent.init))
    }
}

extension Schemas.SwitchoverOperation.StatePayload {
    init(_ s: SwitchoverOperation.State) {
        switch s {
        case .requested: self = .requested
        case .ringing: self = .ringing
        case .answered: self = .answered
        case .completed: self = .completed
        case .failed: self = .failed
        }
    }
}

extension Schemas.SwitchoverEvent {
    init(_ e: SwitchoverEvent) {
        let kind: KindPayload = switch e.kind {
        case .requested: .requested
        case .ringing: .ringing
        case .answered: .answered
        case .spliced: .spliced
        case .released: .released
        case .failed: .failed
        }
        self.init(_type: e.type, operation: e.operation, call: e.call, kind: kind, time: e.time, detail: e.detail,
                  splice: e.splice.map(Schemas.SpliceReport.init))
    }
}

extension Schemas.SpliceReport {
    init(_ r: Media.SpliceReport) {
        let reason: ReasonPayload = switch r.reason {
        case .silence: .silence
        case .immediate: .immediate
        case .window: .window
        }
        self.init(reason: reason, time: r.time, silenceWaitMillis: r.silenceWaitMillis, primedMillis: r.primedMillis,
                  ssrc: Int64(r.ssrc), lastSeq: Int(r.lastSeq), lastTimestamp: Int64(r.lastTimestamp))
    }
}

extension SwitchoverRequest {
    init(_ b: Schemas.SwitchoverRequest) {
        self.init(target: b.target, mode: b.mode.map(SpliceDecider.Mode.init), windowMs: b.windowMs,
                  leg: b.leg.map(CallSide.init), primingMs: b.primingMs)
    }
}

extension Schemas.Device {
    init(_ d: DeviceRecord) { self.init(user: d.user, id: d.id, aor: d.aor, kind: d.kind, priority: d.priority) }
}

extension Schemas.Speaker {
    init(_ s: SpeakerState) { self.init(device: .init(s.device), registered: s.registered, busy: s.busy) }
}

extension Schemas.ForwardingRule {
    init(_ r: ForwardingRule) { self.init(number: r.number, to: r.to, on: r.on.rawValue, afterSeconds: r.afterSeconds) }
}

extension Schemas.Agent {
    init(_ a: Agent) {
        self.init(id: a.id, name: a.name, aor: a.aor, skills: a.skills,
                  logins: .init(additionalProperties: a.logins.mapValues {
                      .init(state: $0.state == .loggedIn ? .loggedIn : .loggedOut, since: $0.since)
                  }))
    }
}

extension Schemas.BotReport {
    init(_ r: BotReport) {
        self.init(intent: r.intent, confidence: r.confidence, noMatch: r.noMatch, noInput: r.noInput, sentiment: r.sentiment,
                  transcript: r.transcript, humanRequested: r.humanRequested)
    }
}

extension BotReport {
    init(_ b: Schemas.BotReport) {
        self.init(intent: b.intent, confidence: b.confidence, noMatch: b.noMatch, noInput: b.noInput, sentiment: b.sentiment,
                  transcript: b.transcript, humanRequested: b.humanRequested)
    }
}

extension Schemas.DialogSummary {
    init(_ d: DialogSummary) {
        self.init(reports: d.reports, noMatch: d.noMatch, humanRequested: d.humanRequested, sentiment: d.sentiment, lastIntent: d.lastIntent,
                  dtmf: d.dtmf.isEmpty ? nil : d.dtmf, keywords: d.keywords.isEmpty ? nil : d.keywords,
                  media: d.media.map { .init(callerTalk: $0.callerTalk, otherTalk: $0.otherTalk, talkOver: $0.talkOver,
                                              longestSilence: $0.longestSilence, callerLevel: $0.callerLevel,
                                              longSilences: $0.longSilences) },
                  reinvites: d.reinvites > 0 ? d.reinvites : nil, holds: d.holds > 0 ? d.holds : nil)
    }
}

extension Schemas.ConversationDecision {
    init(_ d: ConversationDecision) {
        self.init(call: d.call, rule: d.rule, _type: d.type, channel: d.channel, signals: .init(additionalProperties: d.signals),
                  time: d.time, outcome: d.outcome)
    }
}

extension Schemas.ConversationRule {
    init(_ r: ConversationRule) { self.init(name: r.name, _type: r.type, when: r.when, channel: r.channel) }
}

extension Schemas.TransferModel {
    init(_ m: TransferModel) {
        self.init(version: m.version, features: m.features, weights: m.weights, intercept: m.intercept, l2: m.l2,
                  trainedOn: m.trainedOn, created: m.created,
                  evaluation: m.evaluation.map { .init(auc: $0.auc, ece: $0.ece, heldOut: $0.heldOut, positives: $0.positives, bestAUC: $0.bestAUC) })
    }
}

extension Schemas.SIPUser {
    /// Names and realm only: an HA1 never leaves the gateway.
    init(_ c: SIPCredentials) {
        self.init(user: c.user, realm: c.realm, algorithms: c.ha1.filter { !$0.value.isEmpty }.keys.map(\.rawValue).sorted())
    }
}

extension Schemas.Category {
    init(_ c: ServiceCategory) {
        self.init(id: c.id, name: c.name, description: c.description, contacts: c.contacts, hours: c.hours)
    }
}

extension Schemas.CallData {
    init(_ d: CallData) {
        self.init(call: d.call, account: d.account, reason: d.reason, notes: d.notes, transcript: d.transcript,
                  fields: .init(additionalProperties: d.fields), updated: d.updated)
    }
}

extension CallDataUpdate {
    init(_ u: Schemas.CallDataUpdate) {
        self.init(account: u.account, reason: u.reason, notes: u.notes, transcript: u.transcript,
                  fields: u.fields?.additionalProperties)
    }
}

extension Schemas.CallKey {
    init(_ k: CallKey) { self.init(key: k.key, call: k.call, created: k.created, expires: k.expires) }
}

extension TransferRequest {
    init(_ b: Schemas.TransferRequest) {
        self.init(agent: b.agent, category: b.category, target: b.target, leg: b.leg.map(CallSide.init),
                  mode: b.mode.map(SpliceDecider.Mode.init), ttlS: b.ttlS)
    }
}

extension Schemas.TransferResult {
    init(_ r: TransferResult) { self.init(operation: .init(r.operation), key: .init(r.key), target: r.target) }
}

extension Schemas.SharedCall {
    init(_ s: SharedCall) {
        self.init(id: s.id, users: s.users, state: .init(s.state),
                  members: s.members.map {
                      .init(id: $0.id, kind: .init(rawValue: $0.kind) ?? .related, call: $0.call,
                            status: .init($0.status), since: $0.since, peer: $0.peer)
                  },
                  history: s.history.map {
                      .init(time: $0.time, member: $0.member, status: .init($0.status), state: .init($0.state))
                  })
    }
}

// The enums the document shares, both ways, exhaustively (a case added on one side does not
// compile until it is mapped).

extension Schemas.CallSide {
    init(_ side: CallSide) {
        switch side {
        case .caller: self = .caller
        case .callee: self = .callee
        }
    }
}

extension CallSide {
    init(_ side: Schemas.CallSide) {
        switch side {
        case .caller: self = .caller
        case .callee: self = .callee
        }
    }
}

extension SpliceDecider.Mode {
    init(_ mode: Schemas.SpliceMode) {
        switch mode {
        case .silence: self = .silence
        case .now: self = .now
        }
    }
}

extension Schemas.SharedStatus {
    init(_ s: MemberStatus) {
        switch s {
        case .trying: self = .trying
        case .ringing: self = .ringing
        case .active: self = .active
        case .held: self = .held
        case .ended: self = .ended
        }
    }

    init(_ s: GlobalState) {
        switch s {
        case .trying: self = .trying
        case .ringing: self = .ringing
        case .active: self = .active
        case .held: self = .held
        case .ended: self = .ended
        }
    }
}
