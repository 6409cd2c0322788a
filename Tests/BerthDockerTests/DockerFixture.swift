import BerthPluginKit
import BerthTestSupport

/// An open Docker plugin instance on the test engine, with helpers to run one attempt.
struct DockerFixture {
    let backend: PluginInstance
    let server: String

    /// Opens the Docker plugin on the test engine; `extra` adds settings.
    static func open(_ extra: [String: JSONValue] = [:], server: String = "berth-test-" + TestEnvironment.uniqueID()) async throws -> DockerFixture {
        var settings: [String: JSONValue] = ["socket_path": .string(try TestEnvironment.dockerSocket())]
        settings.merge(extra) { _, new in new }
        let backend = try await TestPlugins.open(
            library: "libBerthDocker.so", host: "local", settings: .object(settings), server: server)
        return DockerFixture(backend: backend, server: server)
    }

    /// A spec running `script` with busybox `sh -c`.
    static func shell(_ script: String, image: String = TestEnvironment.localImage, pull: ExecutionSpec.PullPolicy? = nil) -> ExecutionSpec {
        ExecutionSpec(
            executionID: TestEnvironment.uniqueID(), image: image, args: ["sh", "-c", script], pullPolicy: pull)
    }

    /// Starts `spec`, waits for it to end, and removes the container.
    func run(_ spec: ExecutionSpec) async throws -> (RuntimeHandle, RuntimeStatus) {
        let handle = try await backend.start(spec)
        let status = try await TestPlugins.waitUntilFinal(backend, handle)
        return (handle, status)
    }
}
