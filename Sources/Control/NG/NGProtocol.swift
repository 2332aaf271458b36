import Calls
import Foundation
import Media
import SIP

/// Turns one ng request (a bencoded dictionary) into a reply, as rtpengine's
/// `control_ng.c` + `call_interfaces.c` do: decoding here, call operations in ``CallManager``.
///
/// Commands: ping, offer, answer, delete, query, list, statistics. Errors come back as
/// `{"result": "error", "error-reason": "..."}`.
public struct NGProtocol: Sendable {
    let calls: CallManager
    let started: Double

    public init(calls: CallManager, started: Double = Date().timeIntervalSince1970) {
        self.calls = calls
        self.started = started
    }

    /// A failed command, with the reason the peer reads.
    public struct Failure: Error, Equatable { public let reason: String }

    public static let commands = ["ping", "offer", "answer", "delete", "query", "list", "statistics"]

    /// Handles a decoded request; never throws: every failure is an error reply.
    public func handle(_ request: Bencode) -> Bencode {
        do {
            return try dispatch(request)
        } catch let f as Failure {
            return .dictionary([("result", "error"), ("error-reason", .string(f.reason))])
        } catch let e as CallsError {
            return .dictionary([("result", "error"), ("error-reason", .string(e.description))])
        } catch let e as SIPError {
            return .dictionary([("result", "error"), ("error-reason", .string("Failed to parse SDP: \(e.description)"))])
        } catch {
            return .dictionary([("result", "error"), ("error-reason", .string("\(error)"))])
        }
    }

    private func dispatch(_ r: Bencode) throws -> Bencode {
        guard case .dictionary = r else { throw Failure(reason: "Could not decode dictionary") }
        guard let command = try string(r, "command") else { throw Failure(reason: "No command in message") }
        switch command {
        case "ping":
            return .dictionary([("result", "pong")])
        case "offer":
            let (callID, fromTag, sdp) = try (required(r, "call-id"), required(r, "from-tag"), required(r, "sdp"))
            let out = try calls.offer(callID: callID, fromTag: fromTag, sdp: Array(sdp.utf8), options: try options(r))
            return .dictionary([("result", "ok"), ("sdp", .bytes(out))])
        case "answer":
            let (callID, fromTag, sdp) = try (required(r, "call-id"), required(r, "from-tag"), required(r, "sdp"))
            guard let toTag = try string(r, "to-tag") else { throw Failure(reason: "No to-tag in message") }
            let out = try calls.answer(callID: callID, fromTag: fromTag, toTag: toTag, sdp: Array(sdp.utf8), options: try options(r))
            return .dictionary([("result", "ok"), ("sdp", .bytes(out))])
        case "delete":
            let callID = try required(r, "call-id")
            let totals = try? query(callID)
            try calls.delete(callID: callID)
            // The final counters, as rtpengine's delete reply carries them ("result": "ok" included).
            return totals ?? .dictionary([("result", "ok")])
        case "query":
            return try query(try required(r, "call-id"))
        case "list":
            let limit = try int(r, "limit") ?? 32
            return .dictionary([("result", "ok"), ("calls", .list(calls.ngCallIDs().prefix(max(0, limit)).map { .string($0) }))])
        case "statistics":
            let t = calls.relay.totalsSnapshot
            return .dictionary([("result", "ok"), ("statistics", .dictionary([
                ("currentstatistics", .dictionary([
                    ("sessionsown", .integer(calls.ngCallIDs().count)),
                    ("sessionstotal", .integer(calls.activeCount)),
                ])),
                ("totalstatistics", .dictionary([
                    ("uptime", .integer(Int(Date().timeIntervalSince1970 - started))),
                    ("packetsrelayed", .integer(Int(t.relayedPackets))),
                    ("bytesrelayed", .integer(Int(t.relayedBytes))),
                    ("packetsdropped", .integer(Int(t.droppedSource + t.droppedNoDestination + t.droppedSendError))),
                ])),
            ]))])
        default:
            throw Failure(reason: "Unrecognized command")
        }
    }

    private func query(_ callID: String) throws -> Bencode {
        let (info, tags) = try calls.query(callID: callID)
        var tagDicts: [(String, Bencode)] = []
        var rtp = StreamStats.Snapshot(), rtcp = StreamStats.Snapshot()
        for leg in info.legs {
            let tag = tags[leg.side] ?? ""
            let medias: [Bencode] = leg.media.enumerated().map { i, m in
                rtp = rtp + m.rtp
                rtcp = rtcp + m.rtcp
                // Keys in byte order here and below: Bencode.encode then need not sort them.
                return .dictionary([
                    ("index", .integer(i + 1)),
                    ("streams", .list([.dictionary([
                        ("advertised endpoint", endpoint(m.advertised)),
                        ("endpoint", endpoint(m.latched ?? m.advertised)),
                        ("local port", .integer(m.localPort)),
                        ("rtcp stats", stats(m.rtcp)),
                        ("stats", stats(m.rtp)),
                    ])])),
                    ("type", "audio"),
                ])
            }
            if tag.isEmpty && leg.media.isEmpty { continue }
            tagDicts.append((tag, .dictionary([("medias", .list(medias)), ("tag", .string(tag))])))
        }
        return .dictionary([
            ("created", .integer(Int(info.started))),
            ("result", "ok"),
            ("tags", .dictionary(tagDicts)),
            ("totals", .dictionary([("RTCP", stats(rtcp)), ("RTP", stats(rtp))])),
        ])
    }

