import BerthPluginKit
import BerthTestSupport
import Testing

/// An open Docker plugin instance on a test engine, with helpers to run one attempt.
struct DockerFixture {
    /// Which engine, through which plugin.
    enum Engine: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// The test engine over its unix socket (`docker` plugin).
        case local
        /// The second engine over the test sshd (`docker-ssh` plugin).
        case ssh

        var testDescription: String { rawValue }
    }

    let backend: PluginInstance
    let server: String

    /// Opens the plugin for `engine`; `extra` adds settings.
    static func open(
        _ engine: Engine = .local, _ extra: [String: JSONValue] = [:], server: String = "berth-test-" + TestEnvironment.uniqueID()
    ) async throws -> DockerFixture {
        var settings: [String: JSONValue]
        let library: String
        switch engine {
        case .local:
            settings = ["socket_path": .string(try TestEnvironment.dockerSocket())]
            library = "libBerthDocker.so"
        case .ssh:
            settings = try TestEnvironment.dockerSSHSettings()
            library = "libBerthDockerSSH.so"
        }
        settings.merge(extra) { _, new in new }
        let backend = try await TestPlugins.open(
            library: library, host: engine.rawValue, settings: .object(settings), server: server)
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
