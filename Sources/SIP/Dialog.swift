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

    /// Key of the dialog in Baton's table: Call-ID and Baton's own tag.
    public var key: String { Dialog.key(callID: callID, localTag: localTag) }
    public static func key(callID: String, localTag: String) -> String { "\(callID)|\(localTag)" }

    /// Builds the next in-dialog request on this leg.
    mutating func request(_ method: SIPMethod, contact: String?) throws(SIPError) -> SIPMessage {
        if method != .ack && method != .cancel { localCSeq += 1 }
        return try SIPMessage.request(method: method, uri: remoteTarget, via: nil,
                                      from: localHeader, to: remoteHeader, callID: callID,
                                      cseq: localCSeq, contact: contact)
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
