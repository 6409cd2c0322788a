import BerthPluginKit
import Foundation
import Synchronization

/// One attempt: a process in its own process group, its output kept in memory as chunks.
///
/// Three threads serve it: one reads stdout, one stderr, one waits for the exit. The attempt
/// has ended when the process exited and both pipes reached their end, so a follow never ends
/// before the last line.
final class Attempt: Sendable {
    let handle: RuntimeHandle
    let labels: [String: String]
    /// The process id, also its process group's id.
    let pid: pid_t
    private let state: Mutex<State>
    /// Told of each change of status.
    private let onChange: @Sendable (RuntimeStatus, [String: String]) -> Void

    private struct State {
        var status: RuntimeStatus
        var chunks: [LogChunk] = []
        var followers: [Int: PluginStream<LogChunk>.Continuation] = [:]
        var nextFollower = 0
        var openPipes = 2
        var exitCode: Int32?
        var ended: Bool { exitCode != nil && openPipes == 0 }
        var exitWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private init(
        handle: RuntimeHandle, labels: [String: String], pid: pid_t, onChange: @escaping @Sendable (RuntimeStatus, [String: String]) -> Void
    ) {
        self.handle = handle
        self.labels = labels
        self.pid = pid
        self.onChange = onChange
        state = Mutex(State(status: RuntimeStatus(state: .running, startedAt: Timestamp.now())))
    }

    /// Starts `argv` (the first found on `PATH`) with exactly `environment`, in
    /// `workingDirectory` when given (through `env -C`).
    static func spawn(
        handle: RuntimeHandle, labels: [String: String], argv: [String], environment: [String: String], workingDirectory: String?,
        onChange: @escaping @Sendable (RuntimeStatus, [String: String]) -> Void
    ) throws(PluginError) -> Attempt {
        var stdoutPipe: [Int32] = [0, 0]
        var stderrPipe: [Int32] = [0, 0]
        guard pipe(&stdoutPipe) == 0, pipe(&stderrPipe) == 0 else {
            throw PluginError(.internal, "cannot make pipes: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
        for fd in stdoutPipe + stderrPipe { posix_spawn_file_actions_addclose(&actions, fd) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A group of its own, so stop and remove reach the children of a shell too; and signals
        // as a new process has them, not as the host's thread that called start has them.
        var none = sigset_t()
        var all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)

        let command = workingDirectory.map { ["env", "-C", $0, "--"] + argv } ?? argv
        let arguments = command.map { strdup($0) } + [nil]
        let variables = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in arguments + variables { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, command[0], &actions, &attributes, arguments, variables)
        close(stdoutPipe[1])
        close(stderrPipe[1])
        guard spawned == 0 else {
            close(stdoutPipe[0])
            close(stderrPipe[0])
            throw PluginError(.invalidSpec, "spec.command: cannot run \(argv[0]): \(String(cString: strerror(spawned)))")
        }
        let attempt = Attempt(handle: handle, labels: labels, pid: pid, onChange: onChange)
        onChange(attempt.status, labels)
        let (stdout, stderr) = (stdoutPipe[0], stderrPipe[0])
        Thread.detachNewThread { attempt.read(stdout, .stdout) }
        Thread.detachNewThread { attempt.read(stderr, .stderr) }
        Thread.detachNewThread { attempt.waitForProcess() }
        return attempt
    }

    var status: RuntimeStatus { state.withLock { $0.status } }

    /// Sends `signal` to the process group, unless the attempt has ended: until then some
    /// process of the group holds its pipes (the shell may have exited and left a child).
    func signal(_ signal: Int32) {
        if !state.withLock({ $0.ended }) { kill(-pid, signal) }
    }

    /// Whether the attempt ended within `timeout`.
    func waitForExit(within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if state.withLock({ $0.ended }) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return state.withLock { $0.ended }
    }

    /// The output so far (from `since`), then, with `follow`, new output until the attempt ends.
    func output(follow: Bool, since: Timestamp?) -> PluginStream<LogChunk> {
        let (stream, continuation) = PluginStream<LogChunk>.makeStream()
        state.withLock { state in
            for chunk in state.chunks where since.map({ chunk.timestamp >= $0 }) ?? true { continuation.yield(chunk) }
            guard follow, !state.ended else {
                continuation.finish()
                return
            }
            let id = state.nextFollower
            state.nextFollower += 1
            state.followers[id] = continuation
            continuation.onTermination = { [weak self] _ in self?.state.withLock { _ = $0.followers.removeValue(forKey: id) } }
        }
        return stream
    }

    private func read(_ fd: Int32, _ stream: LogStream) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            let chunk = LogChunk(stream: stream, data: Array(buffer[..<count]), timestamp: Timestamp.now())
            state.withLock { state in
                state.chunks.append(chunk)
                for follower in state.followers.values { follower.yield(chunk) }
            }
        }
        close(fd)
        finishIfEnded { $0.openPipes -= 1 }
    }

    private func waitForProcess() {
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0, errno == EINTR {}
        // Exited: the low 7 bits are 0 and the code is in the next byte; else killed by the
        // signal in the low 7 bits, reported as a shell does (128 + signal).
        let code = raw & 0x7F == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)
        finishIfEnded { $0.exitCode = code }
    }

    /// Applies `change`; once the process has exited and its pipes are drained, records the
    /// exit, ends the follows and reports it.
    private func finishIfEnded(_ change: (inout State) -> Void) {
        let ended = state.withLock { state -> (RuntimeStatus, [PluginStream<LogChunk>.Continuation])? in
            change(&state)
            guard state.ended, !state.status.isFinal else { return nil }
            state.status = RuntimeStatus(
                state: .exited, exitCode: state.exitCode, startedAt: state.status.startedAt, finishedAt: Timestamp.now())
            defer { state.followers = [:] }
            return (state.status, Array(state.followers.values))
        }
        guard let (status, followers) = ended else { return }
        for follower in followers { follower.finish() }
        onChange(status, labels)
    }
}
