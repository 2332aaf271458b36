import Calls
import Control
import Foundation
import Logging
import Metrics
import SIP
import ServiceLifecycle
import Store

/// The gateways sharing one store, and what happens when one is lost.
///
/// Every `cluster.heartbeat_ms` this gateway beats (its row in `gateways`, stamped with the
/// database's clock, so no two machines' clocks are compared) and looks for gateways whose
/// last beat is older than `cluster.dead_after_ms`. Marking one dead and taking its calls is
/// one UPDATE ... RETURNING: of several survivors exactly one gets each lost gateway. For
/// every call the lost gateway anchored it sends BYE to both parties from the stored dialogs
/// (route set, tags, CSeq), records the call ended ("gateway <id> lost") and drops the anchors,
/// so no phone is left in a silent call.
///
/// A gateway cut off from the database must not declare the others dead when it comes back
/// (their beats look old only because it could not see them, or the database itself was
/// down): it claims nothing until its own beats have succeeded for a whole `dead_after`
/// period.
///
/// At start the calls its own id anchored in a previous life (a crash, kill -9) are taken
/// back (`store.resume_calls`, docs/restart.md): each binds its ports again, its media flows
/// as before and its dialogs go on. A call that cannot be resumed (no sealed state, a port
/// taken, resuming off) is ended with BYE to both parties, on SQLite too.
struct ClusterWatch: Service {
    let store: any BatonStore
    let sip: SIPServer
    let gateway: GatewayRecord
    let heartbeat: Duration
    let deadAfter: Duration
    /// Resumes this gateway's own calls at start (nil: ends them).
    let resume: (calls: CallManager, sealer: StateSealer)?
    private let logger = Logger(label: "baton.cluster")
    private let takenOver = Counter(label: "baton_cluster_calls_ended_total")
    private let resumed = Counter(label: "baton_calls_resumed_total")
    private let lost = Counter(label: "baton_cluster_gateways_lost_total")

    init(store: any BatonStore, sip: SIPServer, gateway: GatewayRecord, heartbeat: Duration, deadAfter: Duration,
         resume: (calls: CallManager, sealer: StateSealer)? = nil) {
        self.store = store; self.sip = sip; self.gateway = gateway; self.heartbeat = heartbeat; self.deadAfter = deadAfter
        self.resume = resume
    }

