import ArgumentParser
import Calls
import ContactCenter
import Control
import Foundation
import Handoff
import Identity
import X509
import Logging
import Media
import Prediction
import Metrics
import NIOPosix
import Prometheus
import SIP
import Speech
import Synchronization
import ServiceLifecycle
import Store

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway: SIP B2BUA, media relay, HTTP API (loopback defaults).",
        discussion: BatonConfiguration.flagSummary)
    @OptionGroup var options: ConfigOptions

    /// Every port of the media range may hold a socket (two per pair in use, and parked
    /// pairs with `media.reuse_sockets`): raise the soft descriptor limit to the hard one, as
    /// rtpengine's and Kamailio's packages do through their units. Before the relay is made:
    /// its ``PortPool`` derives its budget from the limit.
    static func raiseDescriptorLimit() {
        var lim = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim) == 0, lim.rlim_cur < lim.rlim_max else { return }
        lim.rlim_cur = lim.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim)
    }

    /// Says when the relay's descriptor budget is short of the media range (calls then fail
    /// with "descriptor budget reached", not silently).
    static func warnIfBudgetShort(_ pool: PortPool, logger: Logger) {
        let pairs = (pool.range.upperBound - pool.range.lowerBound + 1) / 2
        guard pool.pairBudget < pairs else { return }
        logger.warning("descriptor limit below the media port range: at most \(pool.pairBudget) port pairs (\(pool.pairBudget / 2) calls) at once", metadata: [
            "pairs_in_range": "\(pairs)",
            "hint": "raise LimitNOFILE / ulimit -n, or narrow media.port_min..port_max"])
    }

    func run() async throws {
        let config = try options.load()
        let exposed = config.exposedListeners
        if !exposed.isEmpty && !options.insecure {
            throw ValidationError("refusing to start: " + exposed.joined(separator: "; ")
                + ". Bind to loopback, turn on authentication, or pass --insecure (docs/security.md).")
        }
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = Logger.Level(rawValue: config.logLevel) ?? .info
            return h
        }
        let logger = Logger(label: "baton")
        if !exposed.isEmpty {
            logger.warning("--insecure: unauthenticated listeners off loopback", metadata: ["listeners": "\(exposed.joined(separator: "; "))"])
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        Serve.raiseDescriptorLimit()
        let store = try await config.openStore(logger: Logger(label: "baton.store"))
        let relay = try MediaRelay(configuration: config.media, logger: Logger(label: "baton.media"))
        Serve.warnIfBudgetShort(relay.pool, logger: logger)
        let calls = CallManager(relay: relay, transcoding: config.transcode, maxSessions: config.maxSessions,
                                  mediaSource: config.mediaSource)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let users = SIPUsers(store: store)
        try await users.load()
        if config.sip.auth.enabled && users.all.isEmpty {
            logger.warning("auth.sip is on but no SIP user exists: every REGISTER and INVITE from an untrusted source will be refused (add one with `baton users add`)")
        }
        let sip = try SIPServer(configuration: config.sip, loop: group.next(), credentials: users)
        let restored = try await store.registrations(validAt: Date().timeIntervalSince1970)
        let forwarding = ForwardingTable(config.forwarding, store: store)
        try await forwarding.restore()
        let stir = try Serve.stirService(config.stir, forwarding: forwarding, store: store)
        // The call controller decides forwarding and identity; Handoff adds itself for REFER
        // and Replaces (installSIPTriggers).
        let sealer = config.resumeCalls ? try Serve.stateSealer(path: config.stateKeyPath, logger: logger) : nil
        calls.install { [store] in $0.forwarding = forwarding; $0.stir = stir; $0.storeAvailable = { store.isAvailable }
                                    $0.gatewayID = config.gatewayID; $0.stateSealer = sealer }
        try await sip.onLoop { [sip, calls] in
            sip.b2bua.delegate = calls
            sip.registrar.persistence = calls
            sip.registrar.restore(restored.map(Registration.init))
        }
        logger.info("starting", metadata: [
            "sip": "\(config.sip.transport.host):\(config.sip.transport.port)",
            "http": "\(config.http.host):\(config.http.port)",
            "ng": config.ng.enabled ? "\(config.ng.host):\(config.ng.port)" : "off",
            "rtp": "\(config.media.bindAddress):\(config.media.portMin)-\(config.media.portMax)",
            "store": "\(store.location)", "registrations": "\(restored.count)",
        ])
        let handoffConfig = config.handoff
        let devices = Devices(store: store)
        try await devices.load()
        let moveRules = try MoveRules(configuration: config.moves, directory: devices)
        calls.install { $0.moveRules = moveRules }
        for d in config.devices where !devices.all().contains(d) {
            do { try await devices.put(d) } catch { throw ValidationError("device \(d.user)/\(d.id): \(error)") }
        }
        let contactCenter = ContactCenter(store: store, configuration: config.contactCenter)
        try await contactCenter.load()
        // An agent's AOR registering at Baton is the agent's `sip-phone` login.
        // Changes are queued in the registrar's order and applied one by one (ContactCenterService).
        calls.registrationObserver.set { change in
            contactCenter.noteRegistration(aor: change.aor, registered: change.registered)
        }
        // Shared call state -> dialog-event NOTIFYs (RFC 4235) to the users' subscribers.
        try await sip.onLoop { [sip, calls] in
            sip.b2bua.addEventPackage("dialog") { resource, entity, version in
                (Array(calls.shared.dialogInfo(user: resource, entity: entity, version: version).xml().utf8), DialogInfo.contentType)
            }
        }
        calls.shared.onChange.set { [sip] users in
            sip.loop.execute { for u in users { sip.b2bua.notifySubscribers(package: "dialog", resource: u) } }
        }
        try await Serve.joinCluster(store: store, sip: sip, calls: calls, config: config, logger: logger)
        // Rules set over the API outlive a restart; the file's win when it changed since.
        var rules = config.conversationRules
        if let stored = await contactCenter.storedConversationRules() {
            if stored.updated > (config.fileModified ?? 0) {
                rules = stored.rules
                logger.notice("conversation rules from the store (set over the API after the configuration file changed)",
                              metadata: ["rules": "\(rules.count)"])
            } else {
                logger.notice("conversation rules from the configuration file (changed after the rules stored over the API)",
                              metadata: ["rules": "\(rules.count)"])
            }
        }
        let conversation = Conversation(rules: try ConversationRules(rules), fallback: config.conversationFallback,
                                        tenant: config.defaultTenant, listener: try Serve.listener(config.speech, logger: logger),
                                        called: try Regex(config.speech.called))
        let handoff = Handoff(sip: sip, calls: calls, devices: devices, contactCenter: contactCenter, configuration: handoffConfig,
                              conversation: conversation)
        try await handoff.installSIPTriggers()
        var tokens: APITokens?
        if config.http.auth {
            let t = APITokens(store: store)
            try await t.load()
            if t.isEmpty { logger.warning("http.auth is on but no API token exists: every API call will get 401 (add one with `baton tokens create`)") }
            tokens = t
        }
        let models = TransferModels(store: store)
        do { try await models.load() } catch {
            logger.warning("the stored transfer model is not used", metadata: ["error": "\(error)"])
        }
        let http = HTTPAPI.application(calls: calls, registry: registry, configuration: config.http, handoff: handoff,
                                       forwarding: forwarding, contactCenter: contactCenter, defaultTenant: config.defaultTenant,
                                       tokens: tokens, users: users, realm: config.sip.auth.realm, models: models,
                                       locator: store.isShared ? StoreCallLocator(store: store, gatewayID: config.gatewayID) : nil)
        // Graceful shutdown runs in reverse order: SIP drains first, then HTTP, relay, store writer.
        let services = ServiceGroup(configuration: .init(
            services: [
                .init(service: StoreWriter(store: store, operations: calls.storeOperations,
                                          commitWindow: .milliseconds(config.storeCommitWindowMs))),
                .init(service: RelayService(relay: relay)),
                .init(service: ContactCenterService(center: contactCenter)),
                .init(service: STIRWorkers(stir: stir)),
                .init(service: CredentialRefresh(users: users, tokens: tokens, models: models)),
                .init(service: ClusterWatch(store: store, sip: sip, gateway: GatewayRecord(
                    id: config.gatewayID, sip: "\(config.sip.b2bua.advertisedHost):\(config.sip.transport.port)",
                    http: config.clusterHTTPAddress), heartbeat: .milliseconds(config.heartbeatMs),
                    deadAfter: .milliseconds(config.deadAfterMs), resume: sealer.map { (calls, $0) })),
                .init(service: CallCheckpoints(calls: calls, interval: .milliseconds(config.checkpointMs))),
                .init(service: StoreFollower(store: store, sip: sip, users: users, tokens: tokens, devices: devices, forwarding: forwarding,
                                             contactCenter: contactCenter, models: models, conversation: conversation,
                                             calls: calls, gatewayID: config.gatewayID)),
                .init(service: ConversationWatch(handoff: handoff)),
                .init(service: ModelRetraining(retraining: Retraining(center: contactCenter, models: models),
                                               interval: config.modelRetrainSeconds)),
                .init(service: http),
                .init(service: NGServer(configuration: config.ng, calls: calls)),
                .init(service: SIPService(sip: sip, calls: calls, drainTimeout: .seconds(config.drainTimeout))),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await services.run()
        await store.close()
        try await group.shutdownGracefully()
        logger.info("stopped")
    }
}

extension Serve {
    /// The STIR/SHAKEN service `[stir]` asks for, nil when it asks for nothing.
    static func stirService(_ s: BatonConfiguration.STIRSettings, forwarding: ForwardingTable? = nil,
                            store: (any IdentityCacheStore)? = nil) throws -> STIRService? {
        var signer: SigningIdentity?
        if let path = s.signKey, let x5u = s.x5u {
            do { signer = try SigningIdentity(keyPEM: try String(contentsOfFile: path, encoding: .utf8), x5u: x5u) } catch {
                throw ConfigError.invalid("stir.sign_key", path, "a readable PEM P-256 private key (\(error))")
            }
        }
        let mode = STIRService.Mode(rawValue: s.verify) ?? .off
        var verifier: STIRVerifier?
        if mode != .off {
            var roots: [Certificate] = []
            for path in s.trustAnchors {
                do { roots += try PEMCertificates.load(path) } catch {
                    throw ConfigError.invalid("stir.trust_anchors", path, "a readable PEM certificate file (\(error))")
                }
            }
            var policy = CertificateSource.Policy()
            policy.allowHTTP = s.x5uHTTP
            verifier = STIRVerifier(roots: roots, source: CertificateSource(localMap: s.x5uMap, policy: policy), freshness: s.freshness)
        }
        guard signer != nil || verifier != nil else { return nil }
        var c = STIRService.Configuration(signer: signer, signNumbers: s.signNumbers,
                                          attest: PASSporT.Attestation(rawValue: s.attest) ?? .a, mode: mode, verifier: verifier)
        let keepFor = Set(s.keepFor.compactMap(TelephoneNumber.canonical))
        // Likely to forward: listed, a forwarding rule of Baton's own, or the number's own
        // recorded history (its device forwarded a share of its calls before).
        let history = ForwardingHistory(threshold: Double(s.forwardLikelyPercent) / 100, store: store as? any ForwardingHistoryStore)
        c.history = history
        c.likelyToForward = { n in keepFor.contains(n) || forwarding?.forwards(n) == true || history.likely(n) }
        c.keeper = store.map(StoreIdentityKeeper.init)
        c.holdSeconds = Double(s.holdSeconds)
        return STIRService(configuration: c)
    }
}

/// The store as the place where calls' Identity fields wait for their forwarded INVITE.
struct StoreIdentityKeeper: STIRService.IdentityKeeper {
    let store: any IdentityCacheStore
    func keep(orig: String, dest: String, values: [String], expires: Double) async throws {
        try await store.keepIdentities(orig: orig, dest: dest, values: values, expires: expires)
    }
    func take(orig: String, dest: String, now: Double) async throws -> [String]? {
        try await store.takeIdentities(orig: orig, dest: dest, now: now)
    }
}

/// Applies agents' registration changes (their `sip-phone` login) in the order the registrar
/// made them; on shutdown, the ones already queued first.
struct ContactCenterService: Service {
    let center: ContactCenter
    func run() async {
        await withGracefulShutdownHandler {
            await center.run()
        } onGracefulShutdown: {
            center.finish()
        }
    }
}

/// Runs the STIR checks of new INVITEs (bounded workers; STIRService.run); on shutdown, the
/// ones already queued first. Nothing to run without `[stir]`.
/// Re-reads SIP users and API tokens from the store every `interval`, so `baton users` and
/// `baton tokens` (which write the store) take effect in a running gateway within that
/// time: a new user can register, a revoked token stops working. SQLite has no change
/// notification; PostgreSQL's LISTEN/NOTIFY can replace this poll (issue 21).
/// A bad stored model would fail every refresh: its warning is rate-limited.
private let modelLoadLimiter = Mutex(LogRateLimiter())

struct CredentialRefresh: Service {
    let users: SIPUsers
    let tokens: APITokens?
    /// Also the transfer model: one trained by `baton model train` while serving is used
    /// within the interval.
    var models: TransferModels? = nil
    var interval: Duration = .seconds(2)
    private let logger = Logger(label: "baton.auth")

    func run() async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } } catch { return }
            do {
                try await users.load()
                try await tokens?.load()
            } catch {
                logger.warning("could not re-read users and tokens", metadata: ["error": "\(error)"])
            }
            do { try await models?.load() } catch {
                modelLoadLimiter.withLock { $0.log(logger, .warning, "the stored transfer model is not used", metadata: ["error": "\(error)"]) }
            }
        }
    }
}

