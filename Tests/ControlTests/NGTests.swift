import Calls
import Foundation
import Media
import NIOCore
import Testing
import TestSupport
@testable import Control

@Suite struct BencodeTests {
    @Test func roundTripsAndSortsKeys() throws {
        let v = try Bencode.decode(Array("d7:command5:offer4:sdpx3:abc5:flagsl5:trust3:fooe3:numi-42ee".utf8))
        #expect(v["command"]?.string == "offer")
        #expect(v["flags"]?.strings == ["trust", "foo"])
        #expect(v["num"]?.int == -42)
        #expect(String(decoding: Bencode.dictionary([("b", 1), ("a", "x")]).encoded, as: UTF8.self) == "d1:a1:x1:bi1ee")
        #expect(try Bencode.decode(v.encoded)["sdpx"] == "abc")
    }

    /// Integers and lengths are written digit by digit (no String): every magnitude, both signs.
    @Test(arguments: [0, 7, -7, 10, 99, 100, -1234567, 1 << 40, Int.max, Int.min])
    func encodesIntegers(n: Int) throws {
        #expect(String(decoding: Bencode.integer(n).encoded, as: UTF8.self) == "i\(n)e")
        let bytes = [UInt8](repeating: 0x61, count: abs(n % 1000))
        #expect(String(decoding: Bencode.bytes(bytes).encoded, as: UTF8.self) == "\(bytes.count):" + String(repeating: "a", count: bytes.count))
    }

    /// Keys come out in byte order (not String order, not insertion order), nested too.
    @Test func sortsKeysByBytes() {
        let v = Bencode.dictionary([("b", 1), ("Z", 2), ("a b", .dictionary([("y", 1), ("x", 2)])), ("a", 3), ("é", 4)])
        #expect(String(decoding: v.encoded, as: UTF8.self) == "d1:Zi2e1:ai3e3:a bd1:xi2e1:yi1ee1:bi1e2:éi4ee")
    }

    @Test(arguments: ["", "d", "i12", "i1x2e", "5:abc", "d3:keyi1e", "x", "l" + String(repeating: "l", count: 40) + "e",
                      "d1:ai1ee" + "junk", "ie"])
    func rejectsMalformed(text: String) {
        #expect(throws: Bencode.DecodeError.self) { try Bencode.decode(Array(text.utf8)) }
    }

    @Test func boundsHugeInput() {
        let huge = "l" + String(repeating: "i1e", count: 20_000) + "e"
        #expect(throws: Bencode.DecodeError.tooLarge) { try Bencode.decode(Array(huge.utf8)) }
    }
}

@Suite(.serialized) struct NGServerTests {
    static let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=candidate:1 1 UDP 2130706431 127.0.0.1 40000 typ host\r\na=ice-ufrag:abcd\r\n"

    /// An ng server over a started relay that may bind `ports` ports from `lo`.
    func server(_ lo: Int, ports: Int = 50, maxSessions: Int = 0,
                configuration: NGServer.Configuration = .init()) throws -> (NGServer, CallManager) {
        var c = MediaRelay.Configuration()
        c.portMin = lo
        c.portMax = lo + ports - 1
        c.threads = 1
        let relay = try MediaRelay(configuration: c)
        relay.start()
        let calls = CallManager(relay: relay, maxSessions: maxSessions)
        return (NGServer(configuration: configuration, calls: calls), calls)
    }

    func send(_ s: NGServer, _ cookie: String, _ body: Bencode) throws -> Bencode {
        let reply = try #require(s.reply(to: Array("\(cookie) ".utf8) + body.encoded))
        #expect(reply.starts(with: Array("\(cookie) ".utf8)))
        return try Bencode.decode(reply[(cookie.count + 1)...])
    }

