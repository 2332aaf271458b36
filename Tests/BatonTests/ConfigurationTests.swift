import Testing
@testable import Baton

@Suite struct ConfigurationTests {
    @Test func defaultsAreTheLoopbackOnes() throws {
        let c = try BatonConfiguration.load(toml: nil, environment: [:], overrides: [], routes: [])
        #expect(c.sip.transport.host == "127.0.0.1" && c.sip.transport.port == 5060)
        #expect(c.sip.transport.udp && c.sip.transport.tcp)
        #expect(c.media.portMin == 20000 && c.media.portMax == 29999)
        #expect(c.http.host == "127.0.0.1" && c.http.port == 8080)
        #expect(c.storePath == "var/baton.sqlite")
        #expect(c.sip.b2bua.sentBy == "127.0.0.1:5060")
    }

    /// `store.url` and `cluster.*` (issue 21): a PostgreSQL URL is checked and shown without
    /// its password; the cluster keys have sane defaults and bounds.
    @Test func storeURLAndClusterKeys() throws {
        let d = try BatonConfiguration.load(toml: nil, environment: [:], overrides: [], routes: [])
        #expect(d.storeURL.isEmpty && d.storeLocation == "var/baton.sqlite")
        #expect(d.gatewayID.hasSuffix("-5060") && d.heartbeatMs == 1000 && d.deadAfterMs == 3000)
        #expect(d.clusterHTTPAddress == "127.0.0.1:8080")
        let c = try BatonConfiguration.load(toml: "[store]\nurl = \"postgres://baton:s3cret@db.example:6543/baton\"\n[cluster]\ngateway_id = \"gw-1\"",
                                            environment: [:], overrides: [], routes: [])
        #expect(c.storeURL == "postgres://baton:s3cret@db.example:6543/baton" && c.gatewayID == "gw-1")
        #expect(!c.storeLocation.contains("s3cret") && c.storeLocation.contains("db.example:6543"))
        let shown = c.settings.first { $0.key == "store.url" }?.shown ?? ""
        #expect(!shown.contains("s3cret") && shown.contains("***"), "\(shown)")
        for (toml, key) in [("[store]\nurl = \"mysql://u@h/db\"", "store.url"),
                            ("[store]\nurl = \"postgres://h/db\"", "store.url"),
                            ("[cluster]\ngateway_id = \"has space\"", "cluster.gateway_id"),
                            ("[cluster]\nheartbeat_ms = 2000\ndead_after_ms = 3000", "cluster.dead_after_ms"),
                            ("[cluster]\nhttp_address = \"nohostport\"", "cluster.http_address")] {
            #expect("\((try? BatonConfiguration.load(toml: toml, environment: [:], overrides: [], routes: [])) == nil)" == "true", "\(key)")
            do { _ = try BatonConfiguration.load(toml: toml, environment: [:], overrides: [], routes: []) } catch {
                #expect("\(error)".contains(key), "\(error)")
                #expect(!"\(error)".contains("s3cret"))
            }
        }
    }

    @Test func flagsBeatEnvironmentWhichBeatsTheFile() throws {
        let toml = """
        [sip]
        port = 5070
        [http]
        port = 9001
        [media]
        port_min = 40000
        port_max = 40999
        [[routes]]
        match = "^1"
        host = "127.0.0.1"
        port = 5080
        """
        let c = try BatonConfiguration.load(toml: toml, environment: ["BATON_SIP_PORT": "5071", "BATON_HTTP_PORT": "9002"],
                                            overrides: [("http.port", "9003")], routes: [])
        #expect(c.sip.transport.port == 5071)      // env over file
        #expect(c.http.port == 9003)               // flag over env
        #expect(c.media.portMin == 40000)          // file over default
        #expect(c.sip.routes == [StaticRouteAlias(match: "^1", host: "127.0.0.1", port: 5080)])
        #expect(c.sip.b2bua.advertisedPort == 5071)
    }

    @Test func limitsAndSocketReuseAreRead() throws {
        let c = try BatonConfiguration.load(toml: "[limits]\nmax_sessions = 100\nretry_after = 9\n[media]\nreuse_sockets = false",
                                            environment: [:], overrides: [], routes: [])
        #expect(c.maxSessions == 100 && c.sip.b2bua.limitRetryAfter == 9 && c.media.reuseSockets == false)
        let d = try BatonConfiguration.load(toml: nil, environment: [:], overrides: [], routes: [])
        #expect(d.maxSessions == 0 && d.sip.b2bua.limitRetryAfter == 5 && d.media.reuseSockets)
    }

