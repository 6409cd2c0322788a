import BerthPluginKit
import BerthTestSupport
import Testing

/// The C Simulated plugin (`libBerthSimulated.so`), loaded as a shared library and driven
/// through the C ABI from Swift, the way the server drives every backend.
@Suite("Simulated plugin through the C ABI")
struct SimulatedPluginTests {
    // MARK: - Lifecycle

    @Test("start sends running then exited with the SIM_EXIT code")
    func startRunsThenExits() async throws {
        let sim = try await Sim.open()
        let events = sim.backend.events()
        let handle = try await sim.backend.start(Sim.spec(["SIM_SECONDS": "0.2", "SIM_EXIT": "7"]))
        let statuses = try await within(.seconds(10), "running and exited events") {
            var seen: [RuntimeStatus] = []
            for try await event in events {
                guard case .status(let eventHandle, _, let status) = event, eventHandle == handle else { continue }
                seen.append(status)
                if status.isFinal { break }
            }
            return seen
        }
        #expect(statuses.map(\.state) == [.running, .exited])
        #expect(statuses.last?.exitCode == 7)
        #expect(statuses.last?.reason == nil)
        let final = try await sim.backend.inspect(handle)
        #expect(final.state == .exited)
        #expect(final.exitCode == 7)
        await sim.backend.close()
    }

    @Test("inspect shows running with a start time, then exited with code and finish time")
    func inspect() async throws {
        let sim = try await Sim.open()
        let handle = try await sim.backend.start(Sim.spec(["SIM_SECONDS": "0.3", "SIM_EXIT": "3"]))
        #expect(handle.id?.hasPrefix("sim-") == true)
        let running = try await sim.backend.inspect(handle)
        #expect(running.state == .running)
        #expect(running.startedAt != nil)
        #expect(running.exitCode == nil)
        #expect(running.finishedAt == nil)
        let final = try await TestPlugins.waitUntilFinal(sim.backend, handle, timeout: .seconds(10))
        #expect(final.state == .exited)
        #expect(final.exitCode == 3)
        #expect(final.startedAt == running.startedAt)
        let finishedAt = try #require(final.finishedAt)
        let startedAt = try #require(final.startedAt)
        #expect(finishedAt.nanosecondsSinceEpoch - startedAt.nanosecondsSinceEpoch >= 250_000_000)
        await sim.backend.close()
    }

    @Test("start_delay_ms keeps the execution created for that long")
    func startDelay() async throws {
        let sim = try await Sim.open(["start_delay_ms": 300])
        let handle = try await sim.backend.start(Sim.spec(["SIM_SECONDS": "30"]))
        #expect(try await sim.backend.inspect(handle).state == .created)
        try await Task.sleep(for: .milliseconds(600))
        #expect(try await sim.backend.inspect(handle).state == .running)
        try await sim.backend.stop(handle, graceSeconds: 10)
        await sim.backend.close()
    }

    @Test("stop ends a running execution at once with 137 and reason stopped")
    func stopEndsAtOnce() async throws {
        let sim = try await Sim.open()
        let handle = try await sim.backend.start(Sim.spec(["SIM_SECONDS": "600"]))
        #expect(try await sim.backend.inspect(handle).state == .running)
        let clock = ContinuousClock()
        let began = clock.now
        try await sim.backend.stop(handle, graceSeconds: 120)
        let took = clock.now - began
        // Far under the 120 s grace and the 600 s run (loose: the suite shares two cores).
        #expect(took < .seconds(60), "stop took \(took)")
        let status = try await sim.backend.inspect(handle)
        #expect(status.state == .exited)
        #expect(status.exitCode == 137)
        #expect(status.reason == "stopped")
        #expect(status.finishedAt != nil)
        // Stopping an ended attempt succeeds and changes nothing.
        try await sim.backend.stop(handle, graceSeconds: 0)
        #expect(try await sim.backend.inspect(handle) == status)
        await sim.backend.close()
    }

