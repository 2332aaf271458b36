/// One side of a B2BUA call as a dialog (RFC 3261 §12): the identifiers Baton uses to send
/// in-dialog requests on that leg, and where they go.
public struct Dialog: Sendable, Equatable {
    public var callID: String
    public var localTag: String
    public var remoteTag: String?
    /// The From (or To) header value Baton sends as itself, tag included.
    public var localHeader: String
    /// The header value naming the far end, tag included once known.
    public var remoteHeader: String
    /// Request-URI for in-dialog requests (the far end's Contact).
    public var remoteTarget: String
    /// Where in-dialog requests are sent.
    public var peer: SIPPeer
    public var localCSeq: UInt32
    public var remoteCSeq: UInt32 = 0
    /// The route set (RFC 3261 §12.1): the proxies that record-routed the dialog, nearest to
    /// Baton first, sent as Route headers on every in-dialog request. Empty: straight to
    /// `peer`.
    public var routeSet: [String] = []

    /// Key of the dialog in Baton's table: Call-ID and Baton's own tag.
    public var key: String { Dialog.key(callID: callID, localTag: localTag) }
    public static func key(callID: String, localTag: String) -> String { "\(callID)|\(localTag)" }

    /// Builds the next in-dialog request on this leg.
    mutating func request(_ method: SIPMethod, contact: String?) throws(SIPError) -> SIPMessage {
        if method != .ack && method != .cancel { localCSeq += 1 }
        let m = try SIPMessage.request(method: method, uri: remoteTarget, via: nil,
                                       from: localHeader, to: remoteHeader, callID: callID,
                                       cseq: localCSeq, contact: contact)
        for r in routeSet { m.addRoute(r) }
        return m
    }

    /// The route set of a dialog Baton answered (UAS): the request's Record-Route, in order.
    /// Where its in-dialog requests go stays the request's source (the nearest proxy).
    mutating func learnRoutes(asUAS request: SIPMessage) {
        routeSet = request.recordRoutes
    }

    /// The route set of a dialog Baton started (UAC): the response's Record-Route, reversed;
    /// in-dialog requests then go to the first route (loose routing, `;lr`) when it names an
    /// IP address and port. A strict router (no `;lr`) is not supported: logged by the caller.
    @discardableResult
    mutating func learnRoutes(asUAC response: SIPMessage) -> Bool {
        let rr = response.recordRoutes
        guard !rr.isEmpty else { return true }
        routeSet = rr.reversed()
        guard let first = SIPURI(parsing: SIPURI.addressText(routeSet[0])) else { return false }
        guard first.text.contains(";lr") else { return false }
        if SessionDescription.isIPAddress(first.host) {
            let transport = first.transport.flatMap { SIPTransportKind(rawValue: $0.lowercased()) } ?? peer.transport
            peer = SIPPeer(transport: transport, host: first.host, port: first.port ?? 5060)
        }
        return true
    }
}

/// A dialog as seen from Baton: its Call-ID, Baton's tag and the device's tag.
public struct DialogID: Sendable, Codable, Equatable {
    public var callID: String
    public var localTag: String
    public var remoteTag: String?
    public init(callID: String, localTag: String, remoteTag: String?) {
        self.callID = callID; self.localTag = localTag; self.remoteTag = remoteTag
    }
}

/// Everything needed to send a request on a confirmed dialog from another process: what a
/// gateway keeps in the shared store for each leg it anchors, so that a surviving gateway
/// can send the BYE (route set, tags, CSeq) when it is lost.
public struct DialogSnapshot: Codable, Sendable, Equatable {
    public var callID: String
    public var localTag: String
    public var remoteTag: String?
    public var localHeader: String
    public var remoteHeader: String
    public var remoteTarget: String
    public var transport: SIPTransportKind
    public var host: String
    public var port: Int
    public var localCSeq: UInt32
    public var routeSet: [String]
}

extension Dialog {
    public var snapshot: DialogSnapshot {
        DialogSnapshot(callID: callID, localTag: localTag, remoteTag: remoteTag, localHeader: localHeader, remoteHeader: remoteHeader,
                       remoteTarget: remoteTarget, transport: peer.transport, host: peer.host, port: peer.port, localCSeq: localCSeq,
                       routeSet: routeSet)
    }

    init(_ s: DialogSnapshot) {
        self.init(callID: s.callID, localTag: s.localTag, remoteTag: s.remoteTag, localHeader: s.localHeader, remoteHeader: s.remoteHeader,
                  remoteTarget: s.remoteTarget, peer: SIPPeer(transport: s.transport, host: s.host, port: s.port), localCSeq: s.localCSeq)
        routeSet = s.routeSet
    }
}
