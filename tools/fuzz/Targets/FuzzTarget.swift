import Foundation

/// The fuzz targets: each reads untrusted bytes the way Baton does on the wire, and must
/// never crash, hang or leak whatever the bytes are (tools/fuzz.sh runs them under libFuzzer
/// with AddressSanitizer; `FuzzTests` replays the committed corpus and every crash found).
///
/// Each target builds what it needs once per process (a relay, a call manager, a B2BUA
/// configuration) and leaves no state behind an input: calls are released, sockets reused.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A datagram as the SIP transport reads it (libosip2, validation, then the transaction
    /// layer and the B2BUA with a real call manager, with and without digest authentication);
    /// `\n----\n` separates several messages of one input (odd ones from the called side).
    case sip
    /// SDP offer/answer as Baton rewrites it: parse, anchor through the call manager (with
    /// the SRTP, ICE and transcoding options the first byte picks), answer, serialize.
    case sdp
    /// An rtpengine ng command: bencode, then the command against a real call manager.
    case ng
    /// An Identity header (RFC 8224) and its PASSporT, SHAKEN or div, through the verifier
    /// (a local certificate, so no fetch).
    case identity
    /// An `Authorization` / `Proxy-Authorization` digest header on a REGISTER and an INVITE.
    case digest
    /// An HTTP API request (`METHOD /path` line, then the JSON body) through the router.
    case httpJSON = "http-json"
    /// A datagram to the relay's RTP or RTCP port of a call with SRTP, Opus transcoding and
    /// telephone events (the first byte picks port and whether it is protected with the key).
    case relay

    /// Runs one input. Returns normally whatever the bytes (errors are the expected outcome
    /// for most inputs); a crash, a sanitizer report or a hang is the finding.
    public func run(_ data: [UInt8]) {
        switch self {
        case .sip: SIPFuzz.shared.run(data)
        case .sdp: MediaFuzz.shared.sdp(data)
        case .ng: MediaFuzz.shared.ng(data)
        case .identity: IdentityFuzz.shared.run(data)
        case .digest: DigestFuzz.shared.run(data)
        case .httpJSON: HTTPFuzz.shared.run(data)
        case .relay: MediaFuzz.shared.relay(data)
        }
    }
}

/// Splits an input into messages at `separator` (the SIP target's several messages).
func split(_ data: [UInt8], separator: [UInt8]) -> [[UInt8]] {
    var parts: [[UInt8]] = []
    var start = 0, i = 0
    while i + separator.count <= data.count {
        if data[i..<(i + separator.count)].elementsEqual(separator) {
            parts.append(Array(data[start..<i]))
            i += separator.count
            start = i
        } else {
            i += 1
        }
    }
    parts.append(Array(data[start...]))
    return parts
}

/// Runs an async operation to completion from the fuzzer's synchronous callback.
func blocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let done = DispatchSemaphore(value: 0)
    let box = ResultBox<T>()
    Task { box.value = await body(); done.signal() }
    done.wait()
    return box.value!
}

final class ResultBox<T>: @unchecked Sendable { var value: T? }
