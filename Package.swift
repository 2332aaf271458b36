// swift-tools-version:6.1
import PackageDescription

// Layers (dependencies point down only), see docs/architecture.md:
//   Baton (executable) -> Control -> Calls -> SIP, Media, Store -> C shims
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Baton",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "baton", targets: ["Baton"]),
        .executable(name: "baton-demobot", targets: ["baton-demobot"]),
        .executable(name: "baton-fuzz", targets: ["baton-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird.git", from: "2.1.0"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // C shims: one system library per Debian -dev package, linked through pkg-config.
        .systemLibrary(name: "COSIP2", pkgConfig: "libosip2", providers: [.apt(["libosip2-dev"])]),
        .systemLibrary(name: "CSRTP2", pkgConfig: "libsrtp2", providers: [.apt(["libsrtp2-dev"])]),
        .systemLibrary(name: "COpus", pkgConfig: "opus", providers: [.apt(["libopus-dev"])]),
        .systemLibrary(name: "CORTP", pkgConfig: "ortp", providers: [.apt(["libortp-dev"])]),
        .systemLibrary(name: "CPocketSphinx", pkgConfig: "pocketsphinx", providers: [.apt(["libpocketsphinx-dev"])]),
        .systemLibrary(name: "CSpanDSP", pkgConfig: "spandsp", providers: [.apt(["libspandsp-dev"])]),
        // Small C helpers for what Swift cannot call directly (recvmmsg/sendmmsg, epoll, eventfd).
        .target(name: "CBatonSys"),

        .target(name: "Settings", dependencies: [
            .product(name: "Configuration", package: "swift-configuration"),
        ], swiftSettings: strict),
        .target(name: "Media", dependencies: [
            "Settings",
            "CBatonSys", "CSRTP2", "COpus", "CORTP",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], swiftSettings: strict),
        .target(name: "SIP", dependencies: [
            "COSIP2", "Settings",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], swiftSettings: strict),
        .target(name: "Store", dependencies: [
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // The same store protocols on PostgreSQL (several gateways on one database).
        .target(name: "PostgresStore", dependencies: [
            "Store",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], swiftSettings: strict),
        .target(name: "Identity", dependencies: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
        ], swiftSettings: strict),
        .target(name: "ContactCenter", dependencies: ["Store", "Settings", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .target(name: "Prediction", dependencies: ["Store", "ContactCenter", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .target(name: "Speech", dependencies: ["Media", "CPocketSphinx", "CSpanDSP",
                                               .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .target(name: "Calls", dependencies: [
            "SIP", "Media", "Store", "Identity", "Settings",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: strict),
        .target(name: "Handoff", dependencies: [
            "Calls", "SIP", "Media", "Store", "ContactCenter", "Settings", "Speech",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .target(name: "Control", dependencies: [
            "Handoff", "Calls", "SIP", "Media", "Store", "ContactCenter", "Settings", "Prediction",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
            .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ],
        // openapi.yaml is the API's source; Generated/ is made from it by tools/openapi/generate.sh.
        exclude: ["openapi.yaml", "openapi-generator-config.yaml"], swiftSettings: strict),
        .executableTarget(name: "Baton", dependencies: [
            "Control", "Handoff", "Calls", "SIP", "Media", "Store", "PostgresStore", "Identity", "ContactCenter", "Settings", "Prediction", "Speech",
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "TOMLKit", package: "TOMLKit"),
            .product(name: "Configuration", package: "swift-configuration"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),

        // tools/demobot: the demo voicebot (README "Demo"; the interop tests' speaking bot).
        .executableTarget(name: "baton-demobot", dependencies: [
            "SIP", "Media", "Speech", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "tools/demobot", swiftSettings: strict),
        // tools/fuzz: the fuzz targets (every parser of untrusted bytes, as Baton runs it) and
        // their driver: libFuzzer's entry points under tools/fuzz.sh, a corpus replayer otherwise.
        .target(name: "FuzzTargets", dependencies: [
            "SIP", "Media", "Calls", "Control", "Identity", "Store", "ContactCenter", "TestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "tools/fuzz/Targets", swiftSettings: strict),
        .executableTarget(name: "baton-fuzz", dependencies: ["FuzzTargets", .product(name: "Logging", package: "swift-log")], path: "tools/fuzz/Driver", swiftSettings: strict),
        // Helpers shared by test targets (HummingbirdTesting-style): loopback sockets, polling.
        .target(name: "TestSupport", path: "Tests/Support", swiftSettings: strict),
        // Allocation check: an executable with the allocator interposed, run by MediaTests.
        .target(name: "AllocationCounter", path: "Tests/AllocationCounter"),
        // tools/bench: CPU per packet of each forwarding action (plain, SRTP, transcoding).
        .executableTarget(name: "baton-media-actions-bench", dependencies: ["Media", "CBatonSys"],
                          path: "tools/bench/MediaActions", swiftSettings: strict),
        // tools/bench: STIR sign and verify rates on one core.
        .executableTarget(name: "baton-stir-bench", dependencies: [
            "Identity", "CBatonSys", .product(name: "Crypto", package: "swift-crypto"),
        ],
                          path: "tools/bench/STIR", swiftSettings: strict),
        // tools/bench and the interop tests: what a listener hears, aligned with the reference.
        .target(name: "AudioAnalysis", path: "tools/bench/AudioAnalysis", swiftSettings: strict),
        .executableTarget(name: "baton-audio-check", dependencies: ["AudioAnalysis"],
                          path: "tools/bench/AudioCheck", swiftSettings: strict),
        .executableTarget(name: "baton-alloc-check", dependencies: ["Media", "AllocationCounter", "CSRTP2"],
                          path: "Tests/AllocationCheck", swiftSettings: strict),
        // The committed fuzz corpus and every crash found, replayed through the targets.
        .testTarget(name: "FuzzTests", dependencies: ["FuzzTargets"], swiftSettings: strict),
        .testTarget(name: "SpeechTests", dependencies: ["Speech", "Media", "CSpanDSP"],
                    exclude: ["fixtures"], swiftSettings: strict),
        .testTarget(name: "MediaTests", dependencies: [
            "Media", "CORTP", "TestSupport", "baton-alloc-check",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
        ], swiftSettings: strict),
        .testTarget(name: "SIPTests", dependencies: [
            "SIP", .product(name: "NIOEmbedded", package: "swift-nio"),
        ], swiftSettings: strict),
        .testTarget(name: "IdentityTests", dependencies: [
            "Identity", .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),
        .testTarget(name: "StoreTests", dependencies: ["Store", "PostgresStore", "TestSupport", .product(name: "Logging", package: "swift-log")],
                    swiftSettings: strict),
        .testTarget(name: "PredictionTests", dependencies: ["Prediction", "Store", "ContactCenter"], swiftSettings: strict),
        .testTarget(name: "AudioAnalysisTests", dependencies: ["AudioAnalysis"], swiftSettings: strict),
        .testTarget(name: "ContactCenterTests", dependencies: ["ContactCenter", "Store"], swiftSettings: strict),
        .testTarget(name: "CallsTests", dependencies: [
            "Calls", "SIP", "Media", "Store", "TestSupport", "Identity", "Settings", .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], swiftSettings: strict),
        .testTarget(name: "ControlTests", dependencies: [
            "Control", "TestSupport", "Store", "Calls", "SIP", "Media", "ContactCenter", "Handoff", "Prediction", .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),
        .testTarget(name: "HandoffTests", dependencies: [
            "Handoff", "Calls", "SIP", "Media", "TestSupport", .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
        ], swiftSettings: strict),
        .testTarget(name: "BatonTests", dependencies: ["Baton", "SIP", "Media", "Control", "Handoff", "ContactCenter", "Settings", .product(name: "Configuration", package: "swift-configuration")], swiftSettings: strict),
        // Real peers (sipp, baresip, tcpdump) against the built `baton` executable.
        .testTarget(name: "InteropTests", dependencies: [
            "Baton", "Store", "TestSupport", "Media", "SIP", "AudioAnalysis",
            .product(name: "WSClient", package: "swift-websocket"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Tests/Interop",
                    exclude: ["fixtures"], swiftSettings: strict),
    ]
)
