import Foundation

/// Berth against raw Docker and against its goals (issue 9): one run, one table.
///
///     BerthPerf [benchmark …]       (default: all; names: dispatch throughput scale api logs memory)
///
/// Sizes come from the environment, so a quick run can shrink them: `BERTH_PERF_DISPATCH_RUNS`
/// (30), `BERTH_PERF_THROUGHPUT` (500), `BERTH_PERF_SCALE` (100000), `BERTH_PERF_API_SECONDS`
/// (10), `BERTH_PERF_LOG_MB` (200), `BERTH_PERF_QUEUED` (10000), `BERTH_PERF_RUNNING` (1000).
/// `bench/perf.sh` starts the test services, builds in release mode and runs it.
@main
struct BerthPerf {
    static func main() async {
        let environment = ProcessInfo.processInfo.environment
        func size(_ name: String, _ fallback: Int) -> Int { environment[name].flatMap(Int.init) ?? fallback }
        let all = ["dispatch", "throughput", "scale", "api", "logs", "memory"]
        let chosen = CommandLine.arguments.dropFirst().isEmpty ? all : Array(CommandLine.arguments.dropFirst())
        for name in chosen where !all.contains(name) {
            print("unknown benchmark '\(name)' (one of \(all.joined(separator: ", ")))")
            exit(2)
        }
        var rows: [Row] = []
        for name in chosen {
            FileHandle.standardError.write(Data("BerthPerf: \(name)…\n".utf8))
            do {
                switch name {
                case "dispatch": rows += try await DockerBenchmarks.dispatch(runs: size("BERTH_PERF_DISPATCH_RUNS", 30))
                case "throughput": rows += try await DockerBenchmarks.throughput(count: size("BERTH_PERF_THROUGHPUT", 500))
                case "scale": rows += try await SimulatedBenchmarks.scale(count: size("BERTH_PERF_SCALE", 100_000))
                case "api": rows += try await SimulatedBenchmarks.api(seconds: size("BERTH_PERF_API_SECONDS", 10))
                case "logs": rows += try await DockerBenchmarks.logs(megabytes: size("BERTH_PERF_LOG_MB", 200), lines: 100)
                default:
                    rows += try await SimulatedBenchmarks.memory(queued: size("BERTH_PERF_QUEUED", 10_000), running: size("BERTH_PERF_RUNNING", 1000))
                }
            } catch {
                rows.append(Row(name, "failed: \(error)", berth: "—"))
            }
        }
        print(Row.table(rows))
    }
}
