import BerthPluginKit
import BerthTestSupport
import Testing

/// The Docker plugins, loaded as shared libraries and driven through the C ABI: each test runs
/// once on the local engine over its socket and once on the second engine over SSH.
@Suite("Docker plugin lifecycle", .serialized, .sshd)
struct DockerLifecycleTests {
    @Test("exit 0 ends as exited with code 0", arguments: DockerFixture.Engine.allCases)
    func exitZero(engine: DockerFixture.Engine) async throws {
        let docker = try await DockerFixture.open(engine)
        let (handle, status) = try await docker.run(DockerFixture.shell("true"))
        #expect(status.state == .exited)
        #expect(status.exitCode == 0)
        #expect(status.startedAt != nil && status.finishedAt != nil)
        try await docker.backend.remove(handle)
    }

    @Test("exit 3 keeps exit code 3", arguments: DockerFixture.Engine.allCases)
    func exitThree(engine: DockerFixture.Engine) async throws {
        let docker = try await DockerFixture.open(engine)
        let (handle, status) = try await docker.run(DockerFixture.shell("exit 3"))
        #expect(status.state == .exited)
        #expect(status.exitCode == 3)
        try await docker.backend.remove(handle)
    }

    @Test("stop of sleep 300 ends after the grace, killed (137)", arguments: DockerFixture.Engine.allCases)
    func stopWithinGrace(engine: DockerFixture.Engine) async throws {
        let docker = try await DockerFixture.open(engine)
        let handle = try await docker.backend.start(DockerFixture.shell("sleep 300"))
        try await waitUntilRunning(docker.backend, handle)
        let clock = ContinuousClock()
        let began = clock.now
        try await docker.backend.stop(handle, graceSeconds: 1)
        let status = try await docker.backend.inspect(handle)
        let took = clock.now - began
        #expect(status.state == .exited)
        // PID 1 ignores SIGTERM, so the engine had to kill it after the grace period.
        #expect(status.exitCode == 137)
        // About the 1 s grace; far from the 300 s sleep (loose: the suite shares two cores).
        #expect(took >= .seconds(1) && took < .seconds(60), "stop took \(took)")
        try await docker.backend.remove(handle)
    }

    @Test("stdout and stderr are kept apart and in order", arguments: DockerFixture.Engine.allCases)
    func streamsApartAndInOrder(engine: DockerFixture.Engine) async throws {
        let docker = try await DockerFixture.open(engine)
        let script = "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done"
        let (handle, _) = try await docker.run(DockerFixture.shell(script))
        let chunks = try await TestPlugins.collect(docker.backend.logs(LogRequest(handle: handle)))
        let stdout = chunks.filter { $0.stream == .stdout }.map(\.text).joined()
        let stderr = chunks.filter { $0.stream == .stderr }.map(\.text).joined()
        #expect(stdout == "out1\nout2\nout3\nout4\nout5\n")
        #expect(stderr == "err1\nerr2\nerr3\nerr4\nerr5\n")
        for stream in LogStream.allCases {
            let times = chunks.filter { $0.stream == stream }.map(\.timestamp)
            #expect(times == times.sorted(), "\(stream) timestamps out of order")
        }
        try await docker.backend.remove(handle)
    }

    @Test("followed logs arrive while running and end when the container ends, a last line without newline included", arguments: DockerFixture.Engine.allCases)
    func followEndsWithContainer(engine: DockerFixture.Engine) async throws {
        let docker = try await DockerFixture.open(engine)
        // The last line has no newline: Docker's own follow drops it; the plugin must not.
        let handle = try await docker.backend.start(DockerFixture.shell("echo first; sleep 1; echo second; printf last"))
        let clock = ContinuousClock()
        let began = clock.now
        let chunks = try await TestPlugins.collect(docker.backend.logs(LogRequest(handle: handle, follow: true)))
        #expect(chunks.map(\.text) == ["first\n", "second\n", "last"])
        #expect(clock.now - began < .seconds(60))
        let status = try await docker.backend.inspect(handle)
        #expect(status.state == .exited)
        try await docker.backend.remove(handle)
    }

