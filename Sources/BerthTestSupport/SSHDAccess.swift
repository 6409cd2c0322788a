public import BerthPluginKit
import Foundation
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

    /// Runs one of the rig's shell commands (`BERTH_TEST_SSHD_STOP`, `BERTH_TEST_SSHD_START`).
    /// Its output goes to a file, not a pipe: a daemon it starts must not hold our pipe open.
    public static func runRigCommand(_ variable: String) throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("berth-rig-\(uniqueID()).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let output = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", try require(variable)]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        try? output.close()
        guard process.terminationStatus == 0 else {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw PluginError(.internal, "\(variable) exited with \(process.terminationStatus): \(text.suffix(2000))")
        }
    }
}