    func run() async {
        // Calls this gateway anchored before it last stopped without ending them.
        let left = await resumeCalls()
        await endCalls(of: gateway.id, reason: "gateway \(gateway.id) restarted", only: left)
        var healthySince: ContinuousClock.Instant?
        var beats = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            beats += 1
            // Ended shared-call members are kept 10 minutes (late watchers), then dropped.
            if store.isShared && beats % 60 == 0 {
                try? await store.purgeEndedSharedMembers(before: Date().timeIntervalSince1970 - 600)
            }
            do {
                let stillAlive = try await store.heartbeat(gateway)
                if !stillAlive {
                    logger.critical("this gateway was declared dead by another (its beats did not reach the store in time); its calls were ended by that gateway", metadata: ["gateway": "\(gateway.id)"])
                }
                if healthySince == nil { healthySince = .now }
            } catch {
                healthySince = nil
            }
            if store.isShared, let since = healthySince, ContinuousClock.now - since >= deadAfter {
                do {
                    let staleAfter = Double(deadAfter.components.seconds) + Double(deadAfter.components.attoseconds) / 1e18
                    for dead in try await store.claimDeadGateways(except: gateway.id, staleAfter: staleAfter) {
                        lost.increment()
                        logger.error("gateway lost: ending its calls", metadata: ["gateway": "\(dead)"])
                        await endCalls(of: dead, reason: "gateway \(dead) lost")
                    }
                } catch {
                    logger.warning("could not look for lost gateways", metadata: ["error": "\(error)"])
                }
            }
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: heartbeat) } } catch { return }
        }
    }

    /// Takes back the answered calls this gateway anchored before its restart; returns the
    /// ids of those it could not (to be ended), nil when it resumed none by choice (all are
    /// ended).
    func resumeCalls() async -> Set<String>? {
        guard let (calls, sealer) = resume else { return nil }
        let anchors: [CallAnchorRecord]
        do { anchors = try await store.anchors(gateway: gateway.id) } catch {
            logger.error("could not read this gateway's calls from before its restart", metadata: ["error": "\(error)"])
            return nil
        }
        guard !anchors.isEmpty else { return [] }
        let started = ContinuousClock.now
        let dec = JSONDecoder()
        var failed: Set<String> = []
        var taken = 0
        for a in anchors {
            do {
                guard !a.state.isEmpty else { throw CallsError.resume(a.callID, "no resume state saved (answered or changed less than store.checkpoint_ms before the restart, or saved with resuming off)") }
                let state = try dec.decode(CallResumeState.self, from: try sealer.open(a.state))
                let caller = try dec.decode(DialogSnapshot.self, from: Data(a.caller.utf8))
                let callee = try dec.decode(DialogSnapshot.self, from: Data(a.callee.utf8))
                let record = try? await store.call(id: a.callID)
                try calls.resume(call: a.callID, record: record, caller: caller, callee: callee, state: state)
                let filed = try await sip.onLoop { [sip] in
                    sip.b2bua.resume(call: a.callID, caller: caller, callee: callee, session: state.session)
                }
                guard filed else {
                    calls.dropResumed(call: a.callID)
                    throw CallsError.resume(a.callID, "its dialogs clash with a live call")
                }
                taken += 1
            } catch {
                failed.insert(a.callID)
                logger.warning("a call from before the restart cannot be resumed: it is ended with BYE", metadata: [
                    "call": "\(a.callID)", "error": "\(error)"])
            }
        }
        resumed.increment(by: taken)
        logger.notice("resumed the calls from before the restart", metadata: [
            "calls": "\(taken)", "ended": "\(failed.count)", "took": "\(ContinuousClock.now - started)"])
        return failed
    }

    /// BYE to both parties of every call `id` anchored (or of those in `only`), each call
    /// recorded ended, anchors dropped.
    func endCalls(of id: String, reason: String, only: Set<String>? = nil) async {
        if let only, only.isEmpty { return }
        var anchors: [CallAnchorRecord]
        do { anchors = try await store.anchors(gateway: id) } catch {
            logger.error("could not read the calls of a lost gateway", metadata: ["gateway": "\(id)", "error": "\(error)"])
            return
        }
        if let only { anchors = anchors.filter { only.contains($0.callID) } }
        guard !anchors.isEmpty else { return }
        let dec = JSONDecoder()
        var snapshots: [DialogSnapshot] = []
        for a in anchors {
            for leg in [a.caller, a.callee] {
                if let d = try? dec.decode(DialogSnapshot.self, from: Data(leg.utf8)) { snapshots.append(d) }
            }
        }
        do {
            try await sip.onLoop { [sip, snapshots] in for d in snapshots { sip.b2bua.bye(d, reason: reason) } }
        } catch {
            logger.error("could not send the BYEs of a lost gateway's calls", metadata: ["gateway": "\(id)", "error": "\(error)"])
        }
        let now = Date().timeIntervalSince1970
        var writes: [StoreWrite] = []
        for a in anchors {
            if var rec = try? await store.call(id: a.callID), rec.ended == nil {
                rec.ended = now
                rec.reason = reason
                writes.append(.call(rec))
            }
            writes.append(.releaseAnchor(callID: a.callID))
        }
        let failed = await store.apply(writes)
        takenOver.increment(by: anchors.count)
        logger.notice("ended the calls of a gateway", metadata: [
            "gateway": "\(id)", "calls": "\(anchors.count)", "byes": "\(snapshots.count)", "reason": "\(reason)",
            "unsaved": "\(failed.count)"])
    }
}

/// Finds the gateway anchoring a call in the shared store (HTTP requests about calls another
/// gateway holds are forwarded there, ``Control/CallForwardMiddleware``).
struct StoreCallLocator: CallLocator {
    let store: any BatonStore
    let gatewayID: String

    func httpAddress(anchoring call: String) async -> (gateway: String, address: String)? {
        guard let g = try? await store.anchoringGateway(callID: call) else { return nil }
        return (g.id, g.http)
    }
}
