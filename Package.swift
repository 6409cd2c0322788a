// swift-tools-version:6.0
import Foundation
import PackageDescription

/// Strictness shared by every Swift target.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// The package's own folder, for paths the linker needs.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path

/// A plugin exports `berth_plugin_v1` and nothing else, and binds its own symbols first, so it
/// never runs the host's copy of a module both of them link (docs/architecture.md, "Linking").
let pluginLinkerSettings: [LinkerSetting] = [
    .unsafeFlags([
        "-Xlinker", "-Bsymbolic",
        "-Xlinker", "--version-script=\(packageRoot)/Plugins/plugin.exports",
    ]),
]

let package = Package(
    name: "Berth",
    platforms: [.macOS(.v15)],
    products: [
        // For plugin authors: the ABI header alone (a C plugin), and the Swift kit on top of it
        // (docs/plugins.md; examples/plugin-c, examples/plugin-swift).
        .library(name: "CBerthPlugin", targets: ["CBerthPlugin"]),
        .library(name: "BerthPluginKit", targets: ["BerthPluginKit"]),
        .library(name: "BerthCore", targets: ["BerthCore"]),
        .library(name: "BerthPostgres", targets: ["BerthPostgres"]),
        .executable(name: "berth", targets: ["berth"]),
        // Backend plugins: one shared library each, loaded at run time by the PluginHost.
        .library(name: "BerthDocker", type: .dynamic, targets: ["BerthDocker"]),
        .library(name: "BerthDockerSSH", type: .dynamic, targets: ["BerthDockerSSH"]),
        .library(name: "BerthKubernetes", type: .dynamic, targets: ["BerthKubernetes"]),
        .library(name: "BerthSimulated", type: .dynamic, targets: ["BerthSimulated"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        // SHA-256 of API token secrets (and AES-GCM for secret values).
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        // TLS for the API (optional) and the Kubernetes API double in the tests.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // Graceful shutdown reaching long-lived answers (event streams).
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // NIOCore for the API's channel handler; NIOHTTP1 for the HTTP parser's errors.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // NIOHTTPTypes: the request parts a channel handler of the API sees (RequestReadDeadline).
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        // Metrics: recorded through swift-metrics, served by `GET /metrics` in Prometheus's format.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // The plugin ABI: one C header, the only thing plugins and host share.
        .target(name: "CBerthPlugin"),
        .target(
            name: "BerthPluginKit",
            dependencies: ["CBerthPlugin"],
            swiftSettings: swiftSettings
        ),
        // Tar archives: input files placed in containers, outputs collected from them.
        .target(name: "TarFormat", swiftSettings: swiftSettings),
        // The conformance suite any plugin must pass (`berth plugin conformance`).
        .target(
            name: "BerthConformance",
            dependencies: ["BerthPluginKit", "BerthCore"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BerthCore",
            dependencies: [
                "BerthPluginKit", "TarFormat",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .target(
            name: "BerthPostgres",
            dependencies: [
                "BerthCore",
                "BerthPluginKit",
                "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.embedInCode("Migrations")],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // libssh2, for the Docker-over-SSH plugin (docs/docker-ssh.md).
        .systemLibrary(
            name: "CSSH2",
            pkgConfig: "libssh2",
            providers: [.apt(["libssh2-1-dev"])]
        ),
        // SSH sessions and exec channels on libssh2, one thread per session.
        .target(
            name: "SSHTransport",
            dependencies: ["BerthHTTP", "BerthPluginKit", "CSSH2"],
            swiftSettings: swiftSettings
        ),
        // HTTP value types and the transport protocol that engine clients are written against.
        .target(
            name: "BerthHTTP",
            dependencies: ["BerthPluginKit"],
            swiftSettings: swiftSettings
        ),
        // An HTTPTransport on libcurl (unix sockets, TCP, TLS), one multi loop per transport.
        .target(
            name: "CurlHTTP",
            dependencies: ["BerthHTTP", "BerthPluginKit", "CCurl"],
            swiftSettings: swiftSettings
        ),
        // Kubernetes API: credentials (kubeconfig, in-cluster), Jobs, pods, watches, logs.
        .target(
            name: "KubernetesAPI",
            dependencies: ["BerthPluginKit", "BerthHTTP", "BerthYAML", "CurlHTTP"],
            swiftSettings: swiftSettings
        ),
        // Docker Engine API client over any HTTPTransport, shared by the Docker plugins.
        .target(
            name: "DockerEngine",
            dependencies: ["BerthPluginKit", "BerthHTTP", "TarFormat"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BerthDocker",
            dependencies: ["BerthPluginKit", "BerthHTTP", "DockerEngine", "CurlHTTP"],
            path: "Plugins/Docker",
            swiftSettings: swiftSettings,
            linkerSettings: pluginLinkerSettings
        ),
        // A remote Docker engine over SSH channels running `docker system dial-stdio`.
        .target(
            name: "BerthDockerSSH",
            dependencies: ["BerthPluginKit", "BerthHTTP", "DockerEngine", "SSHTransport"],
            path: "Plugins/DockerSSH",
            swiftSettings: swiftSettings,
            linkerSettings: pluginLinkerSettings
        ),
        // Kubernetes: each attempt a Job, over HTTPS with kubeconfig or in-cluster credentials.
        .target(
            name: "BerthKubernetes",
            dependencies: ["BerthPluginKit", "KubernetesAPI"],
            path: "Plugins/Kubernetes",
            swiftSettings: swiftSettings,
            linkerSettings: pluginLinkerSettings
        ),
        // Written in C on purpose: proves the ABI is language-neutral.
        .target(
            name: "BerthSimulated",
            dependencies: ["CBerthPlugin"],
            path: "Plugins/Simulated",
            linkerSettings: pluginLinkerSettings
        ),
        // YAML documents as JSON values (the configuration file, kubeconfigs).
        .target(
            name: "BerthYAML",
            dependencies: ["BerthPluginKit", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        // Secret values at rest: AES-256-GCM with the deployment's key.
        .target(
            name: "BerthSecrets",
            dependencies: ["BerthCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The configuration file (YAML) and its environment overrides.
        .target(
            name: "BerthConfiguration",
            dependencies: ["BerthCore", "BerthPluginKit", "BerthYAML"],
            swiftSettings: swiftSettings
        ),
        // REST API (Hummingbird 2), problem details, OpenAPI document.
        .target(
            name: "BerthServer",
            dependencies: [
                "BerthCore", "BerthPluginKit", "BerthHTTP", "BerthYAML", "CurlHTTP",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            // The dashboard's page, script and style sheet, compiled into the binary as bytes.
            resources: [.embedInCode("Dashboard/Assets")],
            swiftSettings: swiftSettings
        ),
        // REST client used by the CLI, on the libcurl transport.
        .target(
            name: "BerthClient",
            dependencies: ["BerthHTTP", "BerthPluginKit", "CurlHTTP"],
            swiftSettings: swiftSettings
        ),
        // The one executable: `berth serve` and the client commands.
        .executableTarget(
            name: "berth",
            dependencies: [
                "BerthClient", "BerthConfiguration", "BerthConformance", "BerthCore", "BerthPluginKit", "BerthPostgres", "BerthSecrets",
                "BerthServer", "BerthYAML",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // Helpers shared by the test targets: the test services' environment, plugin loading.
        .target(
            name: "BerthTestSupport",
            dependencies: [
                "BerthCore", "BerthPluginKit", "BerthPostgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // Benchmark: one `inspect` through the C ABI against a direct Swift call (bench/run.sh).
        .executableTarget(
            name: "BerthBench",
            dependencies: ["BerthPluginKit", "BerthCore"],
            path: "bench/BerthBench",
            swiftSettings: swiftSettings
        ),
        // Benchmark: submit → running over SSH against the Docker CLI (bench/docker-ssh.sh).
        .executableTarget(
            name: "DockerSSHBench",
            dependencies: [
                "BerthPluginKit", "BerthCore", "BerthPostgres", "BerthTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/DockerSSHBench",
            swiftSettings: swiftSettings
        ),
        // Benchmarks of issue 9: Berth against raw Docker and its goals, one table (bench/perf.sh).
        .executableTarget(
            name: "BerthPerf",
            dependencies: ["BerthClient", "BerthHTTP", "BerthPluginKit", "BerthPostgres", "BerthTestSupport", "CurlHTTP"],
            path: "bench/Perf",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BerthPluginKitTests",
            dependencies: ["BerthPluginKit"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BerthCoreTests",
            dependencies: ["BerthCore", "BerthPluginKit", "BerthTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BerthPostgresTests",
            dependencies: [
                "BerthPostgres",
                "BerthTestSupport",
                "BerthCore",
                "BerthPluginKit",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BerthDockerTests",
            dependencies: [
                "BerthCore", "BerthPluginKit", "BerthPostgres", "BerthSecrets", "BerthTestSupport", "DockerEngine", "TarFormat",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BerthServerTests",
            dependencies: [
                "BerthServer", "BerthClient", "BerthCore", "BerthHTTP", "BerthPluginKit", "BerthPostgres", "BerthSecrets",
                "BerthTestSupport", "CurlHTTP",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SSHTransportTests",
            dependencies: ["SSHTransport", "BerthHTTP", "BerthPluginKit", "BerthTestSupport"],
            swiftSettings: swiftSettings
        ),
        // A Kubernetes API server double for the tests: the real wire format over HTTPS, pods
        // run as containers on the real test Docker engine (docs/kubernetes.md, "Testing").
        .target(
            name: "KubernetesDouble",
            dependencies: [
                "BerthPluginKit", "BerthHTTP", "CurlHTTP", "DockerEngine", "TarFormat",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/KubernetesDouble",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KubernetesTests",
            dependencies: [
                "KubernetesAPI", "KubernetesDouble", "BerthCore", "BerthPluginKit", "BerthPostgres", "BerthTestSupport", "CurlHTTP",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TarFormatTests", dependencies: ["TarFormat"], swiftSettings: swiftSettings),
        .testTarget(name: "BerthHTTPTests", dependencies: ["BerthHTTP", "BerthPluginKit"], swiftSettings: swiftSettings),
        .testTarget(
            name: "BerthCLITests",
            dependencies: ["BerthClient", "BerthConfiguration", "BerthPluginKit", "BerthPostgres", "BerthTestSupport", "BerthYAML", "berth"],
            swiftSettings: swiftSettings
        ),
    ]
)
