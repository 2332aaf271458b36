import Logging
import Media
import NIOCore
import ServiceLifecycle
import SIP
import Store

/// Runs the SIP server as a `Service`: starts it, and on graceful shutdown (SIGTERM)
/// stops new INVITEs (503 + Retry-After), waits for live calls to end up to the drain
/// timeout, hangs up what is left, and stops.
public struct SIPService: Service {
    let sip: SIPServer
    let calls: CallManager
    let drainTimeout: Duration
    let logger: Logger

    public init(sip: SIPServer, calls: CallManager, drainTimeout: Duration, logger: Logger = Logger(label: "baton.sip")) {
        self.sip = sip
        self.calls = calls
        self.drainTimeout = drainTimeout
        self.logger = logger
    }

    public func run() async throws {
        try await sip.start()
        try? await gracefulShutdown()
        let active = try await sip.onLoop { [sip] in
            sip.b2bua.startDraining()
            return sip.b2bua.activeCalls
        }
        logger.info("draining: new INVITEs get 503", metadata: ["activeCalls": "\(active)", "timeout": "\(drainTimeout)"])
        _ = try await sip.waitUntilIdle(timeout: drainTimeout)
        let left = try await sip.onLoop { [sip] in
            let n = sip.b2bua.activeCalls
            if n > 0 { sip.b2bua.hangUpAll(reason: "drain timeout") }
            return n
        }
        if left > 0 {
            logger.warning("drain timeout: hung up remaining calls", metadata: ["calls": "\(left)"])
            try? await Task.sleep(for: .milliseconds(300))   // let the BYEs leave
        }
        await sip.stop()
        calls.finishStoreStream()
        logger.info("SIP stopped")
    }
}

/// Runs the media relay threads for the life of the service group.
public struct RelayService: Service {
    let relay: MediaRelay
    public init(relay: MediaRelay) { self.relay = relay }
    public func run() async throws {
        relay.start()
        try? await gracefulShutdown()
        // SIP drains first (it is later in the group); by now no call needs media.
        relay.shutdown()
    }
}

/// Saves again, every `interval`, the answered calls whose media changed in a way only the
/// relay sees (a party's source latched or moved, a splice's egress rewrite): what a restart
/// needs to resume them (``CallManager/checkpoint()``).
public struct CallCheckpoints: Service {
    let calls: CallManager
    let interval: Duration
    public init(calls: CallManager, interval: Duration) { self.calls = calls; self.interval = interval }
    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } } catch { return }
            calls.checkpoint()
        }
    }
}