/// Retrains the transfer model from the stored samples every `model.retrain_s` seconds
/// (0: never); installs it only when not worse than the one in force (``Retraining``).
struct ModelRetraining: Service {
    let retraining: Retraining
    let interval: Int
    private let logger = Logger(label: "baton.model")

    func run() async {
        guard interval > 0 else { try? await gracefulShutdown(); return }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(interval)) } } catch { return }
            do {
                if case let .notEnoughData(n, p) = try await retraining.run() {
                    logger.info("no retraining yet", metadata: ["samples": "\(n)", "transferred": "\(p)", "needed": "\(retraining.minSamples)"])
                }
            } catch {
                logger.warning("retraining failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

extension Serve {
    /// The listening thread for bot calls, or nil when `speech.listen` is off or
    /// `speech.max_calls` is 0. Without pocketsphinx's model the keyword spotting is off
    /// (logged) and in-band DTMF, talk and silence still run; a keyword list that does not fit
    /// the model is a configuration error.
    static func listener(_ s: SpeechSettings, logger: Logger) throws -> Listener? {
        guard s.listen, s.maxCalls > 0 else { return nil }
        var model: KeywordModel?
        do {
            model = try KeywordModel(s.keywords, directory: s.modelDirectory)
        } catch let e as SpeechError {
            if case .model = e {
                logger.warning("keyword spotting off: \(e) (in-band DTMF, talk and silence still measured)")
            } else {
                throw ConfigError.invalid("speech.keywords", "\(e)", "words of the model's dictionary, thresholds in (0, 1]")
            }
        }
        let listener = Listener(model: model, maxCalls: s.maxCalls)
        listener.start()
        return listener
    }
}

/// Watches answered calls' media every 200 ms: RFC 4733 DTMF, and the listened bot calls'
/// keywords, in-band DTMF, talk and silence (the conversation rules' signals;
/// docs/contact-center.md).
struct ConversationWatch: Service {
    let handoff: Handoff
    var interval: Duration = .milliseconds(200)

    func run() async {
        var state = Conversation.WatchState()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } } catch { break }
            await handoff.conversation.watchRound(handoff: handoff, state: &state)
        }
        handoff.conversation.listener?.stop()
    }
}

