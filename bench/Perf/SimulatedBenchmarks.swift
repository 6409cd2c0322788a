import BerthClient
import BerthPluginKit
import Foundation

/// The benchmarks on Simulated hosts: scheduler scale, the API under wrk, memory.
enum SimulatedBenchmarks {
    /// 3. `count` executions on 100 Simulated hosts (`max_concurrent` 50 each), submitted
    /// through the API by 16 clients, until all have succeeded (counted in the database).
    static func scale(count: Int) async throws -> [Row] {
        let hosts = (0..<100).map { "  - {name: sim\($0), plugin: simulated, max_concurrent: 50, settings: {max_concurrent: 50}}" }
        let deployment = try await Deployment(hosts: hosts.joined(separator: "\n"))
        let began = ContinuousClock.now
        let client = deployment.client
        let submitters = 16
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<submitters {
                group.addTask {
                    for index in stride(from: worker, to: count, by: submitters) {
                        _ = try await client.submit(["image": "sim", "target_host": .string("sim\(index % 100)")])
                    }
                }
            }
            try await group.waitForAll()
        }
        let submitted = ContinuousClock.now - began
        while try await deployment.count(state: "succeeded") < count {
            try await Task.sleep(for: .milliseconds(100))
        }
        let total = ContinuousClock.now - began
        await deployment.stop()
        let rate = Double(count) / Stats.seconds(total)
        let submitRate = Double(count) / Stats.seconds(submitted)
        return [
            Row("3 scheduler scale (\(count), 100 hosts)", "executions/s end to end", berth: Stats.format(rate, 0),
                baseline: Stats.format(submitRate, 0) + " accepted/s", ratio: Stats.format(rate / submitRate, 2), goal: "≥ 2000", met: rate >= 2000),
        ]
    }

    /// 4. `GET /v1/executions/{id}` and `POST /v1/executions` under wrk (2 threads, 32
    /// connections, `seconds` each), against `GET /healthz` (no token, no database).
    static func api(seconds: Int) async throws -> [Row] {
        let deployment = try await Deployment(hosts: "  - {name: sim, plugin: simulated}")
        let id = try await deployment.submit(["image": "sim"])
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("berth-perf-wrk-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let get = folder.appendingPathComponent("get.lua")
        try "wrk.headers[\"Authorization\"] = \"Bearer \(deployment.token)\"\n".write(to: get, atomically: true, encoding: .utf8)
        let post = folder.appendingPathComponent("post.lua")
        try """
            wrk.method = "POST"
            wrk.body = '{"image": "berth/job:1", "args": ["run"], "labels": {"bench": "api"}}'
            wrk.headers["Content-Type"] = "application/json"
            wrk.headers["Authorization"] = "Bearer \(deployment.token)"
            """.write(to: post, atomically: true, encoding: .utf8)
        let health = try wrk(deployment.url + "/healthz", script: nil, seconds: seconds)
        let read = try wrk(deployment.url + "/v1/executions/\(id)", script: get.path, seconds: seconds)
        let write = try wrk(deployment.url + "/v1/executions", script: post.path, seconds: seconds)
        await deployment.stop()
        return [
            Row("4 API (wrk, 32 connections)", "GET /v1/executions/{id} req/s", berth: Stats.format(read.rate, 0),
                baseline: Stats.format(health.rate, 0) + " /healthz", ratio: Stats.format(read.rate / health.rate, 2), goal: "≥ 15000", met: read.rate >= 15000),
            Row("", "GET p99 ms", berth: Stats.format(read.p99, 2), baseline: Stats.format(health.p99, 2), goal: "≤ 10", met: read.p99 <= 10),
            Row("", "POST /v1/executions req/s", berth: Stats.format(write.rate, 0),
                baseline: Stats.format(health.rate, 0) + " /healthz", ratio: Stats.format(write.rate / health.rate, 2), goal: "≥ 3000", met: write.rate >= 3000),
            Row("", "POST p99 ms", berth: Stats.format(write.p99, 2), baseline: Stats.format(health.p99, 2), goal: "≤ 10", met: write.p99 <= 10),
        ]
    }

    /// wrk's requests per second and 99th percentile latency (ms) for `url`.
    private static func wrk(_ url: String, script: String?, seconds: Int) throws -> (rate: Double, p99: Double) {
        var arguments = ["-t2", "-c32", "-d\(seconds)s", "--latency"]
        if let script { arguments += ["-s", script] }
        let (status, output) = try Shell.run("/usr/bin/wrk", arguments + [url])
        guard status == 0 else { throw PerfError("wrk failed for \(url):\n\(output)") }
        var rate: Double?
        var p99: Double?
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.first == "Requests/sec:", fields.count > 1 { rate = Double(fields[1]) }
            if fields.first == "99%", fields.count > 1 { p99 = milliseconds(String(fields[1])) }
            if fields.first == "Non-2xx", fields.count > 4 { throw PerfError("wrk got errors for \(url): \(line)") }
        }
        guard let rate, let p99 else { throw PerfError("cannot read wrk's output for \(url):\n\(output)") }
        return (rate, p99)
    }

    /// A wrk latency (`812.00us`, `1.23ms`, `2.01s`) in milliseconds.
    private static func milliseconds(_ text: String) -> Double? {
        for (suffix, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)] where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * factor }
        }
        return nil
    }

    /// 6. The server's resident memory idle, then with `queued` queued and `running` running
    /// Simulated executions.
    static func memory(queued: Int, running: Int) async throws -> [Row] {
        let deployment = try await Deployment(
            hosts: "  - {name: sim, plugin: simulated, max_concurrent: \(running), settings: {max_concurrent: \(running)}}")
        try await Task.sleep(for: .seconds(3))
        let idle = Shell.residentBytes(of: deployment.pid) ?? 0
        let client = deployment.client
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for _ in stride(from: worker, to: queued + running, by: 8) {
                        _ = try await client.submit(["image": "sim", "target_host": "sim", "env": ["SIM_SECONDS": "3600"]])
                    }
                }
            }
            try await group.waitForAll()
        }
        for _ in 0..<600 where try await deployment.count(state: "running") < running {
            try await Task.sleep(for: .milliseconds(100))
        }
        try await Task.sleep(for: .seconds(2))
        let loaded = Shell.residentBytes(of: deployment.pid) ?? 0
        await deployment.stop()
        let idleMB = Double(idle) / 1_048_576, loadedMB = Double(loaded) / 1_048_576
        return [
            Row("6 memory (RSS)", "idle MiB", berth: Stats.format(idleMB), goal: "≤ 40", met: idleMB <= 40),
            Row("", "\(queued) queued + \(running) running MiB", berth: Stats.format(loadedMB), baseline: Stats.format(idleMB) + " idle",
                ratio: Stats.format(loadedMB / idleMB, 2), goal: "≤ 150", met: loadedMB <= 150),
        ]
    }
}
