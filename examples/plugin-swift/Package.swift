// swift-tools-version:6.0
// An out-of-tree Berth backend plugin in Swift: local processes (examples/plugin-swift/README.md).
import Foundation
import PackageDescription

/// This package's folder, for the linker's version script.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path

let package = Package(
    name: "BerthProcessPlugin",
    platforms: [.macOS(.v15)],
    products: [
        // The plugin: one shared library, put in a plugin folder of the server.
        .library(name: "BerthProcess", type: .dynamic, targets: ["BerthProcess"]),
    ],
    dependencies: [
        // Berth itself, for its BerthPluginKit product. From this checkout here; elsewhere:
        // .package(url: "https://github.com/<owner>/berth.git", from: "0.3.0")
        .package(name: "Berth", path: "../.."),
    ],
    targets: [
        .target(
            name: "BerthProcess",
            dependencies: [.product(name: "BerthPluginKit", package: "Berth")],
            swiftSettings: [.swiftLanguageMode(.v6)],
            // Export only berth_plugin_v1, and bind the plugin's own symbols first, so it never
            // runs the host's copy of a module both link (docs/architecture.md, "Linking").
            linkerSettings: [.unsafeFlags([
                "-Xlinker", "-Bsymbolic", "-Xlinker", "--version-script=\(packageRoot)/plugin.exports",
            ])]
        ),
    ]
)