struct STIRWorkers: Service {
    let stir: STIRService?
    func run() async {
        // A service that returns ends the group: without STIR, wait for the shutdown.
        guard let stir else { try? await gracefulShutdown(); return }
        let history = stir.configuration.history
        await history?.load()
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { g in
                g.addTask { await stir.run() }
                if let history { g.addTask { await history.run() } }
            }
        } onGracefulShutdown: {
            stir.finish()
            history?.finish()
        }
    }
}

extension Serve {
    /// Several gateways on one store (PostgreSQL): requests about another gateway's dialogs
    /// are redirected there, and each change of a member of a user's shared call is written to
    /// the store so the others merge it (StoreFollower) into one global state. Nothing on SQLite.
    /// The key sealing calls' resume state: read from `path`, or made (32 random bytes, mode
    /// 0600, its directory created) the first time. A key of another size is an error; one
    /// that others may read is used with a warning.
    static func stateSealer(path: String, logger: Logger) throws -> StateSealer {
        let fm = FileManager.default
        if !fm.fileExists(atPath: path) {
            try fm.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            if fd >= 0 {
                let key = StateSealer.generateKey()
                let written = key.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
                guard written == key.count else { throw ValidationError("store.state_key_file \(path): could not write the key") }
                logger.notice("made a new state key (it seals what calls need to survive a restart)", metadata: ["path": "\(path)"])
            } else if errno != EEXIST {
                throw ValidationError("store.state_key_file \(path): \(String(cString: strerror(errno)))")
            }
        }
        if let attrs = try? fm.attributesOfItem(atPath: path), let mode = attrs[.posixPermissions] as? Int, mode & 0o077 != 0 {
            logger.warning("the state key can be read by others: chmod 600", metadata: ["path": "\(path)", "mode": "\(String(mode, radix: 8))"])
        }
        guard let data = fm.contents(atPath: path) else { throw ValidationError("store.state_key_file \(path): cannot read it") }
        do { return try StateSealer(key: Array(data)) } catch { throw ValidationError("store.state_key_file \(path): \(error)") }
    }