    @Test("remove forgets the execution: inspect, logs and stop then give not_found")
    func removeThenNotFound() async throws {
        let sim = try await Sim.open()
        let handle = try await sim.backend.start(Sim.spec(["SIM_SECONDS": "30", "SIM_LINES": "2"]))
        try await sim.backend.remove(handle)
        let inspectError = await Sim.error { _ = try await sim.backend.inspect(handle) }
        #expect(inspectError?.code == .notFound)
        #expect(inspectError?.retryable == false)
        let logsError = await Sim.error {
            _ = try await within(.seconds(90), "logs of a removed execution") {
                try await TestPlugins.collect(sim.backend.logs(LogRequest(handle: handle)))
            }
        }
        #expect(logsError?.code == .notFound)
        let stopError = await Sim.error { try await sim.backend.stop(handle, graceSeconds: 1) }
        #expect(stopError?.code == .notFound)
        let removeError = await Sim.error { try await sim.backend.remove(handle) }
        #expect(removeError?.code == .notFound)
        #expect(try await sim.backend.list(labels: [:]).isEmpty)
        await sim.backend.close()
    }

    @Test("a handle this instance never made is not_found; a handle that is not an object is invalid_spec")
    func foreignHandles() async throws {
        let sim = try await Sim.open()
        let unknown = await Sim.error { _ = try await sim.backend.inspect(RuntimeHandle(id: "sim-999")) }
        #expect(unknown?.code == .notFound)
        let notObject = await Sim.error { _ = try await sim.backend.inspect(RuntimeHandle(json: "sim-1")) }
        #expect(notObject?.code == .invalidSpec)
        await sim.backend.close()
    }

    // MARK: - Logs

    @Test("followed logs give stdout and stderr apart and in order, and end when the execution ends")
    func followedLogs() async throws {
        let sim = try await Sim.open()
        let handle = try await sim.backend.start(
            Sim.spec(["SIM_SECONDS": "0.5", "SIM_LINES": "5", "SIM_STDERR_LINES": "3", "SIM_EXIT": "4"]))
        let clock = ContinuousClock()
        let began = clock.now
        let chunks = try await within(.seconds(10), "followed logs to end") {
            try await TestPlugins.collect(sim.backend.logs(LogRequest(handle: handle, follow: true)))
        }
        let took = clock.now - began
        #expect(Sim.text(chunks, .stdout) == "line 1\nline 2\nline 3\nline 4\nline 5\n")
        #expect(Sim.text(chunks, .stderr) == "err 1\nerr 2\nerr 3\n")
        #expect(chunks.count == 8, "one chunk per line")
        for stream in LogStream.allCases {
            let times = chunks.filter { $0.stream == stream }.map(\.timestamp)
            #expect(times == times.sorted(), "\(stream) timestamps out of order")
        }
        // It followed: it waited for the lines printed later and ended with the execution.
        #expect(took >= .milliseconds(350), "followed stream ended after \(took), before the execution")
        let status = try await sim.backend.inspect(handle)
        #expect(status.state == .exited)
        #expect(status.exitCode == 4)
        await sim.backend.close()
    }

    @Test("logs without follow give the lines so far and end, even while the execution runs")
    func logsWithoutFollow() async throws {
        let sim = try await Sim.open()
        // Done: every line.
        let done = try await sim.backend.start(Sim.spec(["SIM_SECONDS": "0.2", "SIM_LINES": "4", "SIM_STDERR_LINES": "2"]))
        _ = try await TestPlugins.waitUntilFinal(sim.backend, done, timeout: .seconds(10))
        let all = try await within(.seconds(90), "logs of an ended execution") {
            try await TestPlugins.collect(sim.backend.logs(LogRequest(handle: done)))
        }
        #expect(Sim.text(all, .stdout) == "line 1\nline 2\nline 3\nline 4\n")
        #expect(Sim.text(all, .stderr) == "err 1\nerr 2\n")

        // Running: line 1 prints at 0 s, line 2 only at 1500 s; the stream must not wait for it.
        let running = try await sim.backend.start(Sim.spec(["SIM_SECONDS": "3000", "SIM_LINES": "2"]))
        try await Task.sleep(for: .milliseconds(100))
        let clock = ContinuousClock()
        let began = clock.now
        let sofar = try await within(.seconds(90), "logs without follow of a running execution") {
            try await TestPlugins.collect(sim.backend.logs(LogRequest(handle: running, follow: false)))
        }
        #expect(clock.now - began < .seconds(60))  // the next line or event is 300 s or more away
        #expect(sofar.map(\.text) == ["line 1\n"])
        #expect(try await sim.backend.inspect(running).state == .running)
        await sim.backend.close()
    }

