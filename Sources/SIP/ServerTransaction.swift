import NIOCore

/// A server transaction (RFC 3261 §17.2): answers retransmitted requests with the last
/// response, retransmits non-2xx INVITE finals until ACK (timers G/H), then absorbs
/// stragglers (timers I/J).
public final class ServerTransaction {
    public enum State: Equatable { case trying, proceeding, accepted, completed, confirmed, terminated }

    public let request: SIPMessage
    public let peer: SIPPeer
    public let isInvite: Bool
    public private(set) var state: State
    public private(set) var lastResponse: SIPMessage?
    let key: String
    private unowned let layer: TransactionLayer
    private var retransmitTimer: SIPTimer?
    private var timeoutTimer: SIPTimer?
    private var interval: TimeAmount
    /// Called when timer H fires: the non-2xx final response was never acknowledged.
    var onAckTimeout: (() -> Void)?
    /// Set by the TU on an INVITE transaction when a CANCEL for it arrives.
    public internal(set) var cancelled = false

    init(layer: TransactionLayer, request: SIPMessage, peer: SIPPeer, key: String) {
        self.layer = layer
        self.request = request
        self.peer = peer
        self.key = key
        self.isInvite = request.sipMethod == .invite
        self.state = isInvite ? .proceeding : .trying
        self.interval = layer.timers.t1
    }

    /// Sends a response and moves the state machine.
    public func respond(_ response: SIPMessage) {
        guard state == .trying || state == .proceeding else { return }
        lastResponse = response
        layer.transmit(response, to: peer)
        let code = response.statusCode
        if code < 200 { state = .proceeding; return }
        let timeout = layer.timers.timeout
        if isInvite && code < 300 {
            // RFC 6026 Accepted: retransmitted INVITEs are absorbed; the TU retransmits the 2xx.
            state = .accepted
            timeoutTimer = layer.wheel.schedule(in: timeout) { [weak self] in self?.terminate() }
        } else if isInvite {
            state = .completed
            if !peer.isReliable { scheduleRetransmit() }           // timer G
            timeoutTimer = layer.wheel.schedule(in: timeout) { [weak self] in  // timer H
                guard let self, self.state == .completed else { return }
                self.terminate()
                self.onAckTimeout?()
            }
        } else {
            state = .completed
            let wait: TimeAmount = peer.isReliable ? .zero : timeout          // timer J
            timeoutTimer = layer.wheel.schedule(in: wait) { [weak self] in self?.terminate() }
        }
    }

    /// Convenience: a response built from the request.
    public func respond(_ status: Int, _ reason: String, toTag: String? = nil, configure: (SIPMessage) -> Void = { _ in }) {
        let r = request.makeResponse(status, reason, toTag: toTag)
        configure(r)
        respond(r)
    }

    private func scheduleRetransmit() {
        retransmitTimer = layer.wheel.schedule(in: interval) { [weak self] in
            guard let self, self.state == .completed, let r = self.lastResponse else { return }
            self.layer.transmit(r, to: self.peer)
            self.interval = min(self.interval * 2, self.layer.timers.t2)
            self.scheduleRetransmit()
        }
    }

    /// A retransmission of the request arrived.
    func receiveRetransmission() {
        switch state {
        case .proceeding, .completed:
            if let r = lastResponse { layer.transmit(r, to: peer) }
        case .trying:
            // Some non-INVITE requests get no provisional; wait for the final.
            break
        case .accepted, .confirmed, .terminated:
            break
        }
    }

    /// The ACK for a non-2xx final response arrived: stop retransmitting (timer I).
    func receiveAck() {
        guard state == .completed else { return }
        state = .confirmed
        retransmitTimer?.cancel()
        timeoutTimer?.cancel()
        let wait: TimeAmount = peer.isReliable ? .zero : layer.timers.t4
        timeoutTimer = layer.wheel.schedule(in: wait) { [weak self] in self?.terminate() }
    }

    private func terminate() {
        retransmitTimer?.cancel()
        timeoutTimer?.cancel()
        state = .terminated
        layer.remove(self)
    }
}
