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
            var reply: [(String, Bencode)] = [("result", "ok")]
            if let totals, case .dictionary(let d) = totals { reply += d.filter { $0.0 != "result" } }
            return .dictionary(reply)
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
                return .dictionary([
                    ("index", .integer(i + 1)), ("type", "audio"),
                    ("streams", .list([.dictionary([
                        ("local port", .integer(m.localPort)),
                        ("endpoint", endpoint(m.latched ?? m.advertised)),
                        ("advertised endpoint", endpoint(m.advertised)),
                        ("stats", stats(m.rtp)),
                        ("rtcp stats", stats(m.rtcp)),
                    ])])),
                ])
            }
            if tag.isEmpty && leg.media.isEmpty { continue }
            tagDicts.append((tag, .dictionary([("tag", .string(tag)), ("medias", .list(medias))])))
        }
        return .dictionary([
            ("result", "ok"),
            ("created", .integer(Int(info.started))),
            ("tags", .dictionary(tagDicts)),
            ("totals", .dictionary([("RTP", stats(rtp)), ("RTCP", stats(rtcp))])),
        ])
    }

    private func stats(_ s: StreamStats.Snapshot) -> Bencode {
        .dictionary([
            ("packets", .integer(Int(s.rxPackets))), ("bytes", .integer(Int(s.rxBytes))),
            ("errors", .integer(Int(s.droppedSource + s.droppedNoDestination + s.droppedSendError))),
            ("packets sent", .integer(Int(s.txPackets))), ("bytes sent", .integer(Int(s.txBytes))),
            ("sequence gaps", .integer(Int(s.sequenceGaps))), ("duplicates", .integer(Int(s.duplicates))),
            ("jitter", .integer(Int(s.jitter))),
        ])
    }

    private func endpoint(_ hostPort: String?) -> Bencode {
        guard let hp = hostPort, let colon = hp.lastIndex(of: ":"), let port = Int(hp[hp.index(after: colon)...]) else {
            return .dictionary([])
        }
        let host = hp[..<colon].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return .dictionary([("family", host.contains(":" as Character) ? "IPv6" : "IPv4"), ("address", .string(host)), ("port", .integer(port))])
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
        return o
    }
}