    @Test("since keeps only lines at or after the given time")
    func logsSince() async throws {
        let sim = try await Sim.open()
        let handle = try await sim.backend.start(Sim.spec(["SIM_SECONDS": "0.4", "SIM_LINES": "4"]))
        _ = try await TestPlugins.waitUntilFinal(sim.backend, handle, timeout: .seconds(10))
        let all = try await TestPlugins.collect(sim.backend.logs(LogRequest(handle: handle)))
        try #require(all.count == 4)
        let third = all[2].timestamp
        let fromThird = try await TestPlugins.collect(sim.backend.logs(LogRequest(handle: handle, since: third)))
        #expect(fromThird.map(\.text) == ["line 3\n", "line 4\n"])
        let justAfterThird = Timestamp(nanosecondsSinceEpoch: third.nanosecondsSinceEpoch + 1)
        let fromAfter = try await TestPlugins.collect(
            sim.backend.logs(LogRequest(handle: handle, since: justAfterThird)))
        #expect(fromAfter.map(\.text) == ["line 4\n"])
        let later = Timestamp.now().adding(seconds: 60)
        #expect(try await TestPlugins.collect(sim.backend.logs(LogRequest(handle: handle, since: later))).isEmpty)
        // since also applies to a followed stream.
        let followed = try await within(.seconds(90), "followed logs since") {
            try await TestPlugins.collect(sim.backend.logs(LogRequest(handle: handle, follow: true, since: third)))
        }
        #expect(followed.map(\.text) == ["line 3\n", "line 4\n"])
        await sim.backend.close()
    }

    // MARK: - List, capacity, health

    @Test("list by labels finds exactly what was started, with Berth's labels")
    func listByLabels() async throws {
        let server = "sim-server-" + TestEnvironment.uniqueID()
        let sim = try await Sim.open(server: server)
        let group = TestEnvironment.uniqueID()
        var started: [String: RuntimeHandle] = [:]
        for _ in 0..<3 {
            let spec = Sim.spec(["SIM_SECONDS": "30"], attempt: 2, labels: ["group": group, "team": "a"])
            started[spec.executionID] = try await sim.backend.start(spec)
        }
        // Others that must not match.
        _ = try await sim.backend.start(Sim.spec(["SIM_SECONDS": "30"], labels: ["group": "other", "team": "a"]))
        _ = try await sim.backend.start(Sim.spec(["SIM_SECONDS": "30"]))

        let found = try await sim.backend.list(labels: ["group": group])
        #expect(found.count == 3)
        #expect(Set(found.map(\.handle)) == Set(started.values))
        for object in found {
            let execution = try #require(object.labels[BerthLabel.execution])
            #expect(started[execution] == object.handle)
            #expect(object.executionID == execution)
            #expect(object.labels[BerthLabel.attempt] == "2")
            #expect(object.labels[BerthLabel.server] == server)
            #expect(object.labels["team"] == "a")
            #expect(object.status.state == .running)
        }
        #expect(try await sim.backend.list(labels: ["group": group, "team": "b"]).isEmpty)
        #expect(try await sim.backend.list(labels: ["team": "a"]).count == 4)
        #expect(try await sim.backend.list(labels: [BerthLabel.server: server]).count == 5)
        #expect(try await sim.backend.list(labels: [:]).count == 5)
        let (execution, handle) = try #require(started.first)
        let one = try await sim.backend.list(labels: [BerthLabel.execution: execution])
        #expect(one.map(\.handle) == [handle])
        await sim.backend.close()
    }

