import BerthPluginKit
import BerthTestSupport
import Testing

/// Pulls from the real test registries, with and without credentials (by each engine: local, and
/// remote over SSH), and the errors a user gets when an image or the engine is missing.
@Suite("Docker plugin images and errors", .serialized, .sshd)
struct DockerImageTests {
    @Test("pulls from the open registry", arguments: DockerFixture.Engine.allCases)
    func pullOpenRegistry(engine: DockerFixture.Engine) async throws {
        let docker = try await DockerFixture.open(engine)
        let image = "\(try TestEnvironment.registry())/berth/busybox:1"
        let (handle, status) = try await docker.run(DockerFixture.shell("echo pulled", image: image, pull: .always))
        #expect(status.exitCode == 0)
        let output = try await TestPlugins.collect(docker.backend.logs(LogRequest(handle: handle)))
        #expect(output.map(\.text) == ["pulled\n"])
        try await docker.backend.remove(handle)
    }

    @Test("pulls from the authenticated registry with credentials", arguments: DockerFixture.Engine.allCases)
    func pullWithCredentials(engine: DockerFixture.Engine) async throws {
        let registry = try TestEnvironment.authRegistry()
        let docker = try await DockerFixture.open(engine, [
            "registry_auth": [
                registry: [
                    "username": .string(try TestEnvironment.registryUser()),
                    "password": .string(try TestEnvironment.registryPassword()),
                ]
            ]
        ])
        let (handle, status) = try await docker.run(
            DockerFixture.shell("exit 0", image: "\(registry)/berth/private:1", pull: .always))
        #expect(status.exitCode == 0)
        try await docker.backend.remove(handle)
    }

    @Test("the authenticated registry refuses anonymous pulls with permission_denied", arguments: DockerFixture.Engine.allCases)
    func pullWithoutCredentials(engine: DockerFixture.Engine) async throws {
        let registry = try TestEnvironment.authRegistry()
        let docker = try await DockerFixture.open(engine)
        let image = "\(registry)/berth/private:1"
        let error = await #expect(throws: PluginError.self) {
            _ = try await docker.backend.start(DockerFixture.shell("true", image: image, pull: .always))
        }
        #expect(error?.code == .permissionDenied)
        #expect(error?.message.contains(image) == true)
    }

    @Test("wrong credentials are permission_denied and the password is not in the message", arguments: DockerFixture.Engine.allCases)
    func pullWithWrongCredentials(engine: DockerFixture.Engine) async throws {
        let registry = try TestEnvironment.authRegistry()
        let password = "not-the-password-\(TestEnvironment.uniqueID())"
        let docker = try await DockerFixture.open(engine, [
            "registry_auth": [registry: ["username": .string(try TestEnvironment.registryUser()), "password": .string(password)]]
        ])
        let error = await #expect(throws: PluginError.self) {
            _ = try await docker.backend.start(
                DockerFixture.shell("true", image: "\(registry)/berth/private:1", pull: .always))
        }
        #expect(error?.code == .permissionDenied)
        #expect(error?.message.contains(password) == false)
    }

    @Test("an image that does not exist is image_not_found naming it", arguments: DockerFixture.Engine.allCases)
    func imageNotFound(engine: DockerFixture.Engine) async throws {
        let docker = try await DockerFixture.open(engine)
        let image = "\(try TestEnvironment.registry())/berth/does-not-exist:1"
        let error = await #expect(throws: PluginError.self) {
            _ = try await docker.backend.start(DockerFixture.shell("true", image: image))
        }
        #expect(error?.code == .imageNotFound)
        #expect(error?.message.contains(image) == true)
    }

    @Test("pull policy never refuses an image the engine lacks", arguments: DockerFixture.Engine.allCases)
    func pullPolicyNever(engine: DockerFixture.Engine) async throws {
        let docker = try await DockerFixture.open(engine, ["pull_policy": "never"])
        let image = "\(try TestEnvironment.registry())/berth/busybox:never-pulled"
        let error = await #expect(throws: PluginError.self) {
            _ = try await docker.backend.start(DockerFixture.shell("true", image: image))
        }
        #expect(error?.code == .imageNotFound)
    }

    @Test("a missing socket is unavailable, naming the path; health says so")
    func missingSocket() async throws {
        let path = "/tmp/berth-no-such-socket-\(TestEnvironment.uniqueID()).sock"
        let backend = try await TestPlugins.open(
            library: "libBerthDocker.so", settings: ["socket_path": .string(path)])
        let health = try await backend.health()
        #expect(health.ok == false)
        #expect(health.message.contains(path))
        let error = await #expect(throws: PluginError.self) {
            _ = try await backend.start(DockerFixture.shell("true"))
        }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains(path) == true)
        #expect(error?.retryable == true)
    }

    @Test("bad settings are invalid_config naming the key")
    func badSettings() async throws {
        let plugin = try LoadedPlugin.load(file: TestEnvironment.pluginFolder + "/libBerthDocker.so")
        let error = await #expect(throws: PluginError.self) {
            _ = try await plugin.open(settings: ["socket_path": 42], host: "local", server: "s")
        }
        #expect(error?.code == .invalidConfig)
        #expect(error?.message.contains("socket_path") == true)
        let unknown = await #expect(throws: PluginError.self) {
            _ = try await plugin.open(settings: ["sokcet_path": "/x"], host: "local", server: "s")
        }
        #expect(unknown?.message.contains("sokcet_path") == true)
    }

    @Test("a spec that does not decode is invalid_spec naming the field")
    func badSpec() async throws {
        let docker = try await DockerFixture.open()
        let spec = ExecutionSpec(executionID: "x", image: "not a reference")
        let error = await #expect(throws: PluginError.self) { _ = try await docker.backend.start(spec) }
        #expect(error?.code == .invalidSpec)
    }
}
