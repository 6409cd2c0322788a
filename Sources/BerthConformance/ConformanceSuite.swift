public import BerthPluginKit
import BerthCore
import Foundation
import Synchronization

/// The conformance suite: loads one plugin file the way the server does, opens it with the
/// given settings against a live engine, and checks it keeps the ABI's promises
/// (`berth_plugin.h`; docs/plugins.md, "Conformance"). Each check reports one
/// ``ConformanceResult``; the order matters, since later checks use what earlier ones started.
public struct ConformanceSuite: Sendable {
    /// The plugin's shared library.
    public var file: String
    /// The host settings to open it with.
    public var settings: JSONValue
    /// What to run.
    public var workload: ConformanceWorkload
    /// The longest wait for anything the engine does (a start, an exit, a stream's end).
    public var timeout: Duration = .seconds(60)
    /// The grace period of the `stop` check.
    public var graceSeconds: Double = 2

    /// A suite for the plugin in `file`, opened with `settings`, running `image`.
    public init(file: String, settings: JSONValue, image: String) {
        self.file = file
        self.settings = settings
        workload = ConformanceWorkload(image: image, runID: UUID().uuidString.lowercased().prefix(8).description)
    }

    /// Runs every check, telling `report` of each result as it comes; returns them all.
    public func run(report: @escaping @Sendable (ConformanceResult) -> Void = { _ in }) async -> [ConformanceResult] {
        let run = ConformanceRun(suite: self, report: report)
        await run.all()
        return run.results
    }
}

/// One run of the suite: the instance under test and what the checks started.
final class ConformanceRun {
    let suite: ConformanceSuite
    let report: @Sendable (ConformanceResult) -> Void
    private(set) var results: [ConformanceResult] = []
    private var plugin: LoadedPlugin?
    private var instance: PluginInstance?
    /// Every handle started, for `list` and `remove`.
    var started: [RuntimeHandle] = []
    /// The execution id and handle of the `lifecycle` check's attempt, which later checks read.
    var short: (id: String, handle: RuntimeHandle)?

    init(suite: ConformanceSuite, report: @escaping @Sendable (ConformanceResult) -> Void) {
        self.suite = suite
        self.report = report
    }

    var workload: ConformanceWorkload { suite.workload }

    /// Runs `body` as the check `name` and records its result.
    private func check(_ name: String, _ body: () async throws -> String) async {
        let clock = ContinuousClock()
        let begun = clock.now
        var outcome = ConformanceResult.Outcome.passed
        var detail: String
        do {
            detail = try await body()
        } catch let skip as ConformanceSkip {
            outcome = .skipped
            detail = skip.description
        } catch {
            outcome = .failed
            detail = "\(error)"
        }
        let elapsed = clock.now - begun
        let result = ConformanceResult(
            name: name, outcome: outcome, detail: detail,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        results.append(result)
        report(result)
    }

    /// Asks `probe` every 100 ms until it returns a value, for at most the suite's timeout.
    func waitFor<T>(_ what: String, _ probe: () async throws -> T?) async throws -> T {
        let deadline = ContinuousClock.now + suite.timeout
        while ContinuousClock.now < deadline {
            if let value = try await probe() { return value }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ConformanceFailure("\(what): not within \(suite.timeout)")
    }

    func all() async {
        await check("load") {
            let plugin = try LoadedPlugin.load(file: suite.file)
            self.plugin = plugin
            guard plugin.settingsSchema.objectValue != nil else {
                throw ConformanceFailure("the settings schema is not a JSON object")
            }
            return "\(plugin.name) \(plugin.version), ABI version \(plugin.abiVersion)"
        }
        guard let plugin else { return }
        await check("settings") {
            let violations = SettingsSchema(plugin.settingsSchema).violations(of: suite.settings)
            guard violations.isEmpty else { throw ConformanceFailure("the given settings break the plugin's schema: \(violations.joined(separator: "; "))") }
            return "the given settings match the plugin's schema"
        }
        await check("bad-settings") { try await badSettings(plugin) }
        await check("open") {
            let instance = try await plugin.open(settings: suite.settings, host: "conformance", server: "berth-conformance")
            self.instance = instance
            let health = try await instance.health()
            guard health.ok else { throw ConformanceFailure("health is not ok: \(health.message)") }
            let capacity = try await instance.capacity()
            guard capacity.maxConcurrent >= 1 else { throw ConformanceFailure("capacity max_concurrent is \(capacity.maxConcurrent)") }
            return "health ok (\(health.message)); max_concurrent \(capacity.maxConcurrent)"
        }
        guard let instance else { return }
        // Subscribed before anything starts, so every transition of this run is on it.
        let events = EventRecorder(instance.events())
        await check("bad-spec") { try await badSpecs(instance) }
        await check("lifecycle") { try await lifecycle(instance) }
        await check("logs") { try await logs(instance) }
        await check("follow") { try await follow(instance) }
        await check("events") { try await eventsSeen(events) }
        await check("list") { try await list(instance) }
        await check("stop") { try await stop(instance) }
        await check("cancel-stream") { try await cancelStreams(instance) }
        await check("remove") { try await remove(instance) }
        await check("close") {
            events.stop()
            let closing = Task { await instance.close() }
            let closed = await Self.within(suite.timeout) { await closing.value }
            guard closed else {
                throw ConformanceFailure("close did not complete within \(suite.timeout): a stream's end never came, or a call never completed")
            }
            return "closed: every call completed, every stream ended and was released"
        }
    }

    /// Whether `operation` finished within `timeout` (it keeps running if it did not).
    static func within(_ timeout: Duration, _ operation: @escaping @Sendable () async -> Void) async -> Bool {
        let (outcomes, outcome) = AsyncStream<Bool>.makeStream()
        let work = Task {
            await operation()
            outcome.yield(true)
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            outcome.yield(false)
        }
        defer { timer.cancel() }
        for await finished in outcomes {
            if finished { _ = await work.value }
            return finished
        }
        return false
    }
}
