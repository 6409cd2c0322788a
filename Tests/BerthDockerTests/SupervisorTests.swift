import BerthCore
import BerthPluginKit
import BerthPostgres
import BerthTestSupport
import Foundation
import Testing

/// The whole runtime core on real parts: the Docker plugin loaded by the PluginHost, a
/// container run to completion, and every state change and log line recorded in PostgreSQL.
@Suite("Supervisor on Docker and PostgreSQL", .postgresServer, .serialized)
struct SupervisorTests {
    @Test("a container runs to completion with its logs and every state change recorded")
    func runToCompletion() async throws {
        try await RuntimeFixture.with(hosts: [try RuntimeFixture.localHost()]) { runtime in
            let (store, plugins) = (runtime.store, runtime.plugins)
            let id = try await runtime.submitAndLaunch("echo hello; echo oops >&2; echo world")
            let execution = try await runtime.waitUntilTerminal(id)
            #expect(execution.state == .succeeded)
            #expect(execution.exitCode == 0)
            #expect(execution.startedAt != nil && execution.finishedAt != nil)
            let states = try await store.events(of: id, afterSeq: nil, limit: 100).map(\.toState)
            #expect(states == [.queued, .scheduled, .starting, .running, .succeeded])
            let logs = try await store.logs(LogQuery(executionID: id))
            let stdout = logs.filter { $0.stream == .stdout }.map { String(decoding: $0.bytes, as: UTF8.self) }.joined()
            let stderr = logs.filter { $0.stream == .stderr }.map { String(decoding: $0.bytes, as: UTF8.self) }.joined()
            #expect(stdout == "hello\nworld\n")
            #expect(stderr == "oops\n")
            let attempts = try await store.attempts(of: id)
            #expect(attempts.count == 1)
            #expect(attempts.first?.finishedAt != nil)
            // The finished container is removed right after its end is recorded.
            let docker = try await plugins.backend(forHost: "local")
            var remaining = -1
            for _ in 0..<100 {
                remaining = try await docker.list(labels: ["berth.execution": id.uuidString.lowercased()]).count
                if remaining == 0 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(remaining == 0)
        }
    }

    @Test("progress lines are seen while the container runs; the result after it ends")
    func progressAndResult() async throws {
        try await RuntimeFixture.with(hosts: [try RuntimeFixture.localHost()]) { runtime in
            let store = runtime.store
            let id = try await runtime.submitAndLaunch("""
                echo '::berth::progress {"step": 1, "of": 2}'; sleep 2
                echo '::berth::progress not json'
                echo '::berth::progress {"step": 2, "of": 2}'; sleep 2
                printf '::berth::result {"answer": 42}'
                """)
            var seenWhileRunning: [String: JSONValue]?
            for _ in 0..<200 {
                if let progress = try await store.report(.progress, of: id),
                   try await store.execution(id: id)?.state == .running {
                    seenWhileRunning = progress.body
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(seenWhileRunning?["of"] == 2, "progress should be visible while the execution runs")
            #expect(try await store.report(.result, of: id) == nil, "no result before the line is printed")
            let execution = try await runtime.waitUntilTerminal(id)
            #expect(execution.state == .succeeded)
            let stored = try await store.report(.result, of: id)
            let output = try await runtime.output(id)
            let result = try #require(stored, "output: \(output.debugDescription)")
            #expect(result.body == ["answer": 42])
            #expect(result.source == .stdout && result.attempt == 1)
            #expect(try await store.report(.progress, of: id)?.body == ["step": 2, "of": 2])
            // The report lines stay in the log, the bad one too.
            #expect(output.contains("::berth::progress not json\n") && output.hasSuffix("::berth::result {\"answer\": 42}"))
        }
    }

    @Test("a non-zero exit fails the execution with its exit code")
    func nonZeroExit() async throws {
        try await RuntimeFixture.with(hosts: [try RuntimeFixture.localHost()]) { runtime in
            let store = runtime.store
            let id = try await runtime.submitAndLaunch("echo before; exit 3")
            let execution = try await runtime.waitUntilTerminal(id)
            #expect(execution.state == .failed)
            #expect(execution.exitCode == 3)
            #expect(execution.error?.code == "exit_code")
            #expect(execution.stateReason == "exit code 3")
            let logs = try await store.logs(LogQuery(executionID: id))
            #expect(logs.map { String(decoding: $0.bytes, as: UTF8.self) } == ["before\n"])
        }
    }

    @Test("an image that cannot be found fails the execution with image_not_found")
    func imageNotFound() async throws {
        try await RuntimeFixture.with(hosts: [try RuntimeFixture.localHost()]) { runtime in
            let store = runtime.store
            let image = "\(try TestEnvironment.registry())/berth/missing:1"
            let id = try await runtime.submitAndLaunch("true", image: image)
            let execution = try await runtime.waitUntilTerminal(id)
            #expect(execution.state == .failed)
            #expect(execution.error?.code == "image_not_found")
            #expect(execution.error?.message.contains(image) == true)
            let states = try await store.events(of: id, afterSeq: nil, limit: 100).map(\.toState)
            #expect(states == [.queued, .scheduled, .starting, .failed])
        }
    }
}
