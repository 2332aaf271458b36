import NIOCore

/// A client transaction (RFC 3261 §17.1): retransmits the request on UDP (timers A/E),
/// gives up after 64·T1 (timers B/F) and absorbs retransmitted responses (timers D/K).
///
/// Created through ``TransactionLayer/send(_:to:handler:)``; the handler receives every
/// response the TU must see, then `.timeout` or `.transportError` if no final came.
public final class ClientTransaction {
    public enum Event {
        case response(SIPMessage)
        case timeout
        case transportError
    }
    public enum State: Equatable { case calling, trying, proceeding, accepted, completed, terminated }

    public let request: SIPMessage
    public let peer: SIPPeer
    public let branch: String
    public let isInvite: Bool
    public private(set) var state: State
    let key: String
    var handler: (Event) -> Void
    private unowned let layer: TransactionLayer
    private var retransmitTimer: SIPTimer?
    private var timeoutTimer: SIPTimer?
    private var interval: TimeAmount
    /// The ACK sent for a non-2xx final response (resent when the response is retransmitted).
    private var ack: SIPMessage?

    init(layer: TransactionLayer, request: SIPMessage, peer: SIPPeer, branch: String, handler: @escaping (Event) -> Void) {
        self.layer = layer
        self.request = request
        self.peer = peer
        self.branch = branch
        self.isInvite = request.sipMethod == .invite
        self.state = isInvite ? .calling : .trying
        self.key = TransactionLayer.clientKey(branch: branch, method: request.method ?? "")
        self.handler = handler
        self.interval = layer.timers.t1
    }

    func start() {
        layer.transmit(request, to: peer)
        if !peer.isReliable { scheduleRetransmit() }
        // Timer B (INVITE) or F (non-INVITE).
        timeoutTimer = layer.wheel.schedule(in: layer.timers.timeout) { [weak self] in self?.timedOut() }
    }

    private func scheduleRetransmit() {
        retransmitTimer = layer.wheel.schedule(in: interval) { [weak self] in
            guard let self else { return }
            guard self.state == .calling || self.state == .trying || self.state == .proceeding else { return }
            self.layer.transmit(self.request, to: self.peer)
            // Timer A doubles without bound; timer E doubles up to T2 (and stays T2 once proceeding).
            self.interval = self.isInvite ? self.interval * 2 : min(self.interval * 2, self.layer.timers.t2)
            self.scheduleRetransmit()
        }
    }

    private func timedOut() {
        switch state {
        case .calling, .trying, .proceeding:
            terminate()
            handler(.timeout)
        case .accepted, .completed:
            terminate()   // timer M (RFC 6026) for an accepted INVITE
        case .terminated:
            break
        }
    }

    func transportFailed() {
        guard state != .terminated else { return }
        terminate()
        handler(.transportError)
    }

    func receive(_ response: SIPMessage) {
        let code = response.statusCode
        switch state {
        case .calling, .trying, .proceeding:
            if code < 200 {
                if state == .calling { retransmitTimer?.cancel() }
                if state == .trying { interval = layer.timers.t2 }
                state = .proceeding
                handler(.response(response))
            } else if code < 300 {
                retransmitTimer?.cancel()
                if isInvite {
                    // RFC 6026 Accepted: retransmitted 2xx still reach the TU, which ACKs them.
                    state = .accepted
                    timeoutTimer?.cancel()
                    timeoutTimer = layer.wheel.schedule(in: layer.timers.timeout) { [weak self] in self?.terminate() }
                } else {
                    complete()
                }
                handler(.response(response))
            } else {
                retransmitTimer?.cancel()
                if isInvite {
                    let ack = makeAck(for: response)
                    self.ack = ack
                    layer.transmit(ack, to: peer)
                }
                complete()
                handler(.response(response))
            }
        case .accepted:
            if code >= 200 && code < 300 { handler(.response(response)) }
        case .completed:
            if let ack, code >= 300 { layer.transmit(ack, to: peer) }
        case .terminated:
            break
        }
    }

    /// Completed: timer D (INVITE, 32 s) or K (non-INVITE, T4); zero on TCP.
    private func complete() {
        state = .completed
        timeoutTimer?.cancel()
        let wait: TimeAmount = peer.isReliable ? .zero : (isInvite ? layer.timers.timerD : layer.timers.t4)
        timeoutTimer = layer.wheel.schedule(in: wait) { [weak self] in self?.terminate() }
    }

    private func terminate() {
        retransmitTimer?.cancel()
        timeoutTimer?.cancel()
        state = .terminated
        layer.remove(self)
    }

    /// The ACK for a non-2xx final response (§17.1.1.3): same branch, Request-URI, From,
    /// Call-ID and CSeq number; To from the response.
    private func makeAck(for response: SIPMessage) -> SIPMessage {
        let ack = request.clone()
        ack.setBody([], contentType: nil)
        if let to = response.to { ack.edit { try $0.setTo(to) } }
        ack.edit { try $0.setCSeq(request.cseqNumber ?? 1, .ack) }
        ack.setMethod(.ack)
        return ack
    }

    /// Sends CANCEL for this INVITE (§9.1); only meaningful once a provisional arrived.
    public func cancel(handler: @escaping (Event) -> Void = { _ in }) {
        guard isInvite, state == .proceeding || state == .calling else { return }
        let c = request.clone()
        c.setBody([], contentType: nil)
        c.removeHeader("Require")
        c.removeHeader("Proxy-Require")
        c.edit { try $0.setCSeq(request.cseqNumber ?? 1, .cancel) }
        c.setMethod(.cancel)
        layer.sendWithinBranch(c, to: peer, branch: branch, handler: handler)
    }
}