    @Test("a followed stream outlives the per-request timeout", arguments: DockerFixture.Engine.allCases)
    func followOutlivesRequestTimeout(engine: DockerFixture.Engine) async throws {
        // Follows and the event stream must not inherit the 1 s deadline of ordinary calls.
        let docker = try await DockerFixture.open(engine, ["request_timeout_seconds": 1])
        let handle = try await docker.backend.start(DockerFixture.shell("echo a; sleep 2; echo b"))
        let chunks = try await TestPlugins.collect(docker.backend.logs(LogRequest(handle: handle, follow: true)))
        #expect(chunks.map(\.text) == ["a\n", "b\n"])
        try await docker.backend.remove(handle)
    }

    @Test("logs since a chunk's timestamp resume from it", arguments: DockerFixture.Engine.allCases)
    func logsSince(engine: DockerFixture.Engine) async throws {
        let docker = try await DockerFixture.open(engine)
        let (handle, _) = try await docker.run(DockerFixture.shell("echo a; sleep 0.3; echo b; sleep 0.3; echo c"))
        let all = try await TestPlugins.collect(docker.backend.logs(LogRequest(handle: handle)))
        #expect(all.map(\.text) == ["a\n", "b\n", "c\n"])
        let rest = try await TestPlugins.collect(
            docker.backend.logs(LogRequest(handle: handle, since: all[1].timestamp.adding(seconds: 0.000_000_001))))
        #expect(rest.map(\.text) == ["c\n"])
        try await docker.backend.remove(handle)
    }

    @Test("env, working dir, labels and a network of none reach the container", arguments: DockerFixture.Engine.allCases)
    func specReachesContainer(engine: DockerFixture.Engine) async throws {
        let docker = try await DockerFixture.open(engine)
        var spec = DockerFixture.shell("echo $GREETING; pwd; ls /sys/class/net")
        spec.env = ["GREETING": "hello berth"]
        spec.workingDir = "/tmp"
        spec.labels = ["team": "solvers"]
        spec.memoryBytes = 64 * 1024 * 1024
        spec.cpus = 0.5
        let (handle, status) = try await docker.run(spec)
        #expect(status.exitCode == 0)
        let output = try await TestPlugins.collect(docker.backend.logs(LogRequest(handle: handle))).map(\.text).joined()
        #expect(output == "hello berth\n/tmp\nlo\n")
        let listed = try await docker.backend.list(labels: ["team": "solvers", "berth.execution": spec.executionID])
        #expect(listed.count == 1)
        #expect(listed.first?.labels["berth.attempt"] == "1")
        #expect(listed.first?.labels["berth.server"] == docker.server)
        try await docker.backend.remove(handle)
    }

    @Test("list by labels finds exactly what was started", arguments: DockerFixture.Engine.allCases)
    func listByLabels(engine: DockerFixture.Engine) async throws {
        let docker = try await DockerFixture.open(engine)
        var handles: [RuntimeHandle] = []
        for _ in 0..<3 {
            handles.append(try await docker.backend.start(DockerFixture.shell("true")))
        }
        let listed = try await docker.backend.list(labels: ["berth.server": docker.server])
        #expect(Set(listed.map(\.handle.id)) == Set(handles.map(\.id)))
        for handle in handles { try await docker.backend.remove(handle) }
        let after = try await docker.backend.list(labels: ["berth.server": docker.server])
        #expect(after.isEmpty)
        do {
            _ = try await docker.backend.inspect(handles[0])
            Issue.record("inspect of a removed container succeeded")
        } catch {
            #expect(error.code == .notFound)
        }
    }

    @Test("events report running and exited with the exit code", arguments: DockerFixture.Engine.allCases)
    func events(engine: DockerFixture.Engine) async throws {
        let docker = try await DockerFixture.open(engine)
        let events = docker.backend.events()
        var iterator = events.makeAsyncIterator()
        // The first event says the stream is connected.
        let first = try await iterator.next()
        guard case .connection(true, _) = first else {
            Issue.record("first event was \(String(describing: first))")
            return
        }
        let spec = DockerFixture.shell("exit 7")
        let handle = try await docker.backend.start(spec)
        var states: [RuntimeStatus.State] = []
        var exitCode: Int32?
        while states.last != .exited, let event = try await iterator.next() {
            if case .status(let eventHandle, let labels, let status) = event, eventHandle.id == handle.id {
                #expect(labels["berth.execution"] == spec.executionID)
                states.append(status.state)
                exitCode = status.exitCode
            }
        }
        #expect(states == [.running, .exited])
        #expect(exitCode == 7)
        try await docker.backend.remove(handle)
    }

