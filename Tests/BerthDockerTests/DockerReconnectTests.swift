import BerthPluginKit
import BerthTestSupport
import Foundation
import Testing

/// The engine going away and coming back, for real: the plugin reaches the test engine through
/// a `socat` proxy on its own socket, and the test stops and restarts the proxy.
@Suite("Docker plugin when the engine goes away", .serialized)
struct DockerReconnectTests {
    /// A unix-socket proxy to the test engine.
    final class EngineProxy {
        let path: String
        private let target: String
        private var process: Process?

        init(target: String) {
            self.target = target
            self.path = "/tmp/berth-proxy-\(TestEnvironment.uniqueID().prefix(8)).sock"
        }

        func start() throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["socat", "UNIX-LISTEN:\(path),fork,unlink-early", "UNIX-CONNECT:\(target)"]
            try process.run()
            self.process = process
            for _ in 0..<100 where !FileManager.default.fileExists(atPath: path) {
                Thread.sleep(forTimeInterval: 0.02)
            }
        }

        /// Kills the proxy and every connection it carries.
        func stop() {
            guard let process else { return }
            // socat forks one child per connection, which would keep the connections open: end
            // the listener and every child at once. (They share the listener's command line.)
            let pkill = Process()
            pkill.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            pkill.arguments = ["pkill", "-KILL", "-f", "UNIX-LISTEN:\(path)"]
            try? pkill.run()
            pkill.waitUntilExit()
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: path)
            self.process = nil
        }

        deinit { stop() }
    }

    private func next(
        _ iterator: inout AsyncThrowingStream<BackendEvent, any Error>.AsyncIterator,
        where match: (BackendEvent) -> Bool
    ) async throws -> BackendEvent? {
        while let event = try await iterator.next() {
            if match(event) { return event }
        }
        return nil
    }

    @Test("events report the loss, reconnect with backoff, and miss no transition")
    func reconnects() async throws {
        let proxy = EngineProxy(target: try TestEnvironment.dockerSocket())
        try proxy.start()
        defer { proxy.stop() }
        let server = "berth-test-" + TestEnvironment.uniqueID()
        let docker = try await TestPlugins.open(
            library: "libBerthDocker.so", settings: ["socket_path": .string(proxy.path)], server: server)
        // A second instance of the same server, straight on the engine, runs a container while
        // the proxy is down.
        let direct = try await DockerFixture.open(server: server)
        var events = docker.events().makeAsyncIterator()
        let connected = try await next(&events) { if case .connection(true, _) = $0 { true } else { false } }
        #expect(connected != nil)

        proxy.stop()
        let lost = try await next(&events) { if case .connection(false, _) = $0 { true } else { false } }
        guard case .connection(false, let message)? = lost else {
            Issue.record("no loss reported")
            return
        }
        #expect(message.contains(proxy.path))
        let health = try await docker.health()
        #expect(health.ok == false)
        #expect(health.message.contains(proxy.path))
        let error = await #expect(throws: PluginError.self) { _ = try await docker.list(labels: [:]) }
        #expect(error?.code == .unavailable)

        // While it is down, a container of this server starts and ends on the engine.
        let (missed, _) = try await direct.run(DockerFixture.shell("exit 5"))

        try proxy.start()
        let back = try await next(&events) { if case .connection(true, _) = $0 { true } else { false } }
        #expect(back != nil)
        // The transition that happened while disconnected is delivered after the reconnect.
        let exited = try await next(&events) {
            if case .status(let handle, _, let status) = $0, handle.id == missed.id, status.state == .exited { true } else { false }
        }
        guard case .status(_, _, let status)? = exited else {
            Issue.record("the exit during the outage was not reported")
            return
        }
        #expect(status.exitCode == 5)
        #expect(try await docker.health().ok)
        try await direct.backend.remove(missed)
        await docker.close()
    }
}