    @Test("the plugin's own berth labels replace those the spec carries")
    func berthLabelsWin() async throws {
        let sim = try await Sim.open(server: "the-server")
        let spec = Sim.spec(
            ["SIM_SECONDS": "30"], attempt: 3,
            labels: [BerthLabel.server: "forged", BerthLabel.attempt: "99", BerthLabel.execution: "forged"])
        let handle = try await sim.backend.start(spec)
        let found = try await sim.backend.list(labels: [BerthLabel.execution: spec.executionID])
        #expect(found.map(\.handle) == [handle])
        #expect(found.first?.labels == spec.runtimeLabels(server: "the-server"))
        await sim.backend.close()
    }

    @Test("capacity reflects max_concurrent and what runs")
    func capacity() async throws {
        let sim = try await Sim.open(["max_concurrent": 7, "cpus": 3.5, "memory_bytes": 1_000_000])
        let empty = try await sim.backend.capacity()
        #expect(empty.maxConcurrent == 7)
        #expect(empty.running == 0)
        #expect(empty.cpus == 3.5)
        #expect(empty.memoryBytes == 1_000_000)
        let first = try await sim.backend.start(Sim.spec(["SIM_SECONDS": "30"]))
        let second = try await sim.backend.start(Sim.spec(["SIM_SECONDS": "30"]))
        #expect(try await sim.backend.capacity().running == 2)
        try await sim.backend.stop(first, graceSeconds: 0)
        #expect(try await sim.backend.capacity().running == 1)
        try await sim.backend.remove(second)
        #expect(try await sim.backend.capacity().running == 0)
        #expect(try await sim.backend.capacity().maxConcurrent == 7)
        await sim.backend.close()
    }

    @Test("capacity counts a delayed (created) execution as running")
    func capacityCountsCreated() async throws {
        let sim = try await Sim.open(["start_delay_ms": 10_000])
        let handle = try await sim.backend.start(Sim.spec([:]))
        #expect(try await sim.backend.inspect(handle).state == .created)
        #expect(try await sim.backend.capacity().running == 1)
        await sim.backend.close()
    }

    @Test("health is ok and reports the settings")
    func health() async throws {
        let sim = try await Sim.open(["cpus": 6, "memory_bytes": 123_456])
        let health = try await sim.backend.health()
        #expect(health.ok)
        #expect(health.message == "simulated")
        #expect(health.engineVersion == "simulated-1.0.0")
        #expect(health.cpus == 6)
        #expect(health.memoryBytes == 123_456)
        await sim.backend.close()
    }

    // MARK: - Errors

    @Test("SIM_FAIL_START fails start with that error code", arguments: [
        ("image_not_found", PluginError.Code.imageNotFound, false),
        ("unavailable", .unavailable, true),
        ("permission_denied", .permissionDenied, false),
        ("timeout", .timeout, true),
        ("no_such_code", .internal, false),
    ])
    func failStart(value: String, code: PluginError.Code, retryable: Bool) async throws {
        let sim = try await Sim.open()
        let error = await Sim.error { _ = try await sim.backend.start(Sim.spec(["SIM_FAIL_START": value])) }
        #expect(error?.code == code)
        #expect(error?.retryable == retryable)
        #expect(try await sim.backend.list(labels: [:]).isEmpty, "a failed start leaves nothing behind")
        #expect(try await sim.backend.capacity().running == 0)
        await sim.backend.close()
    }

    @Test("an image named missing/… is image_not_found naming the image")
    func missingImage() async throws {
        let sim = try await Sim.open()
        let error = await Sim.error { _ = try await sim.backend.start(Sim.spec([:], image: "missing/x")) }
        #expect(error?.code == .imageNotFound)
        #expect(error?.message.contains("missing/x") == true, "message: \(error?.message ?? "none")")
        await sim.backend.close()
    }

