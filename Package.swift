// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "himmes",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "himmes", targets: ["himmes"]),
        .executable(name: "himmes-bench", targets: ["himmes-bench"]),
        .library(name: "VibrationCore", targets: ["VibrationCore"]),
        .library(name: "VibrationStore", targets: ["VibrationStore"]),
        .library(name: "VibrationServer", targets: ["VibrationServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: ["YAML"]),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-openapi-generator.git", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird.git", from: "2.1.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        // Only the browser tests use it: they drive headless Chromium over the DevTools protocol.
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.2"),
    ],
    targets: [
        // The domain's number crunching (parsers, spectra, the rotor model the tests simulate) is
        // optimized in debug builds too: unoptimized, the suite spends minutes in it.
        .target(name: "VibrationCore", swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        .target(name: "CSQLiteSettings", linkerSettings: [.linkedLibrary("sqlite3")]),
        .target(
            name: "VibrationStore",
            dependencies: [
                "VibrationCore",
                "CSQLiteSettings",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Between the store and its users: loading files and streams, exporting, and the engine's
        // service, used by the server and the command line alike.
        .target(
            name: "VibrationPipeline",
            dependencies: [
                "VibrationCore",
                "VibrationStore",
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "VibrationServer",
            dependencies: [
                "VibrationCore",
                "VibrationStore",
                "VibrationPipeline",
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            resources: [
                .embedInCode("openapi.yaml"),
                .embedInCode("Dashboard/layout.mustache"),
                .embedInCode("Dashboard/board.mustache"),
                .embedInCode("Dashboard/data.mustache"),
                .embedInCode("Dashboard/diagnosis.mustache"),
                .embedInCode("Dashboard/timeline.mustache"),
                .embedInCode("Dashboard/machine.mustache"),
                .embedInCode("Dashboard/login.mustache"),
                .embedInCode("Dashboard/machine.js"),
                .embedInCode("Dashboard/app.css"),
                .embedInCode("Dashboard/app.js"),
            ],
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
        .executableTarget(
            name: "himmes",
            dependencies: [
                "VibrationCore",
                "VibrationStore",
                "VibrationPipeline",
                "VibrationServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Labelled windows from two sources (the additive generator and a rotor model) and the
        // classifier's benchmark on them: for `himmes-bench diagnose` and the tests, not the product.
        .target(name: "VibrationBenchmarks", dependencies: ["VibrationCore"], swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        // The benchmarks, beside the product: they run the `himmes` binary next to them.
        .executableTarget(
            name: "himmes-bench",
            dependencies: [
                "VibrationCore",
                "VibrationBenchmarks",
                "VibrationStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "VibrationCoreTests", dependencies: ["VibrationCore", "VibrationBenchmarks"]),
        // What the store and server tests share: a fresh store of each backend.
        .target(
            name: "StoreTestSupport",
            dependencies: [
                "VibrationCore", "VibrationStore", .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/StoreTestSupport"),
        .testTarget(
            name: "HimmesTests",
            dependencies: [
                "himmes", "VibrationCore", "StoreTestSupport", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "VibrationStoreTests",
            dependencies: [
                "VibrationStore", "StoreTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "VibrationServerTests",
            dependencies: [
                "VibrationServer",
                "VibrationStore",
                "StoreTestSupport",
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "DashboardBrowserTests",
            dependencies: [
                "VibrationCore",
                "VibrationStore",
                "VibrationServer",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "WSClient", package: "swift-websocket"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
