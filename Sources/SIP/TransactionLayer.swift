import Logging
import NIOCore

/// What the transaction layer hands to the layer above it (the transaction user: B2BUA,
/// registrar).
public protocol TransactionUser: AnyObject {
    /// A new request (CANCEL included); answer through the transaction.
    func didReceive(request: SIPMessage, transaction: ServerTransaction)
    /// An ACK that matched no server transaction: the ACK for a 2xx, handled by the dialog.
    func didReceive(ack: SIPMessage, from peer: SIPPeer)
    /// A response that matched no client transaction (e.g. a late 2xx retransmission).
    func didReceive(strayResponse: SIPMessage, from peer: SIPPeer)
}

/// Matches messages to client and server transactions (RFC 3261 §17.1.3, §17.2.3) and
/// runs their timers on one event loop, which is the clock tests advance.
///
/// All methods must be called on `loop`.
public final class TransactionLayer {
    public let loop: any EventLoop
    public let timers: TransactionTimers
    /// Every SIP timer of this loop (transactions, B2BUA, subscriptions).
    public let wheel: TimerWheel
    public weak var user: (any TransactionUser)?
    /// Puts bytes on the wire; the transport decides socket and connection.
    let output: (SIPMessage, SIPPeer) -> Void
    private var clients: [String: ClientTransaction] = [:]
    private var servers: [String: ServerTransaction] = [:]
    let logger: Logger

    public init(loop: any EventLoop, timers: TransactionTimers = .init(), logger: Logger = Logger(label: "baton.sip"),
                output: @escaping (SIPMessage, SIPPeer) -> Void) {
        self.loop = loop
        self.timers = timers
        self.wheel = TimerWheel(loop: loop, resolution: timers.resolution)
        self.output = output
        self.logger = logger
    }

    public var clientCount: Int { clients.count }
    public var serverCount: Int { servers.count }

    static func clientKey(branch: String, method: String) -> String { "\(branch)|\(method.uppercased())" }
    static func serverKey(_ m: SIPMessage, as override: String? = nil) -> String? {
        guard let branch = m.topViaBranch, branch.hasPrefix("z9hG4bK") else {
            // RFC 2543 peers: fall back to Call-ID, From tag, CSeq number and top Via.
            guard let c = m.callID, let n = m.cseqNumber else { return nil }
            let method = override ?? (m.sipMethod == .ack ? SIPMethod.invite.rawValue : (m.method ?? ""))
            return "2543|\(c)|\(m.fromTag ?? "")|\(n)|\(m.via(0) ?? "")|\(method)"
        }
        let method = override ?? (m.sipMethod == .ack ? SIPMethod.invite.rawValue : (m.method ?? ""))
        return "\(branch)|\(m.topViaHost ?? ""):\(m.topViaPort)|\(method.uppercased())"
    }

    func transmit(_ m: SIPMessage, to peer: SIPPeer) { output(m, peer) }

    /// Dispatches one parsed message from the transport.
    public func receive(_ m: SIPMessage, from peer: SIPPeer) {
        if m.isRequest {
            guard let key = TransactionLayer.serverKey(m) else { return }
            if m.sipMethod == .ack {
                if let t = servers[key], t.isInvite, t.state == .completed || t.state == .confirmed {
                    t.receiveAck()
                } else {
                    user?.didReceive(ack: m, from: peer)
                }
                return
            }
            if let t = servers[key] {
                t.receiveRetransmission()
                return
            }
            let t = ServerTransaction(layer: self, request: m, peer: peer, key: key)
            servers[key] = t
            user?.didReceive(request: m, transaction: t)
        } else {
            guard let branch = m.topViaBranch, let method = m.cseqMethod,
                  let t = clients[TransactionLayer.clientKey(branch: branch, method: method)] else {
                user?.didReceive(strayResponse: m, from: peer)
                return
            }
            t.receive(m)
        }
    }

    /// The INVITE server transaction a CANCEL refers to (§9.2), if still known.
    public func inviteTransaction(cancelledBy cancel: SIPMessage) -> ServerTransaction? {
        guard let key = TransactionLayer.serverKey(cancel, as: SIPMethod.invite.rawValue) else { return nil }
        return servers[key]
    }

    /// Starts a client transaction: adds a Via with a fresh branch and sends.
    @discardableResult
    public func send(_ request: SIPMessage, to peer: SIPPeer, via sentBy: String,
                     handler: @escaping (ClientTransaction.Event) -> Void) -> ClientTransaction {
        let branch = TransactionLayer.newBranch()
        request.edit { try $0.prependVia("SIP/2.0/\(peer.transport.viaToken) \(sentBy);branch=\(branch);rport") }
        return sendWithinBranch(request, to: peer, branch: branch, handler: handler)
    }

    @discardableResult
    func sendWithinBranch(_ request: SIPMessage, to peer: SIPPeer, branch: String,
                          handler: @escaping (ClientTransaction.Event) -> Void) -> ClientTransaction {
        let t = ClientTransaction(layer: self, request: request, peer: peer, branch: branch, handler: handler)
        clients[t.key] = t
        t.start()
        return t
    }

    /// Sends a request outside any transaction (the ACK for a 2xx, §13.2.2.4).
    public func sendStateless(_ request: SIPMessage, to peer: SIPPeer, via sentBy: String) {
        request.edit { try $0.prependVia("SIP/2.0/\(peer.transport.viaToken) \(sentBy);branch=\(TransactionLayer.newBranch());rport") }
        output(request, peer)
    }

    /// Sends a response outside any transaction (2xx retransmission by the UAS core).
    public func sendStateless(response: SIPMessage, to peer: SIPPeer) { output(response, peer) }

    /// Tells the client transactions to `peer` that the transport failed.
    public func transportFailed(to peer: SIPPeer) {
        for t in clients.values where t.peer == peer { t.transportFailed() }
    }

    func remove(_ t: ClientTransaction) { if clients[t.key] === t { clients[t.key] = nil } }
    func remove(_ t: ServerTransaction) { if servers[t.key] === t { servers[t.key] = nil } }

    /// A branch with the RFC 3261 magic cookie.
    public static func newBranch() -> String { "z9hG4bK" + randomToken(16) }
}

/// A random token of hex digits (tags, branches, Call-IDs).
/// One 64-bit draw from the system generator gives 16 digits (it was one `getrandom`
/// call per digit: ~3 % of the SIP loop's CPU in the call-setup benchmark).
public func randomToken(_ length: Int) -> String {
    guard length > 0 else { return "" }
    var g = SystemRandomNumberGenerator()
    return String(unsafeUninitializedCapacity: length) { out in
        var bits: UInt64 = 0
        for i in 0..<length {
            if i & 15 == 0 { bits = g.next() }
            out[i] = hexDigits[Int(bits & 15)]
            bits >>= 4
        }
        return length
    }
}

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
