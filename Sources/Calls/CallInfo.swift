import Media
import SIP

/// A call as the HTTP API shows it.
public struct CallInfo: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable { case calling, answered, ended }
    public var id: String
    public var state: State
    public var from: String
    public var to: String
    /// Unix times (seconds).
    public var started: Double
    public var answered: Double?
    public var ended: Double?
    public var hungUpBy: String?
    public var reason: String?
    public var legs: [LegInfo]
}

/// One leg of a call: its own SIP dialog and the media Baton anchors for it.
public struct LegInfo: Sendable, Codable, Equatable {
    public var side: CallSide
    public var callID: String?
    /// Where the leg's SIP peer is ("udp:127.0.0.1:5062").
    public var signaling: String?
    /// The leg's SIP dialog (Call-ID, Baton's tag, the device's tag), once answered.
    public var dialog: DialogID?
    public var media: [MediaInfo]
}

/// One anchored stream seen from a leg.
public struct MediaInfo: Sendable, Codable, Equatable {
    /// Baton's RTP port this leg's party sends to (RTCP is port + 1).
    public var localPort: Int
    /// Where the party said (SDP) it receives RTP.
    public var advertised: String?
    /// The source Baton latched on (symmetric RTP), once a packet arrived.
    public var latched: String?
    /// RTP counters: rx from this party, tx to it.
    public var rtp: StreamStats.Snapshot
    /// RTCP counters (port + 1), same directions.
    public var rtcp: StreamStats.Snapshot
}