    @Test func offerAnswerQueryDeleteLikeKamailio() throws {
        let (s, calls) = try server(TestPorts.base(50))
        defer { calls.relay.shutdown() }
        #expect(try send(s, "c1", ["command": "ping"] as Bencode)["result"] == "pong")
        let offer = try send(s, "c2", .dictionary([("command", "offer"), ("call-id", "call1"), ("from-tag", "ft"),
                                                  ("sdp", .string(Self.sdp)), ("ICE", "remove"),
                                                  ("replace", .list(["origin", "session-connection"])),
                                                  ("transport-protocol", "RTP/AVP"), ("via-branch", "z9hG4bK1"), ("label", "caller")]))
        #expect(offer["result"] == "ok")
        let out = try #require(offer["sdp"]?.string)
        #expect(!out.contains("a=candidate") && !out.contains("ice-ufrag"))
        #expect(!out.contains("m=audio 40000"))
        let answer = try send(s, "c3", .dictionary([("command", "answer"), ("call-id", "call1"), ("from-tag", "ft"), ("to-tag", "tt"),
                                                   ("sdp", .string(Self.sdp.replacingOccurrences(of: "40000", with: "40100")))]))
        #expect(answer["result"] == "ok")
        let q = try send(s, "c4", .dictionary([("command", "query"), ("call-id", "call1")]))
        #expect(q["result"] == "ok")
        #expect(q["tags"]?["ft"]?["tag"] == "ft")
        #expect(q["tags"]?["tt"] != nil)
        #expect(q["totals"]?["RTP"]?["packets"] == 0)
        let list = try send(s, "c5", ["command": "list"] as Bencode)
        #expect(list["calls"]?.strings == ["call1"])
        #expect(calls.relay.pool.pairsInUse == 2)
        #expect(try send(s, "c6", .dictionary([("command", "delete"), ("call-id", "call1"), ("from-tag", "ft")]))["result"] == "ok")
        #expect(waitUntil { calls.relay.pool.pairsInUse == 0 })
        #expect(try send(s, "c7", .dictionary([("command", "query"), ("call-id", "call1")]))["error-reason"] == "Unknown call-id call1")
    }

    /// The UDP path as a proxy under load drives it: 40 offers sent back to back (read in
    /// bursts, answered together, the relay woken once per burst), then 40 answers. Every
    /// cookie gets exactly one ok reply, and media flows through the last call both ways, so
    /// the burst's relay commands were applied when the burst ended.
    @Test func pipelinedBurstsOverUDP() async throws {
        var conf = NGServer.Configuration()
        conf.port = 0
        let (server, calls) = try server(TestPorts.base(200), ports: 200, configuration: conf)
        defer { calls.relay.shutdown() }
        let run = Task { try await server.run() }
        defer { run.cancel() }
        for _ in 0..<300 where server.boundPort == nil { try await Task.sleep(for: .milliseconds(10)) }
        let ngPort = try #require(server.boundPort)
        let client = try UDPSocket()
        let caller = try UDPSocket(), callee = try UDPSocket()
        func sdp(_ port: Int) -> String {
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio \(port) RTP/AVP 0\r\n"
        }
        func exchange(_ stage: String, _ body: (Int) -> Bencode) throws -> [Int: Bencode] {
            for i in 0..<40 { client.send(Array("\(stage)\(i) ".utf8) + body(i).encoded, to: ngPort) }
            var replies: [Int: Bencode] = [:]
            for _ in 0..<40 {
                let d = try #require(client.receiveBytes())
                let space = try #require(d.firstIndex(of: UInt8(ascii: " ")))
                let cookie = String(decoding: d[..<space], as: UTF8.self)
                let i = try #require(Int(cookie.dropFirst(stage.count)))
                #expect(replies[i] == nil)
                replies[i] = try Bencode.decode(d[(space + 1)...])
            }
            return replies
        }
        let offers = try exchange("o", { i in .dictionary([("call-id", .string("burst\(i)")), ("command", "offer"),
                                                            ("from-tag", "ft"), ("sdp", .string(sdp(i == 39 ? caller.port : 40000)))]) })
        #expect(offers.count == 40 && offers.values.allSatisfy { $0["result"] == "ok" })
        let answers = try exchange("a", { i in .dictionary([("call-id", .string("burst\(i)")), ("command", "answer"), ("from-tag", "ft"),
                                                             ("sdp", .string(sdp(i == 39 ? callee.port : 40100))), ("to-tag", "tt")]) })
        #expect(answers.count == 40 && answers.values.allSatisfy { $0["result"] == "ok" })
        #expect(calls.activeCount == 40)
        // The last call: the caller sends to the port the answer advertised, the callee to
        // the port the offer advertised.
        func port(_ reply: Bencode?) throws -> Int {
            let text = try #require(reply?["sdp"]?.string)
            let line = try #require(text.split(separator: "\r\n").first { $0.hasPrefix("m=audio ") })
            return try #require(Int(line.split(separator: " ")[1]))
        }
        caller.send([0x80, 0, 0, 1], to: try port(answers[39]))
        #expect(callee.receiveBytes() == [0x80, 0, 0, 1])
        callee.send([0x80, 0, 0, 2], to: try port(offers[39]))
        #expect(caller.receiveBytes() == [0x80, 0, 0, 2])
    }

