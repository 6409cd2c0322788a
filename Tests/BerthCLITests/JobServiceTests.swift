import BerthClient
import BerthPluginKit
import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The job-service routes of a real `berth serve` (embedded PostgreSQL, the test Docker engine)
/// as a client of a FastAPI job service uses them: every route on real containers.
@Suite("Job-service routes on a real server")
struct JobServiceTests {
    /// The job: prints its config, reports one progress line per step, writes its result file;
    /// `sleep` in the config keeps it running.
    static let script = #"""
        cat /berth/in/config.json; echo
        steps=$(sed -n 's/.*"steps": *\([0-9]*\).*/\1/p' /berth/in/config.json)
        pause=$(sed -n 's/.*"sleep": *\([0-9]*\).*/\1/p' /berth/in/config.json)
        i=1
        while [ "$i" -le "${steps:-0}" ]; do echo "::berth::progress {\"step\": $i, \"of\": $steps}"; i=$((i + 1)); done
        echo "mode $MODE" >&2
        [ -n "$pause" ] && sleep "$pause"
        mkdir -p /berth/out
        echo "{\"sum\": ${steps:-0}, \"source\": \"$BERTH_CONFIG_SOURCE\"}" > /berth/out/result.json
        """#

    @Test("run-simulation, status, progress, result, logs, job-info, stop, jobs and health on containers")
    func everyRoute() async throws {
        let folder = try temporaryFolder("berth-jobs")
        defer { try? FileManager.default.removeItem(at: folder) }
        let configs = folder.appendingPathComponent("configs")
        try FileManager.default.createDirectory(at: configs, withIntermediateDirectories: true)
        try "steps: 3\n".write(to: configs.appendingPathComponent("run.yaml"), atomically: true, encoding: .utf8)
        let port = try freePort()
        let configFile = folder.appendingPathComponent("berth.yaml")
        let command = JSONValue.array(["sh", "-c", .string(Self.script)]).jsonText
        try """
            listen: {host: 127.0.0.1, port: \(port)}
            database: {url: null}
            data_dir: \(folder.path)/data
            default_host: local
            hosts:
              - name: local
                plugin: docker
                settings: {socket_path: \(try TestEnvironment.dockerSocket()), pull_policy: never}
            job_service:
              enabled: true
              image: \(TestEnvironment.localImage)
              command: \(command)
              env: {MODE: batch}
              config_folder: \(configs.path)
            """.write(to: configFile, atomically: true, encoding: .utf8)
        let server = try Subprocess(Subprocess.berth, ["serve", "--config", configFile.path])
        let url = "http://127.0.0.1:\(port)"
        do {
            for _ in 0..<600 where !server.stdout.contains("Berth is serving on \(url)") && server.process.isRunning {
                try await Task.sleep(for: .milliseconds(100))
            }
            try #require(server.stdout.contains("Berth is serving on \(url)"), "\(server.stdout)\n\(server.stderr)")
            let token = try String(contentsOfFile: folder.path + "/data/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            try await Self.exercise(BerthClient(baseURL: url, token: token), anonymous: BerthClient(baseURL: url))
        } catch {
            server.signal(SIGTERM)
            _ = try? await server.wait(timeout: 60)
            throw error
        }
        server.signal(SIGTERM)
        let stopped = try await server.wait(timeout: 60)
        #expect(stopped.status == 0, "\(stopped.stderr.suffix(4000))")
    }

    /// Polls `/status/{id}` until `done` holds for the status (at most two minutes).
    private static func waitForStatus(_ client: BerthClient, _ id: String, until done: (String) -> Bool) async throws -> JSONValue {
        for _ in 0..<1200 {
            let status = try await client.send("GET", "/status/\(id)")
            if done(status["status"]?.stringValue ?? "") { return status }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ClientError.invalidResponse("job \(id) did not reach the expected status")
    }

    private static func exercise(_ client: BerthClient, anonymous: BerthClient) async throws {
        #expect(try await anonymous.send("GET", "/health") == ["status": "healthy"])

        // A job from a config file: its progress, result, logs and details.
        let started = try await client.send("POST", "/run-simulation", body: ["config_path": "run.yaml"])
        let id = try #require(started["job_id"]?.stringValue)
        #expect(started["status"] == "queued")
        #expect(started["target_host"] == "local")
        let finished = try await waitForStatus(client, id) { ["completed", "failed", "stopped"].contains($0) }
        #expect(finished == ["job_id": .string(id), "status": "completed", "state": "succeeded", "exit_code": 0, "error": nil])
        let progress = try await client.send("GET", "/progress/\(id)")
        #expect(progress["progress"] == ["step": 3, "of": 3])
        #expect(progress["updated_at"]?.stringValue != nil)
        #expect(try await client.send("GET", "/result/\(id)") == ["job_id": .string(id), "status": "completed", "result": ["sum": 3, "source": "run.yaml"]])
        let logs = try await client.send("GET", "/logs/\(id)")
        let text = try #require(logs["logs"]?.stringValue)
        // The config the container printed (stderr's line may come first: the streams are apart).
        let printed = try #require(text.split(separator: "\n").first { $0.hasPrefix("{") }, "\(text)")
        #expect(try JSONValue(parsing: String(printed)) == ["steps": 3])
        #expect(text.contains("::berth::progress {\"step\": 2, \"of\": 3}\n") && text.contains("mode batch\n"), "\(text)")
        #expect(logs["truncated"] == false)
        // stdout and stderr are separate streams: which of the two ends the output is not fixed.
        let last = try #require(try await client.send("GET", "/logs/\(id)?tail=1")["logs"]?.stringValue)
        #expect(last.filter { $0 == "\n" }.count == 1 && text.hasSuffix(last), "\(last)")
        let info = try await client.send("GET", "/job-info/\(id)")
        #expect(info["config_path"] == "run.yaml")
        #expect(info["config"] == ["steps": 3])
        #expect(info["host"] == "local")
        #expect(info["image"] == .string(TestEnvironment.localImage))
        #expect(info["container_id"]?.stringValue?.count == 64, "\(info)")
        #expect(info["exit_code"] == 0)

        // A running job, stopped; stopping it again is a conflict.
        let long = try #require(try await client.send("POST", "/run-simulation", body: ["config": ["steps": 1, "sleep": 300], "target_host": "local"])["job_id"]?.stringValue)
        _ = try await waitForStatus(client, long) { $0 == "running" }
        let progressed = try await waitForProgress(client, long)
        #expect(progressed == ["step": 1, "of": 1])
        let stop = try await client.send("POST", "/stop/\(long)")
        #expect(stop["job_id"] == .string(long))
        #expect(["stopped", "running"].contains(stop["status"]?.stringValue ?? ""), "\(stop)")
        let stopped = try await waitForStatus(client, long) { $0 != "running" }
        #expect(stopped["status"] == "stopped")
        #expect(stopped["state"] == "cancelled")
        await #expect { try await client.send("POST", "/stop/\(long)") } throws: { ($0 as? ClientError)?.problem?.code == "job_finished" }
        await #expect { try await client.send("GET", "/result/\(long)") } throws: { ($0 as? ClientError)?.problem?.code == "no_result" }

        let jobs = try await client.send("GET", "/jobs")
        #expect(jobs["count"] == 2)
        #expect(jobs["jobs"]?.arrayValue?.compactMap { $0["job_id"]?.stringValue } == [long, id])
        #expect(jobs["jobs"]?.arrayValue?.compactMap { $0["status"]?.stringValue } == ["stopped", "completed"])
    }

    /// Polls `/progress/{id}` until the job has reported some.
    private static func waitForProgress(_ client: BerthClient, _ id: String) async throws -> JSONValue? {
        for _ in 0..<600 {
            if let progress = try await client.send("GET", "/progress/\(id)")["progress"], progress != .null { return progress }
            try await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }
}
