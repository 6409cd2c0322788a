public import BerthPluginKit

/// The attempts the conformance suite starts, each described twice so that one spec drives any
/// backend: as a shell command (`sh -c`) for backends that run images, and as `SIM_*`
/// variables for the Simulated backend, which runs no command (docs/simulated.md). A backend
/// that runs images passes the variables into the container, where they do nothing.
///
/// Both descriptions print the same lines: `line <i>` on stdout and `err <i>` on stderr.
public struct ConformanceWorkload: Sendable {
    /// The image the shell-running backends start; it must have `sh`, `echo` and `sleep`.
    public var image: String
    /// A label on every object the run starts, so `list` can find exactly them.
    public var runLabel: (key: String, value: String)

    /// A workload on `image` for the run `runID`.
    public init(image: String, runID: String) {
        self.image = image
        runLabel = ("berth.conformance", runID)
    }

    /// Prints `line 1` and `err 1`, waits `seconds`, prints `line 2` and exits with `exitCode`.
    public func short(_ executionID: String, seconds: Int = 2, exitCode: Int = 7) -> ExecutionSpec {
        spec(
            executionID,
            script: "echo line 1; echo err 1 >&2; sleep \(seconds); echo line 2; exit \(exitCode)",
            simulated: ["SIM_SECONDS": "\(seconds)", "SIM_LINES": "2", "SIM_STDERR_LINES": "1", "SIM_EXIT": "\(exitCode)"])
    }

    /// Prints `line 1` and then runs for ten minutes unless stopped (ignoring SIGTERM, as a
    /// process that is PID 1 of a container does, so `stop` has to use its kill).
    public func long(_ executionID: String) -> ExecutionSpec {
        spec(
            executionID, script: "echo line 1; sleep 600",
            simulated: ["SIM_SECONDS": "600", "SIM_LINES": "1"])
    }

    private func spec(_ executionID: String, script: String, simulated: [String: String]) -> ExecutionSpec {
        ExecutionSpec(
            executionID: executionID, attempt: 1, image: image, command: ["sh", "-c", script],
            env: simulated, labels: [runLabel.key: runLabel.value], networkMode: "none", pullPolicy: .ifNotPresent)
    }

    /// The stdout a `short` attempt writes.
    public static let shortStdout = "line 1\nline 2\n"
    /// The stderr a `short` attempt writes.
    public static let shortStderr = "err 1\n"
}
