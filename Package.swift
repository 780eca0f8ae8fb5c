// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "algoqueue",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "algoqueue", targets: ["algoqueue"]),
        .executable(name: "algoqueue-bench", targets: ["algoqueue-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // librdkafka from the system (Debian: librdkafka-dev).
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        // Small helpers every module shares (durations).
        .target(name: "AlgoqueueSupport"),
        // Consumer, producer, configuration and the development broker over librdkafka.
        .target(
            name: "AlgoqueueKafka",
            dependencies: [
                "CRdKafka",
                "AlgoqueueSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The SQLite results store: migrations, rows, offsets.
        .target(
            name: "AlgoqueueStore",
            dependencies: [
                "AlgoqueueSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Target algorithms: what one call to a model looks like.
        .target(
            name: "AlgoqueueAlgorithms",
            dependencies: [
                "AlgoqueueSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A small HTTP/1.1 server on loopback: serves the demo algorithm, metrics and health.
        .target(
            name: "AlgoqueueHTTPServer",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The built-in demo algorithm and its sample inputs.
        .target(
            name: "AlgoqueueDemo",
            dependencies: ["AlgoqueueHTTPServer"]
        ),
        // Running as a service: systemd notifications, metrics and health endpoints.
        .target(
            name: "AlgoqueueOperations",
            dependencies: [
                "AlgoqueueHTTPServer",
                "AlgoqueuePipeline",
                "AlgoqueueSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The configuration file, its defaults and its validation.
        .target(
            name: "AlgoqueueConfig",
            dependencies: [
                "AlgoqueueFlowControl",
                "AlgoqueueResultsTopic",
                "AlgoqueueSupport",
                "AlgoqueueKafka",
                "AlgoqueueStore",
                "AlgoqueueAlgorithms",
                "AlgoqueuePipeline",
                "AlgoqueueOperations",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Flow control: when a call may start (intake, concurrency limits, rate limits, circuit breaker, retries).
        .target(
            name: "AlgoqueueFlowControl",
            dependencies: [
                "AlgoqueueAlgorithms",
                "AlgoqueueSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The results topic: row messages, the outbox publisher, batch completion events, and collect.
        .target(
            name: "AlgoqueueResultsTopic",
            dependencies: [
                "AlgoqueueKafka",
                "AlgoqueueStore",
                "AlgoqueueSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The writer: one SQLite writer with group commit, and the offsets it makes durable (OffsetCommitter).
        .target(
            name: "AlgoqueueWriter",
            dependencies: [
                "AlgoqueueResultsTopic",
                "AlgoqueueKafka",
                "AlgoqueueStore",
                "AlgoqueueSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The service: consume, call, store, commit.
        .target(
            name: "AlgoqueuePipeline",
            dependencies: [
                "AlgoqueueFlowControl",
                "AlgoqueueWriter",
                "AlgoqueueResultsTopic",
                "AlgoqueueKafka",
                "AlgoqueueStore",
                "AlgoqueueAlgorithms",
                "AlgoqueueSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The command line: parses options and wires services together.
        .executableTarget(
            name: "algoqueue",
            dependencies: [
                "AlgoqueueResultsTopic",
                "AlgoqueueKafka",
                "AlgoqueueStore",
                "AlgoqueueAlgorithms",
                "AlgoqueueDemo",
                "AlgoqueueHTTPServer",
                "AlgoqueueOperations",
                "AlgoqueueConfig",
                "AlgoqueuePipeline",
                "AlgoqueueSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The throughput benchmark: a program that prints figures and ratios against references.
        .executableTarget(
            name: "algoqueue-bench",
            dependencies: [
                "AlgoqueueResultsTopic",
                "AlgoqueueKafka",
                "AlgoqueuePipeline",
                "AlgoqueueStore",
                "AlgoqueueAlgorithms",
                "AlgoqueueHTTPServer",
                "AlgoqueueSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "AlgoqueueTests",
            dependencies: [
                "AlgoqueueSupport",
                "AlgoqueueKafka",
                "AlgoqueueStore",
                "AlgoqueueAlgorithms",
                "AlgoqueueDemo",
                "AlgoqueueHTTPServer",
                "AlgoqueueOperations",
                "AlgoqueueConfig",
                "AlgoqueueFlowControl",
                "AlgoqueuePipeline",
                "AlgoqueueWriter",
                "AlgoqueueResultsTopic",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)