    @Test("a bad SIM_ variable is invalid_spec naming it", arguments: [
        "SIM_LINES", "SIM_STDERR_LINES", "SIM_SECONDS", "SIM_EXIT",
    ])
    func badVariable(variable: String) async throws {
        let sim = try await Sim.open()
        let error = await Sim.error { _ = try await sim.backend.start(Sim.spec([variable: "abc"])) }
        #expect(error?.code == .invalidSpec)
        #expect(error?.message.contains(variable) == true, "message: \(error?.message ?? "none")")
        await sim.backend.close()
    }

    /// Settings the plugin itself must refuse at `open`, and the key its message must name.
    static let badSettings: [(String, JSONValue)] = [
        ("max_concurrent", ["max_concurrent": 0]),
        ("max_concurrent", ["max_concurrent": "four"]),
        ("max_concurrent", ["max_concurrent": 2.5]),
        ("cpus", ["cpus": -1]),
        ("memory_bytes", ["memory_bytes": nil]),
        ("start_delay_ms", ["start_delay_ms": -5]),
        ("bogus", ["bogus": 1]),
    ]

    @Test("bad settings fail open with invalid_config naming the key", arguments: badSettings)
    func badSettingsAtOpen(key: String, settings: JSONValue) async throws {
        // Through the plugin directly: the plugin's own check, without the host's schema check.
        let plugin = try LoadedPlugin.load(file: TestEnvironment.pluginFolder + "/libBerthSimulated.so")
        #expect(plugin.name == "simulated")
        let direct = await Sim.error { _ = try await plugin.open(settings: settings, host: "h", server: "s") }
        #expect(direct?.code == .invalidConfig)
        #expect(direct?.message.contains(key) == true, "message: \(direct?.message ?? "none")")
        // And the way the server opens it (host-side schema check first).
        let viaHost = await Sim.error { _ = try await TestPlugins.open(library: Sim.library, settings: settings) }
        #expect(viaHost?.code == .invalidConfig)
        #expect(viaHost?.message.contains(key) == true, "message: \(viaHost?.message ?? "none")")
    }

    // MARK: - Cancellation and close

    @Test("breaking out of a followed log stream ends it promptly; the instance keeps working")
    func cancelFollowedLogs() async throws {
        let sim = try await Sim.open()
        let handle = try await sim.backend.start(Sim.spec(["SIM_SECONDS": "3000", "SIM_LINES": "10"]))
        let clock = ContinuousClock()
        let began = clock.now
        let first = try await within(.seconds(90), "first chunk, then break") {
            var first: LogChunk?
            for try await chunk in sim.backend.logs(LogRequest(handle: handle, follow: true)) {
                first = chunk
                break
            }
            return first
        }
        #expect(clock.now - began < .seconds(60))  // the next line or event is 300 s or more away
        #expect(first?.text == "line 1\n")
        // The instance keeps working, and so do new streams on the same execution.
        #expect(try await sim.backend.inspect(handle).state == .running)
        let again = try await within(.seconds(90), "logs without follow after a cancel") {
            try await TestPlugins.collect(sim.backend.logs(LogRequest(handle: handle)))
        }
        #expect(again.map(\.text) == ["line 1\n"])
        // Many cancelled streams in a row leave nothing stuck.
        for _ in 0..<50 {
            for try await _ in sim.backend.logs(LogRequest(handle: handle, follow: true)) { break }
        }
        try await sim.backend.stop(handle, graceSeconds: 0)
        #expect(try await sim.backend.inspect(handle).exitCode == 137)
        await sim.backend.close()
    }

    @Test("cancelling the task that follows logs ends the stream promptly")
    func cancelFollowingTask() async throws {
        let sim = try await Sim.open()
        let handle = try await sim.backend.start(Sim.spec(["SIM_SECONDS": "3000", "SIM_LINES": "10"]))
        let (firstChunk, firstChunkSeen) = AsyncStream<Void>.makeStream()
        let reader = Task {
            var count = 0
            for try await _ in sim.backend.logs(LogRequest(handle: handle, follow: true)) {
                count += 1
                firstChunkSeen.yield()
            }
            return count
        }
        // Cancel only once the first line has been read (line 2 is 300 s away).
        try await within(.seconds(90), "first chunk") {
            for await _ in firstChunk { break }
        }
        let clock = ContinuousClock()
        let began = clock.now
        reader.cancel()
        let count = try await within(.seconds(90), "cancelled reader to return") { try await reader.value }
        #expect(clock.now - began < .seconds(60))  // the next line or event is 300 s or more away
        #expect(count == 1)
        #expect(try await sim.backend.capacity().running == 1)
        await sim.backend.close()
    }

