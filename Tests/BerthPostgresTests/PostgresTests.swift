import BerthCore
import BerthTestSupport
import Testing

/// The suite that holds every test needing a database; nested suites share its server.
@Suite(.postgresServer)
struct PostgresTests {}

/// A submission with every field set.
func sampleExecution(owner: String = "alice", priority: Int = 0, labels: [String: String] = [:], targetHost: String? = nil, name: String? = nil) -> NewExecution {
    NewExecution(
        name: name, owner: owner, image: "registry.local/sim:1", command: ["/bin/sh", "-c"], args: ["echo hi"],
        env: ["A": "1", "B": "two words"], workingDir: "/work", targetHost: targetHost, labels: labels,
        cpus: 1.5, memoryBytes: 256 * 1024 * 1024, timeoutSeconds: 60, priority: priority
    )
}