    private func stats(_ s: StreamStats.Snapshot) -> Bencode {
        .dictionary([
            ("bytes", .integer(Int(s.rxBytes))), ("bytes sent", .integer(Int(s.txBytes))),
            ("duplicates", .integer(Int(s.duplicates))),
            ("errors", .integer(Int(s.droppedSource + s.droppedNoDestination + s.droppedSendError))),
            ("jitter", .integer(Int(s.jitter))),
            ("packets", .integer(Int(s.rxPackets))), ("packets sent", .integer(Int(s.txPackets))),
            ("sequence gaps", .integer(Int(s.sequenceGaps))),
        ])
    }

    private func endpoint(_ hostPort: String?) -> Bencode {
        guard let hp = hostPort, let colon = hp.lastIndex(of: ":"), let port = Int(hp[hp.index(after: colon)...]) else {
            return .dictionary([])
        }
        var host = hp[..<colon]
        if host.first == "[" && host.last == "]" { host = host.dropFirst().dropLast() }
        return .dictionary([("address", .string(String(host))), ("family", host.contains(":" as Character) ? "IPv6" : "IPv4"),
                            ("port", .integer(port))])
    }

    // MARK: Fields

    private func string(_ r: Bencode, _ key: String) throws -> String? {
        guard let v = r[key] else { return nil }
        guard case .bytes(let b) = v else { throw Failure(reason: "Invalid type for '\(key)': expected a string") }
        return String(decoding: b, as: UTF8.self)
    }

    private func int(_ r: Bencode, _ key: String) throws -> Int? {
        guard let v = r[key] else { return nil }
        guard let i = v.int else { throw Failure(reason: "Invalid type for '\(key)': expected an integer") }
        return i
    }

    private func required(_ r: Bencode, _ key: String) throws -> String {
        guard let s = try string(r, key), !s.isEmpty else {
            throw Failure(reason: key == "sdp" ? "No SDP body in message" : "No \(key) in message")
        }
        return s
    }

    /// Kamailio/OpenSIPS defaults: `replace: [origin, session-connection]` (Baton always
    /// rewrites both), `ICE: remove`, `transport-protocol`, `flags`, `direction` (one
    /// interface: accepted, nothing to choose), `via-branch`, `label` (informational).
    private func options(_ r: Bencode) throws -> CallManager.SDPOptions {
        var o = CallManager.SDPOptions()
        for key in ["flags", "replace", "direction", "rtcp-mux", "SDES"] {
            if let v = r[key], v.list == nil { throw Failure(reason: "Invalid type for '\(key)': expected a list") }
        }
        if let ice = try string(r, "ICE") { o.removeICE = ice.lowercased() == "remove" }
        let flags = r["flags"]?.strings ?? []
        if flags.contains(where: { $0.lowercased() == "ice=remove" }) { o.removeICE = true }
        o.transportProtocol = try string(r, "transport-protocol")
        // `codec: { transcode: [opus, ...] }` (rtpengine) or the flag form `codec-transcode-opus`.
        if let codec = r["codec"] {
            guard case .dictionary = codec else { throw Failure(reason: "Invalid type for 'codec': expected a dictionary") }
            if let t = codec["transcode"] {
                guard t.list != nil else { throw Failure(reason: "Invalid type for 'codec.transcode': expected a list") }
                o.transcode += t.strings
            }
        }
        o.transcode += flags.compactMap { f in
            f.lowercased().hasPrefix("codec-transcode-") ? String(f.dropFirst("codec-transcode-".count)) : nil
        }
        // Source latching, rtpengine's flags (spelled with spaces or dashes, any case).
        let normalized = Set(flags.map { $0.lowercased().replacingOccurrences(of: " ", with: "-") })
        if !normalized.isDisjoint(with: ["media-handover", "asymmetric"]) { o.source = .any }
        if !normalized.isDisjoint(with: ["strict-source", "trust-address"]) { o.source = .sdp }
        if normalized.contains("sip-source-address") { o.source = .signaling }
        if let rf = r["received-from"] {
            // ["IP4", "203.0.113.7"]
            guard let l = rf.list, l.count == 2, let ip = l[1].string, SessionDescription.isIPAddress(ip) else {
                throw Failure(reason: "Invalid 'received-from': expected a list [family, address]")
            }
            o.receivedFrom = ip
        }
        return o
    }
}