    static func joinCluster(store: any BatonStore, sip: SIPServer, calls: CallManager, config: BatonConfiguration,
                            logger: Logger) async throws {
        guard store.isShared else { return }
        if ["0.0.0.0", "::", "[::]"].contains(where: { config.clusterHTTPAddress.hasPrefix($0 + ":") }) {
            logger.warning("cluster.http_address is a wildcard address: other gateways cannot forward requests about this gateway's calls to it; set it to an address they reach",
                           metadata: ["cluster.http_address": "\(config.clusterHTTPAddress)"])
        }
        // An INVITE with Replaces for another gateway's call is redirected there.
        let me = config.gatewayID
        try await sip.onLoop { [sip, store] in
            sip.b2bua.dialogLocator = { callID, done in
                Task {
                    let g = try? await store.gatewayHolding(dialogCallID: callID)
                    done(g.flatMap { $0.id == me ? nil : $0.sip })
                }
            }
        }
        calls.shared.memberChanged.set { [calls] c in
            let users = String(decoding: (try? JSONEncoder().encode(c.users)) ?? Data("[]".utf8), as: UTF8.self)
            calls.record(.sharedMember(SharedMemberRecord(member: c.member.id, op: c.op, kind: c.member.kind, call: c.member.call,
                                                          status: c.member.status.rawValue, since: c.member.since, peer: c.member.peer,
                                                          users: users, gateway: me)))
        }
    }
}