    @Test func storeCommitWindowIsRead() throws {
        let c = try BatonConfiguration.load(toml: "[store]\ncommit_window_ms = 50", environment: [:], overrides: [], routes: [])
        #expect(c.storeCommitWindowMs == 50)
        let e = try BatonConfiguration.load(toml: "[store]\ncommit_window_ms = 50", environment: ["BATON_STORE_COMMIT_WINDOW_MS": "0"],
                                            overrides: [], routes: [])
        #expect(e.storeCommitWindowMs == 0)
        let d = try BatonConfiguration.load(toml: nil, environment: [:], overrides: [], routes: [])
        #expect(d.storeCommitWindowMs == 20)
    }

    @Test func switchoverPrimingIsRead() throws {
        let c = try BatonConfiguration.load(toml: "[switchover]\npriming_ms = 150", environment: [:], overrides: [], routes: [])
        #expect(c.handoff.primingMillis == 150)
        let e = try BatonConfiguration.load(toml: "[switchover]\npriming_ms = 150", environment: ["BATON_SWITCHOVER_PRIMING_MS": "0"],
                                            overrides: [], routes: [])
        #expect(e.handoff.primingMillis == 0)
        let f = try BatonConfiguration.load(toml: nil, environment: [:], overrides: [("switchover.priming_ms", "500")], routes: [])
        #expect(f.handoff.primingMillis == 500)
        let d = try BatonConfiguration.load(toml: nil, environment: [:], overrides: [], routes: [])
        #expect(d.handoff.primingMillis == 300)
    }

    @Test func theShippedExampleIsValid() throws {
        let text = try String(contentsOfFile: #filePath.replacingOccurrences(of: "Tests/BatonTests/ConfigurationTests.swift", with: "conf/baton.toml"), encoding: .utf8)
        let c = try BatonConfiguration.load(toml: text, environment: [:], overrides: [], routes: [])
        #expect(c == (try BatonConfiguration.load(toml: nil, environment: [:], overrides: [], routes: [])))
    }

    @Test(arguments: [
        ("[sip]\nport = \"abc\"", "sip.port"),
        ("[sip]\nport = 70000", "sip.port"),
        ("[sip]\nnope = 1", "sip.nope"),
        ("[media]\nport_min = 30000\nport_max = 20000", "media.port_min"),
        ("[media]\nbind = \"localhost\"", "media.bind"),
        ("[log]\nlevel = \"loud\"", "log.level"),
        ("[limits]\nmax_sessions = -1", "limits.max_sessions"),
        ("[media]\nreuse_sockets = \"maybe\"", "media.reuse_sockets"),
        ("[store]\ncommit_window_ms = 5000", "store.commit_window_ms"),
        ("[switchover]\npriming_ms = 20000", "switchover.priming_ms"),
        ("[switchover]\npriming_ms = -1", "switchover.priming_ms"),
        ("[sip\nport = 1", "configuration file"),
        ("[[routes]]\nmatch = \"([\"\nhost = \"h\"", "routes"),
    ])
    func badValuesNameTheKey(toml: String, key: String) {
        do {
            _ = try BatonConfiguration.load(toml: toml, environment: [:], overrides: [], routes: [])
            Issue.record("accepted bad configuration: \(toml)")
        } catch {
            #expect("\(error)".contains(key), "\(error)")
        }
    }

    @Test func routesFromFlags() throws {
        let c = try BatonConfiguration.load(toml: nil, environment: [:], overrides: [], routes: ["^9=127.0.0.1:5090/tcp", ".=[::1]:5091"])
        #expect(c.sip.routes.map(\.port) == [5090, 5091])
        #expect(c.sip.routes[0].transport == .tcp && c.sip.routes[1].host == "::1")
        #expect(throws: (any Error).self) { try BatonConfiguration.load(toml: nil, environment: [:], overrides: [], routes: ["nohost"]) }
    }

    @Test func devicesAndSwitchoverKeysFromTheFile() throws {
        let toml = """
        [switchover]
        window_ms = 500
        [[devices]]
        user = "alice"
        id = "kitchen"
        aor = "kitchen@example.com"
        kind = "speaker"
        priority = 1
        [[devices]]
        user = "alice"
        id = "mobile"
        aor = "sip:alice@example.com"
        """
        let c = try BatonConfiguration.load(toml: toml, environment: [:], overrides: [], routes: [])
        #expect(c.handoff.windowMillis == 500 && c.handoff.noMediaTimeoutMillis == 3000)
        #expect(c.devices.map(\.id) == ["kitchen", "mobile"])
        #expect(c.devices.first?.kind == "speaker" && c.devices.last?.kind == "phone" && c.devices.first?.priority == 1)
        #expect(throws: (any Error).self) {
            _ = try BatonConfiguration.load(toml: "[[devices]]\nuser = \"a\"\nid = \"x\"\naor = \"a@b\"\nkind = \"toaster\"",
                                            environment: [:], overrides: [], routes: [])
        }
    }
}

