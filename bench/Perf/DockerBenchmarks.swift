import BerthClient
import BerthHTTP
import BerthPluginKit
import Foundation

/// The benchmarks on the local Docker engine: dispatch latency, throughput, logs.
enum DockerBenchmarks {
    static var socket: String { ProcessInfo.processInfo.environment["BERTH_TEST_DOCKER_SOCKET"] ?? "/var/run/docker.sock" }
    static var image: String { ProcessInfo.processInfo.environment["BERTH_TEST_IMAGE"] ?? "berth-test/busybox:1" }

    private static func deployment(maxConcurrent: Int) async throws -> Deployment {
        try await Deployment(
            hosts: "  - {name: local, plugin: docker, max_concurrent: \(maxConcurrent), settings: {socket_path: \(socket), pull_policy: never}}",
            extra: "default_host: local")
    }

    /// 1. Submit → running, p50 and p95, against create + start through the Engine API; Berth
    /// and raw samples alternate so both see the same machine.
    static func dispatch(runs: Int) async throws -> [Row] {
        let deployment = try await deployment(maxConcurrent: 4)
        let watch = TransitionWatch()
        await watch.start(url: deployment.url, token: deployment.token)
        let docker = RawDocker(socket: socket)
        var berth: [Duration] = []
        var raw: [Duration] = []
        for run in 0..<(runs + 2) {
            let began = ContinuousClock.now
            let id = try await deployment.submit(["image": .string(image), "args": ["true"]])
            let running = await watch.reached(id, ["running"])
            _ = await watch.reached(id, TransitionWatch.terminalStates)
            // Let the supervisor's clean-up (logs, outputs, remove) end before the raw sample.
            try await Task.sleep(for: .milliseconds(300))

            let rawBegan = ContinuousClock.now
            let container = try await docker.create(image, ["true"])
            try await docker.start(container)
            let rawRunning = ContinuousClock.now
            _ = try await docker.wait(container)
            try await docker.remove(container)
            try await Task.sleep(for: .milliseconds(300))
            // Two warm-up runs are not counted.
            if run >= 2 {
                berth.append(running - began)
                raw.append(rawRunning - rawBegan)
            }
        }
        await watch.stop()
        await deployment.stop()
        let p50 = Stats.milliseconds(Stats.percentile(berth, 0.5)), p95 = Stats.milliseconds(Stats.percentile(berth, 0.95))
        let rawP50 = Stats.milliseconds(Stats.percentile(raw, 0.5)), rawP95 = Stats.milliseconds(Stats.percentile(raw, 0.95))
        let overhead = p50 - rawP50
        return [
            Row("1 dispatch (\(runs) runs)", "submit → running p50 ms", berth: Stats.format(p50), baseline: Stats.format(rawP50),
                ratio: Stats.format(p50 / rawP50, 2)),
            Row("", "submit → running p95 ms", berth: Stats.format(p95), baseline: Stats.format(rawP95), ratio: Stats.format(p95 / rawP95, 2)),
            Row("", "overhead p50 ms (berth − raw)", berth: Stats.format(overhead), goal: "≤ 15", met: overhead <= 15),
        ]
    }

    /// 2. `count` trivial executions with 8 at a time, against the same work through the raw
    /// API by 8 workers (create, start, wait, remove). The two alternate in halves, raw, Berth,
    /// Berth, raw, so a drift of the machine or the engine during the run weighs on both alike.
    static func throughput(count: Int) async throws -> [Row] {
        let deployment = try await deployment(maxConcurrent: 8)
        let watch = TransitionWatch()
        await watch.start(url: deployment.url, token: deployment.token)
        let client = deployment.client
        let docker = RawDocker(socket: socket)
        var submitted = 0
        func viaBerth(_ executions: Int) async throws -> Duration {
            let began = ContinuousClock.now
            try await workers(executions) { _ = try await client.submit(["image": .string(image), "args": ["true"]]) }
            submitted += executions
            await watch.terminalCount(atLeast: submitted)
            return ContinuousClock.now - began
        }
        // BERTH_PERF_RAW_SAME_CALLS=1: the raw workers also make the engine calls Berth makes
        // per execution, to show how much of the difference those calls are.
        let sameCalls = ProcessInfo.processInfo.environment["BERTH_PERF_RAW_SAME_CALLS"] == "1"
        func viaEngine(_ executions: Int) async throws -> Duration {
            let began = ContinuousClock.now
            try await workers(executions) {
                let container = try await docker.create(image, ["true"])
                try await docker.start(container)
                _ = try await docker.wait(container)
                if sameCalls {
                    // What Berth asks of the engine besides: the logs (followed, then read once
                    // more) and the outputs folder (a `true` container has none: a 404).
                    _ = try await docker.logBytes(container)
                    _ = try await docker.logBytes(container)
                    _ = try? await docker.call("GET", "/containers/\(container)/archive?path=/berth/out")
                }
                try await docker.remove(container)
            }
            return ContinuousClock.now - began
        }
        let first = count / 2, second = count - count / 2
        let raw1 = try await viaEngine(first)
        let berth1 = try await viaBerth(first)
        let berth2 = try await viaBerth(second)
        let raw2 = try await viaEngine(second)
        // The legs show the engine's drift (the raw legs differ by as much as Berth and raw do).
        let legs = [raw1, berth1, berth2, raw2].map { Stats.format(Stats.seconds($0), 2) }
        FileHandle.standardError.write(Data("BerthPerf: throughput legs (s): raw \(legs[0]), Berth \(legs[1]), Berth \(legs[2]), raw \(legs[3])\n".utf8))
        let raw = raw1 + raw2, berth = berth1 + berth2
        await watch.stop()
        await deployment.stop()
        let ratio = Stats.seconds(berth) / Stats.seconds(raw)
        return [
            Row("2 throughput (\(count), 8 at a time)", "wall time s", berth: Stats.format(Stats.seconds(berth), 2),
                baseline: Stats.format(Stats.seconds(raw), 2), ratio: Stats.format(ratio, 2), goal: "ratio ≤ 1.10", met: ratio <= 1.10),
        ]
    }

