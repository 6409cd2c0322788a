import BerthClient
import BerthPluginKit
import BerthPostgres
import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 6's fault scenarios, scripted against real processes: `berth serve` (one or two, on
/// their own PostgreSQL cluster), the two test Docker engines and the test sshd. Each scenario
/// asserts that no execution is lost, none runs twice and no container is left behind, and
/// reports those figures for `scripts/faults.sh`.
///
/// Every scenario is heavy (up to 500 containers) or stops a shared service, so each runs with
/// `.sshdExclusive`: alone among the tests that use the remote engine.
@Suite("Faults: kill -9, failover, engine, database and sshd outages", .serialized)
struct FaultTests {
    /// The script of execution `i`: a line, a sleep, a line, an exit code of its own.
    static func script(_ i: Int, sleep: Int) -> String {
        "echo start-\(i); sleep \(sleep); echo end-\(i) >&2; exit \(i % 4)"
    }

    /// Checks executions ran `script(i, …)` to their true end: the exit code and state of `i`,
    /// both lines stored once. Returns how many did not (lost).
    static func checkTrueEnds(_ rig: FaultRig, _ ids: [String], _ ended: [String: ExecutionView], via index: Int) async throws -> Int {
        var lost = 0
        for (i, id) in ids.enumerated() {
            guard let view = ended[id] else { lost += 1; continue }
            let (out, err) = try await rig.output(id, via: index)
            let right = view.exitCode == i % 4 && view.state == (i % 4 == 0 ? "succeeded" : "failed")
                && out == "start-\(i)\n" && err == "end-\(i)\n"
            if !right {
                lost += 1
                Issue.record("execution \(i) (\(id)): \(view.state) exit \(String(describing: view.exitCode)) (\(view.stateReason ?? "")); stdout \(out.debugDescription) stderr \(err.debugDescription)")
            }
        }
        return lost
    }

    /// Waits until the executions (each running `script(i, …)`) end, checks their true ends, one
    /// attempt each and no container left, and reports the scenario's row.
    static func conclude(_ rig: FaultRig, _ scenario: String, _ ids: [String], timeout: Duration) async throws {
        let ended = try await rig.waitTerminal(ids, via: 0, timeout: timeout)
        let lost = try await checkTrueEnds(rig, ids, ended, via: 0)
        let duplicated = ended.values.filter { $0.attempts != 1 }.count
        let orphaned = try await orphans(rig)
        #expect(lost == 0)
        #expect(duplicated == 0)
        #expect(orphaned == 0)
        FaultRig.record(.init(scenario: scenario, executions: ids.count, lost: lost, duplicated: duplicated, orphaned: orphaned))
    }

    /// Containers of the deployment still on either engine, after waiting up to 30 s for the
    /// server to remove those of executions that just ended.
    static func orphans(_ rig: FaultRig) async throws -> Int {
        var left: [String] = []
        for _ in 0..<120 {
            left = []
            for engine in try FaultRig.engines() { left += try await rig.containers(engine: engine) }
            if left.isEmpty { return 0 }
            try await Task.sleep(for: .milliseconds(250))
        }
        Issue.record("containers left: \(left)")
        return left.count
    }

    @Test("kill -9 of the server with 50 executions running on two engines: after a restart all 50 end truly, no container left", .sshdExclusive)
    func killDashNineWithFiftyRunning() async throws {
        try await FaultRig.with { rig in
            try await rig.start(0)
            // Long enough for all 50 to be running at once on a loaded 2-core machine.
            let local = try await rig.submit(25, host: "local") { Self.script($0, sleep: 25) }
            let remote = try await rig.submit(25, host: "remote") { Self.script($0 + 25, sleep: 25) }
            let ids = local + remote
            try await FaultRig.until("all 50 running", timeout: .seconds(90)) {
                var running = 0
                for id in ids where try await rig.client(0).get(id).state == "running" { running += 1 }
                return running == ids.count
            }
            try await rig.kill9(0)
            try await Task.sleep(for: .seconds(1))
            let restarted = try await rig.start(0)
            try await Self.conclude(rig, "kill -9 with 50 running on two engines", ids, timeout: .seconds(120))
            #expect(restarted.stderr.components(separatedBy: "adopted an attempt").count - 1 == ids.count)
        }
    }

