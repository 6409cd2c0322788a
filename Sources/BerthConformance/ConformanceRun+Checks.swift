import BerthPluginKit
import Foundation

/// The checks that drive the instance. Each returns what it saw, or throws what did not hold.
extension ConformanceRun {
    /// `open` refuses a setting of the wrong type with `invalid_config`.
    func badSettings(_ plugin: LoadedPlugin) async throws -> String {
        let properties = plugin.settingsSchema["properties"]?.objectValue ?? [:]
        // A setting whose schema names one type, and a value of another type for it.
        let wrong: (key: String, value: JSONValue)? = properties.keys.sorted().lazy.compactMap { key -> (String, JSONValue)? in
            switch properties[key]?["type"]?.stringValue {
            case "string"?: (key, 12345)
            case "integer"?, "number"?: (key, "not a number")
            case "boolean"?: (key, "not a boolean")
            case "object"?, "array"?: (key, true)
            default: nil
            }
        }.first
        guard let wrong else { throw ConformanceSkip("the settings schema declares no setting with one type") }
        var bad = suite.settings.objectValue ?? [:]
        bad[wrong.key] = wrong.value
        do {
            let instance = try await plugin.open(settings: .object(bad), host: "conformance", server: "berth-conformance")
            await instance.close()
            throw ConformanceFailure("open accepted \(wrong.key) = \(wrong.value.jsonText)")
        } catch let error as PluginError {
            guard error.code == .invalidConfig else {
                throw ConformanceFailure("open refused \(wrong.key) = \(wrong.value.jsonText) with \(error.code), not invalid_config: \(error.message)")
            }
            return "\(wrong.key) = \(wrong.value.jsonText) → invalid_config (\(error.message))"
        }
    }

    /// `start` refuses a spec without an image and one whose attempt is not a number with
    /// `invalid_spec`, and starts nothing for them.
    func badSpecs(_ instance: PluginInstance) async throws -> String {
        let good = workload.short(UUID().uuidString.lowercased()).json
        var noImage = good.objectValue ?? [:]
        noImage["image"] = nil
        var textAttempt = good.objectValue ?? [:]
        textAttempt["attempt"] = "one"
        for (what, spec) in [("a spec without image", noImage), ("a spec with attempt \"one\"", textAttempt)] {
            do {
                let handle = try await instance.start(json: .object(spec))
                started.append(handle)
                throw ConformanceFailure("start accepted \(what)")
            } catch let error as PluginError {
                guard error.code == .invalidSpec else {
                    throw ConformanceFailure("start refused \(what) with \(error.code), not invalid_spec: \(error.message)")
                }
            }
        }
        return "a spec without image and one with attempt \"one\" → invalid_spec"
    }

    /// start → running → exited with the spec's exit code, with its start and end times.
    func lifecycle(_ instance: PluginInstance) async throws -> String {
        let id = UUID().uuidString.lowercased()
        let handle = try await instance.start(workload.short(id))
        started.append(handle)
        short = (id, handle)
        var states: [RuntimeStatus.State] = []
        let ended = try await waitFor("the attempt's exit") { () -> RuntimeStatus? in
            let status = try await instance.inspect(handle)
            if states.last != status.state { states.append(status.state) }
            return status.isFinal ? status : nil
        }
        let path = states.map(\.rawValue).joined(separator: " → ")
        guard states.contains(.running) else { throw ConformanceFailure("inspect never showed running: \(path)") }
        guard ended.state == .exited else {
            throw ConformanceFailure("the attempt ended \(ended.state.rawValue) (\(ended.errorCode?.rawValue ?? "no error code")), not exited")
        }
        guard ended.exitCode == 7 else { throw ConformanceFailure("exit code \(ended.exitCode.map(String.init) ?? "missing"), expected 7") }
        guard let start = ended.startedAt, let end = ended.finishedAt else {
            throw ConformanceFailure("an exited status lacks started_at or finished_at")
        }
        guard start <= end else { throw ConformanceFailure("started_at \(start) is after finished_at \(end)") }
        return "\(path), exit code 7, started_at ≤ finished_at"
    }

