import BerthCore
import BerthPluginKit
import BerthPostgres
import BerthTestSupport
import Foundation
import TarFormat
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

    @Test("the inline config is in the container; /berth/out comes back byte for byte, its result.json as the result", .sshd, arguments: DockerFixture.Engine.allCases)
    func inputsAndOutputs(engine: DockerFixture.Engine) async throws {
        let host = engine == .local ? try RuntimeFixture.localHost() : try RuntimeFixture.remoteHost()
        try await RuntimeFixture.with(hosts: [host]) { runtime in
            let store = runtime.store
            let id = try await runtime.submitAndLaunch("""
                cat /berth/in/config.json
                mkdir -p /berth/out/sub
                seq 1 20000 > /berth/out/sub/numbers.txt
                printf '\\000\\001\\377binary' > /berth/out/bin.dat
                echo '{"from": "file", "n": 3}' > /berth/out/result.json
                """, host: host.name, config: #"{"alpha": 1, "name": "x y", "list": [true, null]}"#)
            let execution = try await runtime.waitUntilTerminal(id, timeout: .seconds(60))
            #expect(execution.state == .succeeded, "\(execution.stateReason ?? "")")
            let output = try await runtime.output(id)
            #expect(output.hasSuffix("}\n"), "the config file ends with a newline")
            let seen = try JSONValue(parsing: output.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(seen == ["alpha": 1, "name": "x y", "list": [true, nil]])

            let set = try #require(try await store.artifactSet(of: id))
            #expect(set.complete && set.error == nil && set.attempt == 1)
            var archive: [UInt8] = []
            var after = 0
            while case let chunks = try await store.artifactChunks(of: id, attempt: 1, afterSeq: after, limit: 10), !chunks.isEmpty {
                for chunk in chunks { archive += chunk.data; after = chunk.seq }
            }
            #expect(Int64(archive.count) == set.bytes)
            var scanner = TarScanner(maxContents: 1 << 20) { _ in true }
            let files = Dictionary(uniqueKeysWithValues: try scanner.feed(archive).filter(\.isFile).map { ($0.path, $0.contents ?? []) })
            #expect(files["out/sub/numbers.txt"] == Array((1...20000).map { "\($0)\n" }.joined().utf8))
            #expect(files["out/bin.dat"] == [0, 1, 255] + Array("binary".utf8))
            let result = try #require(try await store.report(.result, of: id))
            #expect(result.body == ["from": "file", "n": 3] && result.source == .file)
        }
    }

    @Test("outputs past max_artifact_bytes are not kept, and say why; a container without /berth/out has none")
    func outputsCap() async throws {
        var options = ExecutionSupervisor.Options()
        options.maxArtifactBytes = 10_000
        try await RuntimeFixture.with(hosts: [try RuntimeFixture.localHost()], options: options) { runtime in
            let big = try await runtime.submitAndLaunch("mkdir -p /berth/out; seq 1 100000 > /berth/out/big.txt")
            _ = try await runtime.waitUntilTerminal(big)
            let set = try #require(try await runtime.store.artifactSet(of: big))
            #expect(!set.complete && set.error?.contains("max_artifact_bytes") == true)
            #expect(try await runtime.store.artifactChunks(of: big, attempt: 1, afterSeq: 0, limit: 10).isEmpty)
            let none = try await runtime.submitAndLaunch("echo nothing to keep")
            #expect(try await runtime.waitUntilTerminal(none).state == .succeeded)
            #expect(try await runtime.store.artifactSet(of: none) == nil)
        }
    }

    @Test("keep leaves the finished container on its host until retention, then reconciliation removes it")
    func keepUntilRetention() async throws {
        var options = ExecutionSupervisor.Options()
        options.retention = .seconds(3)
        options.orphanGrace = .zero
        options.reconcileInterval = .milliseconds(300)
        try await RuntimeFixture.with(hosts: [try RuntimeFixture.localHost()], options: options) { runtime in
            var new = NewExecution(owner: "tester", image: TestEnvironment.localImage, args: ["sh", "-c", "echo kept"], targetHost: "local")
            new.keep = true
            let kept = try await runtime.store.createExecution(new).id
            let claimed = try await runtime.store.claimQueued(host: "local", limit: 10)
            await runtime.supervisor.launch(try #require(claimed.first { $0.id == kept }))
            let other = try await runtime.submitAndLaunch("echo removed")
            #expect(try await runtime.waitUntilTerminal(kept).state == .succeeded)
            #expect(try await runtime.waitUntilTerminal(other).state == .succeeded)
            let docker = try await runtime.plugins.backend(forHost: "local")
            func count(_ id: UUID) async throws -> Int {
                try await docker.list(labels: [BerthLabel.execution: id.uuidString.lowercased()]).count
            }
            try await Task.sleep(for: .seconds(1))
            #expect(try await count(kept) == 1, "kept while within retention")
            #expect(try await count(other) == 0)
            var remaining = 1
            for _ in 0..<60 where remaining > 0 {
                try await Task.sleep(for: .milliseconds(250))
                remaining = try await count(kept)
            }
            #expect(remaining == 0, "removed once past retention")
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