    /// `limits.max_sessions`: a new call over the limit gets rtpengine's error-reason and
    /// binds no port; re-offers and answers of live calls go on; a delete makes room.
    @Test func sessionLimitRefusesNewCallsWithRtpenginesReason() throws {
        let (s, calls) = try server(TestPorts.base(50), maxSessions: 1)
        defer { calls.relay.shutdown() }
        func offer(_ cookie: String, _ callID: String) throws -> Bencode {
            try send(s, cookie, .dictionary([("command", "offer"), ("call-id", .string(callID)), ("from-tag", "ft"), ("sdp", .string(Self.sdp))]))
        }
        #expect(try offer("l1", "one")["result"] == "ok")
        let refused = try offer("l2", "two")
        #expect(refused["result"] == "error")
        #expect(refused["error-reason"] == "Parallel session limit reached")
        #expect(calls.relay.pool.pairsInUse == 2 && calls.activeCount == 1)   // one stream: a pair per side
        #expect(try offer("l3", "one")["result"] == "ok")   // re-offer of the live call
        #expect(try send(s, "l4", .dictionary([("command", "answer"), ("call-id", "one"), ("from-tag", "ft"), ("to-tag", "tt"),
                                               ("sdp", .string(Self.sdp))]))["result"] == "ok")
        #expect(try send(s, "l5", .dictionary([("command", "delete"), ("call-id", "one")]))["result"] == "ok")
        #expect(try offer("l6", "two")["result"] == "ok")
    }

    /// `transport-protocol` bridges an SDES offerer to plain RTP (Baton answers with its own
    /// key); `codec: {transcode: [opus]}` adds Opus to the offer, a wrong type is an error.
    @Test func srtpBridgeAndTranscodeOptions() throws {
        let (s, calls) = try server(TestPorts.base(50))
        defer { calls.relay.shutdown() }
        let key = Data((0..<30).map { UInt8($0) }).base64EncodedString()
        let savp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/SAVP 0\r\n"
            + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(key)\r\n"
        let offer = try send(s, "s1", .dictionary([("command", "offer"), ("call-id", "sec"), ("from-tag", "ft"),
                                                  ("sdp", .string(savp)), ("transport-protocol", "RTP/AVP"),
                                                  ("codec", .dictionary([("transcode", .list(["opus"]))]))]))
        let out = try #require(offer["sdp"]?.string)
        #expect(out.contains("m=audio") && out.contains("RTP/AVP 0 111") && out.contains("a=rtpmap:111 opus/48000/2"), "\(out)")
        #expect(!out.contains("a=crypto"))
        let answer = try send(s, "s2", .dictionary([("command", "answer"), ("call-id", "sec"), ("from-tag", "ft"), ("to-tag", "tt"),
                                                   ("sdp", .string(Self.sdp.replacingOccurrences(of: "40000", with: "40100")))]))
        let back = try #require(answer["sdp"]?.string)
        #expect(back.contains("RTP/SAVP 0") && back.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:") && !back.contains(key), "\(back)")
        let bad = try send(s, "s3", .dictionary([("command", "offer"), ("call-id", "x"), ("from-tag", "f"),
                                                ("sdp", .string(Self.sdp)), ("codec", "opus")]))
        #expect(bad["result"] == "error" && bad["error-reason"]?.string?.contains("codec") == true)
        let noKey = try send(s, "s4", .dictionary([("command", "offer"), ("call-id", "y"), ("from-tag", "f"),
                                                  ("sdp", .string(savp.replacingOccurrences(of: "AES_CM_128_HMAC_SHA1_80", with: "F8_128_HMAC_SHA1_80")))]))
        #expect(noKey["result"] == "error" && noKey["error-reason"]?.string?.contains("a=crypto") == true, "\(noKey)")
    }

    /// rtpengine's source flags: a NATed caller's SDP names a private address. With
    /// `SIP-source-address` and `received-from`, its media latches from the signaling
    /// address only (a third host is dropped); without flags and without `received-from`
    /// (`media.source = sdp-or-signaling`, nothing known but the SDP) the same phone is
    /// refused, since it is not where its SDP said; a bad `received-from` is an error.
    @Test func sourceFlagsChooseWhatMayLatch() throws {
        let (s, calls) = try server(TestPorts.base(50))
        defer { calls.relay.shutdown() }
        let natted = Self.sdp.replacingOccurrences(of: "c=IN IP4 127.0.0.1", with: "c=IN IP4 192.168.1.20")
        let phone = try UDPSocket(address: "127.0.0.2"), third = try UDPSocket(address: "127.0.0.3"), callee = try UDPSocket()
        func port(_ sdp: String?) -> Int? {
            sdp?.split(separator: "\r\n").first { $0.hasPrefix("m=audio ") }.flatMap { Int($0.split(separator: " ")[1]) }
        }
        func call(_ id: String, _ extra: [(String, Bencode)]) throws -> Int {
            let offer = try send(s, id + "o", .dictionary([("call-id", .string(id)), ("command", "offer"), ("from-tag", "ft"),
                                                          ("sdp", .string(natted))] + extra))
            #expect(offer["result"] == "ok", "\(offer)")
            let answer = try send(s, id + "a", .dictionary([("call-id", .string(id)), ("command", "answer"), ("from-tag", "ft"),
                                                           ("sdp", .string(Self.sdp.replacingOccurrences(of: "40000", with: "\(callee.port)"))),
                                                           ("to-tag", "tt")]))
            return try #require(port(answer["sdp"]?.string))
        }
        let nat = try call("nat", [("flags", .list(["SIP-source-address"])), ("received-from", .list(["IP4", "127.0.0.2"]))])
        #expect(calls.relay.barrierBlocking())
        third.send([0x80, 0, 0, 1], to: nat)
        #expect(callee.receiveBytes() == nil)
        phone.send([0x80, 0, 0, 2], to: nat)
        #expect(callee.receiveBytes() == [0x80, 0, 0, 2])

        let strict = try call("strict", [])
        #expect(calls.relay.barrierBlocking())
        phone.send([0x80, 0, 0, 3], to: strict)
        #expect(callee.receiveBytes() == nil)
        let q = try send(s, "q", .dictionary([("call-id", "strict"), ("command", "query")]))
        #expect(q["tags"]?["ft"]?["medias"]?.list?.first?["streams"]?.list?.first?["stats"]?["errors"] == 1, "\(q)")

        let bad = try send(s, "b", .dictionary([("call-id", "bad"), ("command", "offer"), ("from-tag", "f"),
                                                ("received-from", .list(["IP4", "not an address"])), ("sdp", .string(Self.sdp))]))
        #expect(bad["result"] == "error" && bad["error-reason"]?.string?.contains("received-from") == true, "\(bad)")
    }

    @Test func retransmittedCookieIsAnsweredNotRerun() throws {
        let (s, calls) = try server(TestPorts.base(50))
        defer { calls.relay.shutdown() }
        let req = Bencode.dictionary([("command", "offer"), ("call-id", "dup"), ("from-tag", "ft"), ("sdp", .string(Self.sdp))])
        let first = try send(s, "same", req)
        let again = try send(s, "same", req)
        #expect(first == again)
        #expect(calls.relay.pool.pairsInUse == 2)   // one stream (a pair per side), not two streams
        let other = try send(s, "other", req)      // a new cookie is a new request: re-offer, same ports
        #expect(other["sdp"] == first["sdp"])
    }

    @Test func badInputGetsAnErrorReplyAndBreaksNothing() throws {
        let (s, calls) = try server(TestPorts.base(50))
        defer { calls.relay.shutdown() }
        func raw(_ bytes: [UInt8]) throws -> Bencode? {
            guard let r = s.reply(to: bytes), let sp = r.firstIndex(of: 32) else { return nil }
            return try Bencode.decode(r[(sp + 1)...])
        }
        #expect(try raw(Array("nocookie".utf8)) == nil)                         // nothing to answer to
        #expect(try raw(Array("k1 this is not bencode".utf8))?["result"] == "error")
        #expect(try send(s, "k2", ["command": "frobnicate"] as Bencode)["error-reason"] == "Unrecognized command")
        #expect(try send(s, "k3", .dictionary([("command", "offer"), ("from-tag", "a"), ("sdp", .string(Self.sdp))]))["error-reason"] == "No call-id in message")
        #expect(try send(s, "k4", .dictionary([("command", "offer"), ("call-id", "x"), ("from-tag", "a")]))["error-reason"] == "No SDP body in message")
        #expect(try send(s, "k5", .dictionary([("command", "offer"), ("call-id", .integer(5)), ("from-tag", "a"), ("sdp", .string(Self.sdp))]))["result"] == "error")
        #expect(try send(s, "k6", .dictionary([("command", "offer"), ("call-id", "x"), ("from-tag", "a"), ("sdp", "garbage")]))["result"] == "error")
        #expect(try send(s, "k7", .dictionary([("command", "offer"), ("call-id", "x"), ("from-tag", "a"), ("sdp", .string(Self.sdp)), ("flags", "notalist")]))["result"] == "error")
        #expect(try send(s, "k8", .list([1, 2]))["result"] == "error")
        #expect(try send(s, "k9", .dictionary([("command", "answer"), ("call-id", "nope"), ("from-tag", "a"), ("to-tag", "b"), ("sdp", .string(Self.sdp))]))["error-reason"] == "Unknown call-id nope")
        let huge = "k10 d" + (0..<20_000).map { "3:k\(String(format: "%02d", $0 % 100))i1e" }.joined() + "e"
        #expect(try raw(Array(huge.utf8))?["result"] == "error")
        #expect(calls.relay.pool.pairsInUse == 0)
        // Still serving.
        #expect(try send(s, "k11", ["command": "ping"] as Bencode)["result"] == "pong")
    }
}