    /// The ended attempt's logs: each stream's lines, in order, with timestamps.
    func logs(_ instance: PluginInstance) async throws -> String {
        guard let short else { throw ConformanceFailure("not run: the lifecycle check started nothing") }
        let (stdout, stderr, chunks) = try await Self.read(instance.logs(LogRequest(handle: short.handle, follow: false)))
        guard stdout == ConformanceWorkload.shortStdout, stderr == ConformanceWorkload.shortStderr else {
            throw ConformanceFailure(
                "stdout \(JSONValue.string(stdout).jsonText) and stderr \(JSONValue.string(stderr).jsonText); expected \(JSONValue.string(ConformanceWorkload.shortStdout).jsonText) and \(JSONValue.string(ConformanceWorkload.shortStderr).jsonText)")
        }
        return "stdout and stderr apart, in order (\(chunks) chunks)"
    }

    /// A follow of a running attempt gets its output and ends when the attempt ends.
    func follow(_ instance: PluginInstance) async throws -> String {
        let handle = try await instance.start(workload.short(UUID().uuidString.lowercased(), seconds: 3, exitCode: 0))
        started.append(handle)
        _ = try await waitFor("running") { try await instance.inspect(handle).state != .created ? true : nil }
        let stream = instance.logs(LogRequest(handle: handle, follow: true))
        let reading = Task { try await ConformanceRun.read(stream) }
        let ended = await ConformanceRun.within(suite.timeout) { _ = try? await reading.value }
        guard ended else {
            reading.cancel()
            throw ConformanceFailure("the follow did not end within \(suite.timeout) of the start (the attempt runs 3 s)")
        }
        let (stdout, stderr, _) = try await reading.value
        // The output's last line comes at the attempt's end, so all of it arriving shows the
        // follow lasted that long; an engine's status may lag its log stream by a moment
        // (Kubernetes' pod phase), so the end must show within a few seconds, not at once.
        let settled = ContinuousClock.now + .seconds(10)
        var status = try await instance.inspect(handle)
        while !status.isFinal, ContinuousClock.now < settled {
            try await Task.sleep(for: .milliseconds(100))
            status = try await instance.inspect(handle)
        }
        guard status.isFinal else { throw ConformanceFailure("the follow ended while the attempt was still \(status.state.rawValue), 10 s later") }
        guard stdout == ConformanceWorkload.shortStdout, stderr == ConformanceWorkload.shortStderr else {
            throw ConformanceFailure("the follow got stdout \(JSONValue.string(stdout).jsonText), stderr \(JSONValue.string(stderr).jsonText)")
        }
        return "all the output, then the end once the attempt had exited"
    }

    /// The event stream reported the lifecycle attempt running and exited, with its labels.
    func eventsSeen(_ events: EventRecorder) async throws -> String {
        guard let short else { throw ConformanceFailure("not run: the lifecycle check started nothing") }
        let seen = try await waitFor("a status event saying the attempt exited") { () -> [RuntimeStatus.State]? in
            let statuses = events.statuses(of: short.handle)
            return statuses.contains { $0.status.state == .exited } ? statuses.map(\.status.state) : nil
        }
        let statuses = events.statuses(of: short.handle)
        guard seen.contains(.running) else {
            throw ConformanceFailure("no status event said running; seen: \(seen.map(\.rawValue).joined(separator: ", "))")
        }
        guard let exited = statuses.first(where: { $0.status.state == .exited }), exited.status.exitCode == 7 else {
            throw ConformanceFailure("the exited event lacks exit code 7")
        }
        guard exited.labels[BerthLabel.execution] == short.id else {
            throw ConformanceFailure("the event's labels lack \(BerthLabel.execution)=\(short.id): \(exited.labels)")
        }
        return "\(seen.map(\.rawValue).joined(separator: ", ")) for the attempt, labelled with its execution"
    }

    /// `list` by labels finds exactly what this run started, and narrows with more labels.
    func list(_ instance: PluginInstance) async throws -> String {
        guard let short else { throw ConformanceFailure("not run: the lifecycle check started nothing") }
        let run = [workload.runLabel.key: workload.runLabel.value]
        let found = try await instance.list(labels: run)
        guard Set(found.map(\.handle)) == Set(started), found.count == started.count else {
            throw ConformanceFailure("list by \(workload.runLabel.key)=\(workload.runLabel.value) gave \(found.count) objects, this run started \(started.count)")
        }
        let one = try await instance.list(labels: run.merging([BerthLabel.execution: short.id]) { $1 })
        guard one.count == 1, one[0].handle == short.handle, one[0].status.exitCode == 7 else {
            throw ConformanceFailure("list by the lifecycle attempt's execution label gave \(one.count) objects")
        }
        for label in [BerthLabel.execution, BerthLabel.attempt, BerthLabel.server] where one[0].labels[label] == nil {
            throw ConformanceFailure("the listed object lacks the label \(label)")
        }
        return "\(found.count) objects by the run's label, 1 by its execution label, with berth.* labels"
    }