    @Test("breaking out of the events stream ends it promptly; the instance keeps working")
    func cancelEvents() async throws {
        let sim = try await Sim.open()
        let events = sim.backend.events()
        let handle = try await sim.backend.start(Sim.spec(["SIM_SECONDS": "3000"]))
        let clock = ContinuousClock()
        let began = clock.now
        let first = try await within(.seconds(90), "first event, then break") {
            var first: BackendEvent?
            for try await event in events {
                first = event
                break
            }
            return first
        }
        #expect(clock.now - began < .seconds(60))  // the next line or event is 300 s or more away
        guard case .status(let eventHandle, _, let status) = first else {
            Issue.record("expected a status event, got \(String(describing: first))")
            return
        }
        #expect(eventHandle == handle)
        #expect(status.state == .running)
        // The instance keeps working, and a new events stream gets new events.
        #expect(try await sim.backend.inspect(handle).state == .running)
        let again = sim.backend.events()
        try await sim.backend.stop(handle, graceSeconds: 0)
        let next = try await within(.seconds(90), "event on a second stream") {
            var next: BackendEvent?
            for try await event in again {
                next = event
                break
            }
            return next
        }
        guard case .status(_, _, let stopped) = next else {
            Issue.record("expected a status event, got \(String(describing: next))")
            return
        }
        #expect(stopped.exitCode == 137)
        for _ in 0..<50 {
            let stream = sim.backend.events()
            let task = Task { for try await _ in stream {} }
            task.cancel()
            try await within(.seconds(90), "cancelled events reader") { try await task.value }
        }
        #expect(try await sim.backend.health().ok)
        await sim.backend.close()
    }

    @Test("200 concurrent short executions all exit with their own SIM_EXIT")
    func concurrentStarts() async throws {
        let sim = try await Sim.open(["max_concurrent": 200])
        let count = 200
        let events = sim.backend.events()
        let handles = try await withThrowingTaskGroup(of: (Int, RuntimeHandle).self) { group in
            for index in 0..<count {
                group.addTask {
                    let spec = Sim.spec(["SIM_SECONDS": "0.05", "SIM_EXIT": String(index), "SIM_LINES": "2"])
                    return (index, try await sim.backend.start(spec))
                }
            }
            var handles: [Int: RuntimeHandle] = [:]
            for try await (index, handle) in group { handles[index] = handle }
            return handles
        }
        #expect(handles.count == count)
        #expect(Set(handles.values).count == count, "every start got its own handle")
        let expected = Dictionary(uniqueKeysWithValues: handles.map { ($0.value, Int32($0.key)) })

        // Through events: every execution sends running, then exited with its code.
        let exits = try await within(.seconds(30), "\(count) exited events") {
            var running: Set<RuntimeHandle> = []
            var exits: [RuntimeHandle: Int32] = [:]
            for try await event in events {
                guard case .status(let handle, _, let status) = event, expected[handle] != nil else { continue }
                if status.state == .running { running.insert(handle) }
                if status.state == .exited {
                    #expect(running.contains(handle), "exited before running: \(handle)")
                    exits[handle] = status.exitCode
                    if exits.count == count { break }
                }
            }
            return exits
        }
        #expect(exits == expected)

        // Through inspect, concurrently too.
        let inspected = try await withThrowingTaskGroup(of: (RuntimeHandle, RuntimeStatus).self) { group in
            for handle in handles.values {
                group.addTask { (handle, try await sim.backend.inspect(handle)) }
            }
            var all: [RuntimeHandle: RuntimeStatus] = [:]
            for try await (handle, status) in group { all[handle] = status }
            return all
        }
        #expect(inspected.values.allSatisfy { $0.state == .exited })
        #expect(inspected.mapValues { $0.exitCode ?? -1 } == expected)
        #expect(try await sim.backend.capacity().running == 0)
        let logs = try await TestPlugins.collect(sim.backend.logs(LogRequest(handle: handles[0]!)))
        #expect(logs.map(\.text) == ["line 1\n", "line 2\n"])
        await sim.backend.close()
    }