    @Test("the exit event carries the start and end times and says when the OOM killer ended it", arguments: DockerFixture.Engine.allCases)
    func exitEventDetails(engine: DockerFixture.Engine) async throws {
        let docker = try await DockerFixture.open(engine)
        var iterator = docker.backend.events().makeAsyncIterator()
        guard case .connection(true, _)? = try await iterator.next() else {
            Issue.record("the stream did not say it is connected")
            return
        }
        // 64 MB in a shell variable under an 8 MiB limit (no swap here: the kernel kills it).
        var hog = DockerFixture.shell(#"x=$(head -c 64000000 /dev/zero | tr "\0" a); echo ${#x}"#)
        hog.memoryBytes = 8 << 20
        let plain = DockerFixture.shell("exit 0")
        var ends: [String: RuntimeStatus] = [:]
        var handles: [RuntimeHandle] = []
        for spec in [hog, plain] { handles.append(try await docker.backend.start(spec)) }
        while ends.count < 2, let event = try await iterator.next() {
            if case .status(_, let labels, let status) = event, status.isFinal, let execution = labels["berth.execution"] {
                ends[execution] = status
            }
        }
        let killed = try #require(ends[hog.executionID])
        #expect(killed.state == .exited)
        #expect(killed.exitCode == 137)
        #expect(killed.reason == "OOMKilled")
        let ended = try #require(ends[plain.executionID])
        #expect(ended.exitCode == 0)
        #expect(ended.reason == nil)
        for status in [killed, ended] {
            let (started, finished) = (try #require(status.startedAt), try #require(status.finishedAt))
            #expect(started <= finished)
        }
        for handle in handles { try await docker.backend.remove(handle) }
    }

    @Test("starting the same attempt twice adopts the first container", arguments: DockerFixture.Engine.allCases)
    func startTwiceAdopts(engine: DockerFixture.Engine) async throws {
        let docker = try await DockerFixture.open(engine)
        let spec = DockerFixture.shell("sleep 5")
        let first = try await docker.backend.start(spec)
        let second = try await docker.backend.start(spec)
        let listed = try await docker.backend.list(labels: ["berth.execution": spec.executionID])
        #expect(listed.count == 1)
        try await docker.backend.remove(first)
        _ = second
    }

    @Test("starting an attempt again after it ran adopts its container and does not run it twice", arguments: DockerFixture.Engine.allCases)
    func startAfterExitDoesNotRunAgain(engine: DockerFixture.Engine) async throws {
        let docker = try await DockerFixture.open(engine)
        let spec = DockerFixture.shell("echo once")
        let first = try await docker.backend.start(spec)
        let ended = try await waitUntilExited(docker.backend, first)
        let second = try await docker.backend.start(spec)
        let again = try await docker.backend.inspect(second)
        #expect(again.state == .exited)
        #expect(again.startedAt == ended.startedAt, "the container was not started a second time")
        var output = ""
        for try await chunk in docker.backend.logs(LogRequest(handle: second, follow: false)) {
            output += String(decoding: chunk.data, as: UTF8.self)
        }
        #expect(output == "once\n")
        try await docker.backend.remove(second)
    }

    @Test("health reports the engine, capacity the running attempts", arguments: DockerFixture.Engine.allCases)
    func healthAndCapacity(engine: DockerFixture.Engine) async throws {
        let docker = try await DockerFixture.open(engine, ["max_concurrent": 3])
        let health = try await docker.backend.health()
        #expect(health.ok)
        #expect(health.engineVersion?.isEmpty == false)
        #expect((health.cpus ?? 0) >= 1)
        let handle = try await docker.backend.start(DockerFixture.shell("sleep 30"))
        try await waitUntilRunning(docker.backend, handle)
        let capacity = try await docker.backend.capacity()
        #expect(capacity.maxConcurrent == 3)
        #expect(capacity.running == 1)
        try await docker.backend.remove(handle)
    }

    private func waitUntilRunning(_ backend: PluginInstance, _ handle: RuntimeHandle) async throws {
        for _ in 0..<200 {
            if try await backend.inspect(handle).state == .running { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("attempt never ran")
    }

    private func waitUntilExited(_ backend: PluginInstance, _ handle: RuntimeHandle) async throws -> RuntimeStatus {
        for _ in 0..<500 {
            let status = try await backend.inspect(handle)
            if status.state == .exited { return status }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw PluginError(.timeout, "attempt never exited")
    }
}
