import BerthTestSupport
import Foundation
import Testing

/// The out-of-tree plugin examples build on their own, as their READMEs say, and pass the
/// conformance suite.
@Suite("examples/")
struct ExamplePluginTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `berth plugin conformance` on `library` (which ignores the image) and checks every check passed.
    func conforms(_ library: String) async throws {
        let settings = FileManager.default.temporaryDirectory.appendingPathComponent("example-\(UUID().uuidString).yaml").path
        try "max_concurrent: 4\n".write(toFile: settings, atomically: true, encoding: .utf8)
        let run = try await Subprocess.berth(["plugin", "conformance", library, "--settings", settings, "--image", "unused"], timeout: 300)
        print("berth plugin conformance \(library):\n\(run.stdout)")
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("14 passed, 0 failed, 0 skipped"), "\(run.stdout)")
    }

    @Test("examples/plugin-swift builds as a package of its own on the BerthPluginKit product and conforms", .timeLimit(.minutes(15)))
    func swiftExample() async throws {
        let scratch = Self.root.appendingPathComponent(".build-example-swift").path
        let build = try await Subprocess(
            "/usr/bin/env", ["swift", "build", "--package-path", Self.root.appendingPathComponent("examples/plugin-swift").path, "--scratch-path", scratch]
        ).wait(timeout: 900)
        try #require(build.status == 0, "\(build.stdout.suffix(4000))\n\(build.stderr.suffix(4000))")
        try await conforms(scratch + "/debug/libBerthProcess.so")
    }

    @Test("examples/plugin-c builds with its Makefile on the header alone and conforms")
    func cExample() async throws {
        let out = try temporaryFolder("berth-example-c")
        defer { try? FileManager.default.removeItem(at: out) }
        let build = try await Subprocess(
            "/usr/bin/make", ["-C", Self.root.appendingPathComponent("examples/plugin-c").path, "OUT=\(out.path)"]
        ).wait(timeout: 300)
        try #require(build.status == 0, "\(build.stdout)\n\(build.stderr)")
        let exported = try await Subprocess("/usr/bin/nm", ["-D", "--defined-only", out.path + "/libBerthProcessC.so"]).wait(timeout: 60)
        #expect(exported.stdout.split(separator: "\n").filter { $0.contains(" T ") }.map { $0.split(separator: " ").last } == ["berth_plugin_v1"])
        try await conforms(out.path + "/libBerthProcessC.so")
    }
}