    /// `stop` ends a running attempt within its grace period (and the time to kill it).
    func stop(_ instance: PluginInstance) async throws -> String {
        let handle = try await instance.start(workload.long(UUID().uuidString.lowercased()))
        started.append(handle)
        _ = try await waitFor("running") { try await instance.inspect(handle).state == .running ? true : nil }
        let clock = ContinuousClock()
        let begun = clock.now
        try await instance.stop(handle, graceSeconds: suite.graceSeconds)
        let took = clock.now - begun
        let limit = Duration.seconds(suite.graceSeconds) + .seconds(30)
        guard took <= limit else { throw ConformanceFailure("stop took \(Self.seconds(took)), more than the grace of \(suite.graceSeconds) s and 30 s to kill") }
        // A backend that can only kill by deleting (Kubernetes) answers `not_found` now.
        let after: String
        do {
            let status = try await instance.inspect(handle)
            guard status.isFinal else { throw ConformanceFailure("after stop completed the attempt is \(status.state.rawValue)") }
            after = status.state.rawValue
        } catch let error as PluginError where error.code == .notFound {
            after = "gone (not_found)"
        }
        try await instance.stop(handle, graceSeconds: suite.graceSeconds)
        return "stopped in \(Self.seconds(took)) with a grace of \(suite.graceSeconds) s, then \(after); stopping it again succeeds"
    }

    /// A log follow and an event stream cancelled mid-way: iteration ends at once, and the
    /// plugin's end comes (the `close` check waits for every stream's end and release).
    func cancelStreams(_ instance: PluginInstance) async throws -> String {
        let handle = try await instance.start(workload.long(UUID().uuidString.lowercased()))
        started.append(handle)
        let follow = instance.logs(LogRequest(handle: handle, follow: true))
        let first = try await Self.firstItem(of: follow, within: suite.timeout)
        guard first != nil else { throw ConformanceFailure("the follow of a running attempt gave nothing within \(suite.timeout)") }
        let events = instance.events()
        let reading = Task { for try await _ in events {} }
        try await Task.sleep(for: .milliseconds(200))
        reading.cancel()
        let cancelled = await ConformanceRun.within(.seconds(10)) { _ = try? await reading.value }
        guard cancelled else { throw ConformanceFailure("an event stream did not end within 10 s of its cancel") }
        try await instance.stop(handle, graceSeconds: 0)
        return "a log follow and an event stream cancelled; their ends are awaited by close"
    }

    /// `remove` takes each object away: `inspect` comes to say `not_found` and `list` no longer
    /// has it (at once on Docker; after the pod's termination on Kubernetes, whose deletions
    /// complete in the background).
    func remove(_ instance: PluginInstance) async throws -> String {
        for handle in started {
            try await instance.remove(handle)
        }
        for handle in started {
            _ = try await waitFor("inspect answering not_found after remove") { () -> Bool? in
                do {
                    _ = try await instance.inspect(handle)
                    return nil
                } catch let error as PluginError where error.code == .notFound {
                    return true
                }
            }
        }
        let run = [workload.runLabel.key: workload.runLabel.value]
        _ = try await waitFor("list finding no removed object") { try await instance.list(labels: run).isEmpty ? true : nil }
        return "\(started.count) removed; inspect → not_found; list finds none"
    }

    /// `2.05 s`.
    static func seconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return "\((value * 100).rounded() / 100) s"
    }

    /// Reads a log stream to its end: the text of each stream and how many chunks came.
    private static func read(_ stream: PluginStream<LogChunk>) async throws -> (String, String, Int) {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var chunks = 0
        for try await chunk in stream {
            chunks += 1
            if chunk.stream == .stdout { stdout += chunk.data } else { stderr += chunk.data }
        }
        return (String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self), chunks)
    }

    /// The first item of `stream`, or nil if none came within `timeout`; the iteration is
    /// then over (which cancels the plugin's stream).
    private static func firstItem<Item: Sendable>(of stream: PluginStream<Item>, within timeout: Duration) async throws -> Item? {
        let reading = Task { () -> Item? in
            for try await item in stream { return item }
            return nil
        }
        let came = await ConformanceRun.within(timeout) { _ = try? await reading.value }
        if !came { reading.cancel() }
        return try await reading.value
    }
}
