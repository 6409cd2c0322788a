import BerthCore
import BerthPluginKit
import BerthPostgres
@testable import BerthServer
import BerthTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("GET /metrics", .postgresServer)
struct MetricsTests {
    /// The value of the series line that starts with `series ` (name and labels, exactly).
    private func value(_ text: String, _ series: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.dropFirst(series.count + 1)) }
    }

    @Test("after a run: executions by state and host, queue depth, host health, scheduling and plugin call latency, log bytes")
    func seriesAfterARun() async throws {
        TestMetrics.bootstrap()
        // Host names of their own: the recorded series are the process's, shared with other tests.
        let sim = "metrics-" + TestEnvironment.uniqueID().prefix(8), ghost = "ghost-" + TestEnvironment.uniqueID().prefix(8)
        let hosts = [TargetHostConfiguration(name: sim, plugin: "simulated"), TargetHostConfiguration(name: ghost, plugin: "no-such-plugin")]
        try await ServerHarness.run(hosts: hosts) { h in
            let supervisor = ExecutionSupervisor(store: h.store, plugins: h.plugins, logger: TestServer.logger)
            var configuration = SchedulerConfiguration(defaultHost: sim, maxConcurrent: [:])
            configuration.leaderLockKey = .random(in: 1...Int64.max)
            let scheduler = Scheduler(store: h.store, plugins: h.plugins, supervisor: supervisor, configuration: configuration, logger: TestServer.logger)
            let running = Task { await scheduler.run() }
            defer { running.cancel() }
            let ran = try h.id(of: try await h.submit(["image": "sim/test:1", "env": ["SIM_SECONDS": "0", "SIM_LINES": "3"]]))
            _ = try await h.submit(["image": "sim/test:1", "target_host": .string(ghost)])
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(30)
            while try await h.store.execution(id: ran)?.state != .succeeded, clock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let response = try await h.request(.get, "/metrics")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = response.text
            #expect(value(text, "berth_executions{state=\"succeeded\",host=\"\(sim)\"}") == 1)
            #expect(value(text, "berth_executions{state=\"queued\",host=\"\(ghost)\"}") == 1)
            #expect(value(text, "berth_queue_depth") == 1)
            #expect(value(text, "berth_host_up{host=\"\(sim)\"}") == 1)
            #expect(value(text, "berth_host_up{host=\"\(ghost)\"}") == 0)
            #expect((value(text, "berth_scheduling_latency_seconds_count{host=\"\(sim)\"}") ?? 0) == 1)
            for operation in ["start", "health"] {
                let calls = value(text, "berth_plugin_call_duration_seconds_count{host=\"\(sim)\",operation=\"\(operation)\"}") ?? 0
                #expect(calls >= 1, "\(operation) calls")
            }
            // "line 1\nline 2\nline 3\n": 21 bytes, at least (the counter is the process's).
            #expect((value(text, "berth_log_bytes_stored_total") ?? 0) >= 21)
            #expect(text.contains("# TYPE berth_plugin_call_duration_seconds histogram"))

            #expect(try await h.request(.get, "/metrics", as: .anonymous).status == .unauthorized)
            let submitter = try await h.makeToken(.submitter, owner: "someone")
            #expect(try await h.request(.get, "/metrics", as: .token(submitter)).status == .forbidden)
            await scheduler.shutdown()
            await running.value
            await supervisor.shutdown()
        }
    }
}
