import Synchronization

/// A copy of the audio a party sends, for listening off the relay thread (keyword spotting,
/// in-band DTMF, talk and silence: the Speech module).
///
/// A single-producer single-consumer ring of RTP payloads, allocated once: the relay thread
/// appends each packet's payload of the leg's audio codec (no allocation, no lock, a copy of
/// at most a few hundred bytes), a listening thread drains it. When the listener falls
/// behind, new frames are dropped and counted (``dropped``), never the relay's packets.
///
/// ```swift
/// let tap = AudioTap()
/// relay.tap(stream, side: .a, tap)          // the caller's audio from now on
/// tap.drain { codec, payload in ... }        // on the listening thread
/// relay.tap(stream, side: .a, nil)
/// ```
public final class AudioTap: @unchecked Sendable {
    /// Bytes in the ring: about 3 s of G.711 (160-byte frames and 3 bytes of framing).
    public static let capacity = 1 << 15
    /// Largest payload taken (an Opus frame of 120 ms at high rate stays under it).
    public static let maxPayload = 1500
    private let ring: UnsafeMutablePointer<UInt8>
    private let scratch: UnsafeMutablePointer<UInt8>
    /// Producer and consumer positions (monotonic byte counts).
    private let written = Atomic<Int>(0)
    private let read = Atomic<Int>(0)
    /// Frames not taken because the ring was full.
    public let dropped = Atomic<Int>(0)
    /// Frames taken.
    public let frames = Atomic<Int>(0)

    public init() {
        ring = .allocate(capacity: AudioTap.capacity)
        scratch = .allocate(capacity: AudioTap.maxPayload)
    }

    deinit {
        ring.deallocate()
        scratch.deallocate()
    }

    static func code(_ codec: MediaFormat.Codec) -> UInt8 {
        switch codec {
        case .pcmu: 0
        case .pcma: 1
        case .opus: 2
        }
    }

    static func codec(_ code: UInt8) -> MediaFormat.Codec {
        switch code {
        case 0: .pcmu
        case 1: .pcma
        default: .opus
        }
    }

    /// Relay thread: appends one payload (dropped and counted when the ring is full).
    @inline(__always)
    func put(_ codec: UInt8, _ payload: UnsafePointer<UInt8>, count: Int) {
        let w = written.load(ordering: .relaxed)
        let r = read.load(ordering: .acquiring)
        let need = count + 3
        guard count > 0, count <= AudioTap.maxPayload, AudioTap.capacity - (w - r) >= need else {
            dropped.wrappingAdd(1, ordering: .relaxed)
            return
        }
        ring[w & (AudioTap.capacity - 1)] = codec
        ring[(w + 1) & (AudioTap.capacity - 1)] = UInt8(count >> 8)
        ring[(w + 2) & (AudioTap.capacity - 1)] = UInt8(count & 0xFF)
        copyIn(payload, count: count, at: w + 3)
        written.store(w + need, ordering: .releasing)
        frames.wrappingAdd(1, ordering: .relaxed)
    }

    private func copyIn(_ p: UnsafePointer<UInt8>, count: Int, at position: Int) {
        let start = position & (AudioTap.capacity - 1)
        let first = min(count, AudioTap.capacity - start)
        (ring + start).update(from: p, count: first)
        if first < count { ring.update(from: p + first, count: count - first) }
    }

    /// Listening thread: hands every frame appended so far to `body`, oldest first. The
    /// buffer is valid only during the call.
    public func drain(_ body: (MediaFormat.Codec, UnsafeBufferPointer<UInt8>) -> Void) {
        var r = read.load(ordering: .relaxed)
        let w = written.load(ordering: .acquiring)
        while w - r >= 3 {
            let code = ring[r & (AudioTap.capacity - 1)]
            let count = Int(ring[(r + 1) & (AudioTap.capacity - 1)]) << 8 | Int(ring[(r + 2) & (AudioTap.capacity - 1)])
            let start = (r + 3) & (AudioTap.capacity - 1)
            let first = min(count, AudioTap.capacity - start)
            scratch.update(from: ring + start, count: first)
            if first < count { (scratch + first).update(from: ring, count: count - first) }
            r += 3 + count
            body(AudioTap.codec(code), UnsafeBufferPointer(start: scratch, count: count))
        }
        read.store(r, ordering: .releasing)
    }
}