    /// Runs `job` `count` times on 8 workers.
    private static func workers(_ count: Int, _ job: @escaping @Sendable () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for _ in stride(from: worker, to: count, by: 8) { try await job() }
                }
            }
            try await group.waitForAll()
        }
    }

    /// 5. `megabytes` of container output captured and stored, against reading the same output
    /// from the engine; and how long a followed line takes to reach a client.
    static func logs(megabytes: Int, lines: Int) async throws -> [Row] {
        let bytes = megabytes * 1_000_000
        // 100-byte lines.
        let script = "yes 012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012 | head -c \(bytes)"
        let deployment = try await deployment(maxConcurrent: 4)
        let watch = TransitionWatch()
        await watch.start(url: deployment.url, token: deployment.token)
        let id = try await deployment.submit(["image": .string(image), "args": ["sh", "-c", .string(script)]])
        let running = await watch.reached(id, ["running"])
        let ended = await watch.reached(id, TransitionWatch.terminalStates)
        let berthRate = Double(bytes) / 1e6 / Stats.seconds(ended - running)

        let docker = RawDocker(socket: socket)
        let container = try await docker.create(image, ["sh", "-c", script])
        let rawBegan = ContinuousClock.now
        try await docker.start(container)
        let read = try await docker.logBytes(container)
        let rawRate = Double(read) / 1e6 / Stats.seconds(ContinuousClock.now - rawBegan)
        try await docker.remove(container)

        // Follow latency: a line every 50 ms carrying the time it was printed.
        // (busybox's date has no %N; adjtimex gives the microseconds.)
        let now = #"adjtimex | awk '/tv_sec/{s=$2} /tv_usec/{u=$2} END{printf "%d%06d000\n", s, u}'"#
        let ticker = "i=0; while [ $i -lt \(lines) ]; do \(now); usleep 50000; i=$((i+1)); done"
        let followed = try await deployment.submit(["image": .string(image), "args": ["sh", "-c", .string(ticker)]])
        _ = await watch.reached(followed, ["running"])
        let berthLatency = try await lineLatencies(deployment.client.logs(followed, follow: true).map { $0.data })
        await watch.stop()
        await deployment.stop()

        let tickerContainer = try await docker.create(image, ["sh", "-c", ticker])
        try await docker.start(tickerContainer)
        let rawLatency = try await lineLatencies(docker.follow(tickerContainer).map { part -> String in
            switch part {
            case .body(let bytes): String(decoding: Self.payload(of: bytes), as: UTF8.self)
            case .head(_, _): ""
            }
        })
        try await docker.remove(tickerContainer)
        let p50 = Stats.milliseconds(Stats.percentile(berthLatency, 0.5))
        let rawP50 = Stats.milliseconds(Stats.percentile(rawLatency, 0.5))
        return [
            Row("5 logs (\(megabytes) MB)", "captured and stored MB/s", berth: Stats.format(berthRate), baseline: Stats.format(rawRate),
                ratio: Stats.format(berthRate / rawRate, 2), goal: "≥ 100", met: berthRate >= 100),
            Row("", "follow latency p50 ms", berth: Stats.format(p50), baseline: Stats.format(rawP50), ratio: Stats.format(p50 / max(rawP50, 0.001), 2),
                goal: "≤ 50", met: p50 <= 50),
        ]
    }

    /// How long after its printing each line arrived (lines hold the print time in ns since 1970).
    private static func lineLatencies(_ pieces: some AsyncSequence<String, any Error>) async throws -> [Duration] {
        var latencies: [Duration] = []
        var pending = ""
        for try await piece in pieces {
            let arrived = Date().timeIntervalSince1970
            pending += piece
            while let newline = pending.firstIndex(of: "\n") {
                let line = pending[..<newline]
                pending = String(pending[pending.index(after: newline)...])
                if let printed = Double(line.trimmingCharacters(in: .whitespaces)) {
                    latencies.append(.microseconds(Int64((arrived - printed / 1e9) * 1_000_000)))
                }
            }
        }
        return latencies
    }

    /// The payload of Docker's multiplexed log frames (8-byte headers dropped).
    private static func payload(of bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while index + 8 <= bytes.count {
            let length = Int(bytes[index + 4]) << 24 | Int(bytes[index + 5]) << 16 | Int(bytes[index + 6]) << 8 | Int(bytes[index + 7])
            let end = min(bytes.count, index + 8 + length)
            output += bytes[(index + 8)..<end]
            index = end
        }
        return output
    }
}