import SIP
typealias StaticRouteAlias = StaticRoute

@Suite struct ForwardingConfigurationTests {
    @Test func rulesFromFileAndFlags() throws {
        let toml = """
            [[forwarding]]
            number = "+1 202 555 0102"
            to = "sip:+12025550104@127.0.0.1:5080"
            on = "busy"
            """
        let c = try BatonConfiguration.load(toml: toml, environment: [:], overrides: [], routes: [])
        #expect(c.forwarding == [.init(number: "+1 202 555 0102", to: "sip:+12025550104@127.0.0.1:5080", on: .busy)])
        #expect(c.forwarding[0].matches("sip:+12025550102@example.com;user=phone"))
        #expect(!c.forwarding[0].matches("sip:+12025550103@example.com"))
        let f = try BatonConfiguration.load(toml: toml, environment: [:], overrides: [], routes: [],
                                            forwards: ["alice=sip:bob@127.0.0.1:5090"])
        #expect(f.forwarding == [.init(number: "alice", to: "sip:bob@127.0.0.1:5090", on: .unconditional)])
        #expect(f.forwarding[0].matches("sip:alice@127.0.0.1"))
        let n = try BatonConfiguration.load(toml: nil, environment: [:], overrides: [], routes: [],
                                            forwards: ["12025550102=sip:vm@127.0.0.1/no-answer:7", "1=sip:a@h/no-answer"])
        #expect(n.forwarding.map(\.on) == [.noAnswer, .noAnswer] && n.forwarding.map(\.afterSeconds) == [7, 20])
        #expect(throws: (any Error).self) { try BatonConfiguration.load(toml: nil, environment: [:], overrides: [], routes: [], forwards: ["x=sip:y@h/no-answer:0"]) }
        #expect(throws: (any Error).self) { try BatonConfiguration.load(toml: nil, environment: [:], overrides: [], routes: [], forwards: ["x=sip:y@h/sometimes"]) }
        #expect(throws: (any Error).self) { try BatonConfiguration.load(toml: nil, environment: [:], overrides: [], routes: [], forwards: ["nothing"]) }
    }

    /// A listener off loopback that nothing authenticates is named, so `serve` can refuse it.
    @Test func unauthenticatedListenersOffLoopbackAreNamed() throws {
        let local = try BatonConfiguration.load(toml: nil, environment: [:], overrides: [], routes: [])
        #expect(local.exposedListeners.isEmpty)
        let open = try BatonConfiguration.load(toml: nil, environment: [:], overrides: [("sip.host", "0.0.0.0"), ("ng.host", "10.0.0.5")], routes: [])
        #expect(open.exposedListeners.count == 2 && open.exposedListeners[0].contains("auth.sip"), "\(open.exposedListeners)")
        let authed = try BatonConfiguration.load(toml: nil, environment: [:], overrides: [("sip.host", "0.0.0.0"), ("auth.sip", "true")], routes: [])
        #expect(authed.exposedListeners.isEmpty)
        let http = try BatonConfiguration.load(toml: nil, environment: [:], overrides: [("http.host", "::")], routes: [])
        #expect(http.exposedListeners.first?.contains("HTTP") == true)
        let httpAuthed = try BatonConfiguration.load(toml: nil, environment: [:], overrides: [("http.host", "::"), ("http.auth", "true")], routes: [])
        #expect(httpAuthed.exposedListeners.isEmpty)
        let v6 = try BatonConfiguration.load(toml: nil, environment: [:], overrides: [("sip.host", "::1"), ("http.host", "localhost")], routes: [])
        #expect(v6.exposedListeners.isEmpty)
    }
}
