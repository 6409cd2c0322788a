public import BerthPluginKit
import Foundation
#if canImport(Glibc)
import Glibc
#endif
public import Testing

/// Who may use the test sshd now: any number of tests at once, or one test alone (a test that
/// stops and restarts sshd must not pull it from under the others).
///
/// Swift Testing runs suites of every test target in one process and in parallel, so the
/// lock is process-wide; a waiting exclusive user holds back new shared ones, so it is not
/// starved.
public actor SSHDAccess {
    /// The one lock for the test sshd.
    public static let shared = SSHDAccess()

    private var users = 0
    private var exclusive = false
    private var waiting: [(exclusive: Bool, continuation: CheckedContinuation<Void, Never>)] = []

    /// Waits for shared or exclusive use.
    public func acquire(exclusive wantsExclusive: Bool) async {
        if canEnter(exclusive: wantsExclusive), waiting.isEmpty {
            enter(exclusive: wantsExclusive)
            return
        }
        await withCheckedContinuation { waiting.append((wantsExclusive, $0)) }
    }

    /// Ends a use and lets the next waiters in.
    public func release(exclusive wasExclusive: Bool) {
        if wasExclusive { exclusive = false }
        users -= 1
        while let next = waiting.first, canEnter(exclusive: next.exclusive) {
            waiting.removeFirst()
            enter(exclusive: next.exclusive)
            next.continuation.resume()
        }
    }

    private func canEnter(exclusive wantsExclusive: Bool) -> Bool {
        wantsExclusive ? users == 0 : !exclusive
    }

    private func enter(exclusive wantsExclusive: Bool) {
        users += 1
        if wantsExclusive { exclusive = true }
    }
}

/// Runs each test of a suite (or one test) while holding ``SSHDAccess``.
public struct SSHDAccessTrait: SuiteTrait, TestTrait, TestScoping {
    /// Whether the test has sshd to itself.
    public let exclusive: Bool

    public var isRecursive: Bool { true }

    /// Holds the lock around each test case; suites themselves pass through.
    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard testCase != nil else { return try await function() }
        await SSHDAccess.shared.acquire(exclusive: exclusive)
        do {
            try await function()
        } catch {
            await SSHDAccess.shared.release(exclusive: exclusive)
            throw error
        }
        await SSHDAccess.shared.release(exclusive: exclusive)
    }
}

extension Trait where Self == SSHDAccessTrait {
    /// The test uses the test sshd, alongside other such tests.
    public static var sshd: Self { SSHDAccessTrait(exclusive: false) }
    /// The test stops or restarts the test sshd, so it runs alone among the tests that use it.
    public static var sshdExclusive: Self { SSHDAccessTrait(exclusive: true) }
}

extension TestEnvironment {
    /// Settings for a `docker-ssh` host on the test sshd with the ed25519 client key; `key`
    /// and `knownHosts` name other variables of the rig for the error cases.
    public static func dockerSSHSettings(
        key: String = "BERTH_TEST_SSH_KEY_ED25519", knownHosts: String = "BERTH_TEST_SSH_KNOWN_HOSTS"
    ) throws -> [String: JSONValue] {
        [
            "address": .string(try require("BERTH_TEST_SSH_HOST")),
            "port": .number(Double(Int(try require("BERTH_TEST_SSH_PORT")) ?? 2222)),
            "user": .string(try require("BERTH_TEST_SSH_USER")),
            "identity_file": .string(try require(key)),
            "known_hosts": .string(try require(knownHosts)),
        ]
    }

    /// Runs one of the rig's shell commands (`BERTH_TEST_SSHD_STOP`, `BERTH_TEST_REMOTE_DOCKER_START`).
    ///
    /// Spawned with `posix_spawn` and reaped with `waitpid`, its output in a file: a daemon it
    /// starts (dockerd) inherits descriptors and outlives it, which makes Foundation's
    /// `Process.waitUntilExit` wait forever.
    public static func runRigCommand(_ variable: String) throws {
        let command = try require(variable)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("berth-rig-\(uniqueID()).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let arguments = ["/bin/sh", "-c", command]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/sh", &actions, nil, &argv, environ)
        guard spawned == 0 else { throw PluginError(.internal, "\(variable): cannot start /bin/sh: \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        // WIFEXITED and WEXITSTATUS, which Swift cannot call as macros.
        let exited = status & 0x7f == 0
        let code = (status >> 8) & 0xff
        guard exited, code == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw PluginError(.internal, "\(variable) failed (status \(status)): \(text.suffix(2000))")
        }
    }
}