    @Test("two servers, 500 submissions, kill -9 of the leader half-way: the other takes over and every execution runs exactly once", .sshdExclusive)
    func failoverUnderLoad() async throws {
        try await FaultRig.with(instances: 2, maxConcurrent: 8) { rig in
            let counters = try FaultRig.engines().map { try ContainerStartCounter(engine: $0, serverID: rig.serverID) }
            try await rig.start(0)
            try await FaultRig.until("server 0 leads", timeout: .seconds(30)) { rig.leader() == 0 }
            try await rig.start(1)
            // Every server serves the API: submit through the one that does not lead.
            let count = 500
            var ids: [String] = []
            for i in 0..<count {
                let created = try await rig.client(1).submit([
                    "image": .string(TestEnvironment.localImage), "args": ["sh", "-c", .string("echo run-\(i)")],
                    "target_host": .string(i % 2 == 0 ? "local" : "remote"),
                ])
                ids.append(created.id)
            }
            try await FaultRig.until("half of them done", timeout: .seconds(300)) {
                try await rig.client(1).list(BerthClient.ListFilter(states: ["succeeded"], limit: 500)).executions.count >= count / 2
            }
            let killedAt = ContinuousClock.now
            try await rig.kill9(0)
            try await FaultRig.until("server 1 takes over", timeout: .seconds(60)) { rig.leader() == 1 }
            let takeover = ContinuousClock.now - killedAt
            #expect(takeover < .seconds(30), "took over after \(takeover)")
            let ended = try await rig.waitTerminal(ids, via: 1, timeout: .seconds(400))
            var starts: [String: Int] = [:]
            for counter in counters { starts.merge(try await counter.finish(), uniquingKeysWith: +) }
            var lost = 0
            for (i, id) in ids.enumerated() {
                let (out, _) = try await rig.output(id, via: 1)
                if ended[id]?.state != "succeeded" || out != "run-\(i)\n" {
                    lost += 1
                    Issue.record("execution \(i): \(String(describing: ended[id]?.state)) \(ended[id]?.stateReason ?? ""); stdout \(out.debugDescription)")
                }
            }
            let duplicated = ids.filter { starts[$0, default: 0] > 1 }.count
            let neverStarted = ids.filter { starts[$0] == nil }.count
            #expect(lost == 0)
            #expect(duplicated == 0, "started more than once: \(ids.filter { starts[$0, default: 0] > 1 })")
            #expect(neverStarted == 0)
            #expect(starts.keys.allSatisfy(Set(ids).contains))
            let orphaned = try await Self.orphans(rig)
            print("failover: leader killed with \(count / 2)+ of \(count) done; server 1 led \(takeover) later")
            FaultRig.record(.init(scenario: "two servers, 500 submissions, kill -9 of the leader", executions: count, lost: lost, duplicated: duplicated, orphaned: orphaned))
        }
    }

    @Test("the remote Docker engine stops for 20 s: the host turns unhealthy, new work waits, nothing fails; then everything completes", .sshdExclusive)
    func engineStopped() async throws {
        try await FaultRig.with { rig in
            try await rig.start(0)
            let running = try await rig.submit(3, host: "remote") { Self.script($0, sleep: 30) }
            try await FaultRig.until("the first three run", timeout: .seconds(60)) {
                var started = 0
                for id in running where try await rig.output(id, via: 0).0.hasPrefix("start-") { started += 1 }
                return started == running.count
            }
            let stoppedAt = ContinuousClock.now
            try TestEnvironment.runRigCommand("BERTH_TEST_REMOTE_DOCKER_STOP")
            var waiting: [String] = []
            do {
                try await FaultRig.until("the host reports unhealthy", timeout: .seconds(30)) {
                    let hosts = try await rig.client(0).hosts()
                    let remote = (hosts["items"]?.arrayValue ?? hosts.arrayValue ?? []).first { $0["name"] == "remote" }
                    return remote?["health"]?["ok"] == false
                }
                waiting = try await rig.submit(3, host: "remote") { Self.script($0 + 3, sleep: 1) }
                while ContinuousClock.now - stoppedAt < .seconds(20) {
                    for id in running + waiting {
                        let view = try await rig.client(0).get(id)
                        #expect(!view.isTerminal, "\(id) is \(view.state) (\(view.stateReason ?? "")) during the outage")
                    }
                    try await Task.sleep(for: .seconds(1))
                }
            } catch {
                try TestEnvironment.runRigCommand("BERTH_TEST_REMOTE_DOCKER_START")
                throw error
            }
            try TestEnvironment.runRigCommand("BERTH_TEST_REMOTE_DOCKER_START")
            let ids = running + waiting
            try await Self.conclude(rig, "Docker engine stopped for 20 s", ids, timeout: .seconds(120))
        }
    }