    @Test("closing the instance ends its open streams")
    func closeEndsStreams() async throws {
        let sim = try await Sim.open()
        let handle = try await sim.backend.start(Sim.spec(["SIM_SECONDS": "3000", "SIM_LINES": "10"]))
        let events = sim.backend.events()
        let logs = sim.backend.logs(LogRequest(handle: handle, follow: true))
        let eventsReader = Task {
            var count = 0
            for try await _ in events { count += 1 }
            return count
        }
        let logsReader = Task {
            var count = 0
            for try await _ in logs { count += 1 }
            return count
        }
        // A stream nobody reads ends too.
        let unread = sim.backend.logs(LogRequest(handle: handle, follow: true))
        try await Task.sleep(for: .milliseconds(200))
        let clock = ContinuousClock()
        let began = clock.now
        try await within(.seconds(90), "close") { await sim.backend.close() }
        #expect(clock.now - began < .seconds(60))  // the next line or event is 300 s or more away
        let eventCount = try await within(.seconds(90), "events reader after close") { try await eventsReader.value }
        let logCount = try await within(.seconds(90), "logs reader after close") { try await logsReader.value }
        #expect(eventCount == 0)
        #expect(logCount == 1)
        let unreadChunks = try await within(.seconds(90), "unread logs after close") {
            try await TestPlugins.collect(unread)
        }
        #expect(unreadChunks.map(\.text) == ["line 1\n"])
    }
}

/// Helpers for driving the Simulated plugin.
enum Sim {
    static let library = "libBerthSimulated.so"

    /// An open instance and the server id it was opened with.
    struct Instance {
        let backend: PluginInstance
        let server: String
    }

    /// Opens one Simulated instance with `settings`.
    static func open(
        _ settings: [String: JSONValue] = [:], server: String = "berth-test-" + TestEnvironment.uniqueID()
    ) async throws -> Instance {
        let backend = try await TestPlugins.open(library: library, host: "sim", settings: .object(settings), server: server)
        return Instance(backend: backend, server: server)
    }

    /// A spec whose run is set by the `SIM_*` variables in `env`.
    static func spec(
        _ env: [String: String], image: String = "sim/worker:1", attempt: Int = 1, labels: [String: String] = [:]
    ) -> ExecutionSpec {
        ExecutionSpec(executionID: TestEnvironment.uniqueID(), attempt: attempt, image: image, env: env, labels: labels)
    }

    /// The text of one stream's chunks, in order.
    static func text(_ chunks: [LogChunk], _ stream: LogStream) -> String {
        chunks.filter { $0.stream == stream }.map(\.text).joined()
    }

    /// The ``PluginError`` `body` throws; nil when it succeeds. Another error is recorded.
    static func error(_ body: () async throws -> Void) async -> PluginError? {
        do {
            try await body()
            Issue.record("expected a PluginError, but the call succeeded")
            return nil
        } catch let error as PluginError {
            return error
        } catch {
            Issue.record("expected a PluginError, got \(error)")
            return nil
        }
    }
}

/// A step that did not finish in time.
struct TimedOut: Error, CustomStringConvertible {
    let what: String
    let limit: Duration
    var description: String { "\(what) did not finish within \(limit)" }
}

/// Runs `body`, failing with ``TimedOut`` when it takes longer than `limit` (a missing
/// behaviour must fail the test, not hang it).
func within<T: Sendable>(
    _ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TimedOut(what: what, limit: limit)
        }
        return value
    }
}
