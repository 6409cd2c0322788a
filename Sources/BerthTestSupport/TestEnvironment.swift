import BerthCore
public import BerthPluginKit
import Foundation

/// What the test services (`scripts/test-services.sh up`) tell the tests through the
/// environment. A missing variable is a failure that says how to start the services, never a
/// silent skip.
public enum TestEnvironment {
    /// Why a test cannot run.
    public struct Missing: Error, CustomStringConvertible {
        /// The variable that is not set.
        public let variable: String
        public var description: String {
            "\(variable) is not set: start the test services with `scripts/test-services.sh up` and `source` the env file it prints, or run `scripts/test.sh`"
        }
    }

    /// The value of `variable`.
    public static func require(_ variable: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else {
            throw Missing(variable: variable)
        }
        return value
    }

    /// The socket of the test Docker engine.
    public static func dockerSocket() throws -> String { try require("BERTH_TEST_DOCKER_SOCKET") }
    /// The open test registry (`127.0.0.1:55000`).
    public static func registry() throws -> String { try require("BERTH_TEST_REGISTRY") }
    /// The test registry that wants credentials.
    public static func authRegistry() throws -> String { try require("BERTH_TEST_AUTH_REGISTRY") }
    /// The user of the authenticated registry.
    public static func registryUser() throws -> String { try require("BERTH_TEST_REGISTRY_USER") }
    /// The password of the authenticated registry.
    public static func registryPassword() throws -> String { try require("BERTH_TEST_REGISTRY_PASSWORD") }

    /// The image the test engine has locally (made by `docker import`).
    public static let localImage = "berth-test/busybox:1"

    /// The folder the plugin libraries are built into: the test binary's own folder.
    public static var pluginFolder: String { PluginHost.executableFolder }

    /// A unique id for labels and names.
    public static func uniqueID() -> String { UUID().uuidString.lowercased() }
}

/// Opens single plugin instances for tests, the way the server does.
public enum TestPlugins {
    /// Loads the plugin library named `library` (`libBerthDocker.so`) from the build folder and
    /// opens one instance with `settings`.
    public static func open(
        library: String, host: String = "test", settings: JSONValue, server: String = "berth-test"
    ) async throws -> PluginInstance {
        let plugin = try LoadedPlugin.load(file: TestEnvironment.pluginFolder + "/" + library)
        let violations = SettingsSchema(plugin.settingsSchema).violations(of: settings)
        guard violations.isEmpty else { throw PluginError(.invalidConfig, violations.joined(separator: "; ")) }
        return try await plugin.open(settings: settings, host: host, server: server)
    }

    /// Polls `inspect` until the attempt's status is final or `timeout` passes.
    public static func waitUntilFinal(
        _ backend: any Backend, _ handle: RuntimeHandle, timeout: Duration = .seconds(30)
    ) async throws -> RuntimeStatus {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            let status = try await backend.inspect(handle)
            if status.isFinal { return status }
            guard clock.now < deadline else {
                throw PluginError(.timeout, "attempt \(handle) still \(status.state) after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    /// Every chunk of a log stream, until it ends.
    public static func collect(_ stream: PluginStream<LogChunk>) async throws -> [LogChunk] {
        var chunks: [LogChunk] = []
        for try await chunk in stream { chunks.append(chunk) }
        return chunks
    }
}