    @Test("PostgreSQL restarts: the API answers 503 problem details while it is down, nothing accepted is lost, state catches up", .sshdExclusive)
    func databaseRestart() async throws {
        try await FaultRig.with { rig in
            try await rig.start(0)
            let client = rig.client(0)
            let ids = try await rig.submit(3, host: "local") { Self.script($0, sleep: 6) }
                + rig.submit(3, host: "remote") { Self.script($0 + 3, sleep: 6) }
            try await FaultRig.until("all six run", timeout: .seconds(60)) {
                var running = 0
                for id in ids where try await client.get(id).state == "running" { running += 1 }
                return running == ids.count
            }
            try await rig.postgres.stop()
            do {
                do {
                    _ = try await client.get(ids[0])
                    Issue.record("GET answered while the database is down")
                } catch let error as ClientError {
                    #expect(error.problem?.status == 503)
                    #expect(error.problem?.code == "unavailable")
                }
                do {
                    _ = try await client.submit(["image": .string(TestEnvironment.localImage)])
                    Issue.record("POST answered while the database is down")
                } catch let error as ClientError {
                    #expect(error.problem?.status == 503)
                }
                #expect(await client.isReady() == false)
                try await Task.sleep(for: .seconds(5))
            } catch {
                _ = try? await rig.postgres.start()
                throw error
            }
            _ = try await rig.postgres.start()
            try await FaultRig.until("ready again", timeout: .seconds(30)) { await client.isReady() }
            let after = try await rig.submit(1, host: "local") { Self.script($0 + 6, sleep: 0) }
            let all = ids + after
            try await Self.conclude(rig, "PostgreSQL restarted", all, timeout: .seconds(90))
        }
    }

    @Test("sshd of the remote host is killed mid-run and comes back: the executions there complete", .sshdExclusive)
    func sshdKilled() async throws {
        try await FaultRig.with { rig in
            try await rig.start(0)
            let ids = try await rig.submit(5, host: "remote") { Self.script($0, sleep: 8) }
            try await FaultRig.until("all five run", timeout: .seconds(60)) {
                var started = 0
                for id in ids where try await rig.output(id, via: 0).0.hasPrefix("start-") { started += 1 }
                return started == ids.count
            }
            try TestEnvironment.runRigCommand("BERTH_TEST_SSHD_STOP")
            do {
                try await Task.sleep(for: .seconds(4))
                for id in ids {
                    let view = try await rig.client(0).get(id)
                    #expect(!view.isTerminal, "\(id) is \(view.state) while sshd is away")
                }
            } catch {
                try TestEnvironment.runRigCommand("BERTH_TEST_SSHD_START")
                throw error
            }
            try TestEnvironment.runRigCommand("BERTH_TEST_SSHD_START")
            try await Self.conclude(rig, "sshd killed mid-run", ids, timeout: .seconds(90))
        }
    }

    @Test("a server whose server_id or secrets key differs from the deployment's refuses to start; one with no server_id takes the recorded one", .sshdExclusive)
    func serverIDMustMatch() async throws {
        try await FaultRig.with(instances: 2) { rig in
            try await rig.start(0)
            let config = try String(contentsOf: rig.configFile(1), encoding: .utf8)
            try config.replacingOccurrences(of: "server_id: \(rig.serverID)", with: "server_id: berth-other")
                .write(to: rig.configFile(1), atomically: true, encoding: .utf8)
            let refused = try await Subprocess.berth(["serve", "--config", rig.configFile(1).path], timeout: 60)
            #expect(refused.status == 1)
            #expect(refused.stderr.contains(
                "server_id 'berth-other' differs from '\(rig.serverID)', the server id recorded in the database"), "\(refused.stderr)")
            try config.replacingOccurrences(of: "server_id: \(rig.serverID)\n", with: "")
                .write(to: rig.configFile(1), atomically: true, encoding: .utf8)
            let second = try await rig.start(1)
            #expect(second.stderr.contains("server_id=\(rig.serverID)"), "\(second.stderr.prefix(2000))")
            // Another secrets key than the deployment's is refused too.
            let withoutSharedKey = try String(contentsOf: rig.configFile(1), encoding: .utf8)
                .replacingOccurrences(of: "secrets: {key_file: \(rig.folder.path)/secrets.key}\n", with: "")
            try withoutSharedKey.write(to: rig.configFile(1), atomically: true, encoding: .utf8)
            try await rig.kill9(1)
            let otherKey = try await Subprocess.berth(["serve", "--config", rig.configFile(1).path], timeout: 60)
            #expect(otherKey.status == 1)
            #expect(otherKey.stderr.contains("is not the deployment's"), "\(otherKey.stderr)")
        }
    }
}
