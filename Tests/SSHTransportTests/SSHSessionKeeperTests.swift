import BerthPluginKit
import BerthTestSupport
import Foundation
import Testing
import SSHTransport

/// The keeper of a host's one SSH connection, against the real sshd.
@Suite("SSH session keeper", .serialized, .sshd)
struct SSHSessionKeeperTests {
    @Test("twenty tasks asking at once share one login, and a dropped session is replaced by one new login")
    func oneLoginShared() async throws {
        let keeper = SSHSessionKeeper(endpoint: try SSHSessionTests.endpoint())
        defer { keeper.close() }
        let sessions = try await withThrowingTaskGroup(of: SSHSession.self) { group in
            for _ in 0..<20 { group.addTask { try await keeper.session() } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(keeper.loginCount == 1)
        #expect(sessions.allSatisfy { $0 === sessions[0] })
        #expect(try await SSHSessionTests.ping(sessions[0]).hasSuffix("OK"))

        sessions[0].close()  // as when the connection drops
        for _ in 0..<100 where sessions[0].isConnected { try await Task.sleep(for: .milliseconds(10)) }
        let again = try await keeper.session()
        #expect(again !== sessions[0])
        #expect(keeper.loginCount == 2)
        #expect(try await SSHSessionTests.ping(again).hasSuffix("OK"))
    }

    @Test("after a failed login, calls within the backoff fail at once with the same error and log in no more")
    func backoffAfterFailure() async throws {
        var endpoint = try SSHSessionTests.endpoint()
        endpoint.port = 1  // nothing listens there
        let keeper = SSHSessionKeeper(endpoint: endpoint, initialBackoff: 30)
        defer { keeper.close() }
        let first = await #expect(throws: PluginError.self) { _ = try await keeper.session() }
        for _ in 0..<5 {
            let repeated = await #expect(throws: PluginError.self) { _ = try await keeper.session() }
            #expect(repeated?.message == first?.message)
        }
        #expect(keeper.loginCount == 1)
        #expect(first?.code == .unavailable)
    }
}

/// The session thread sleeps in `poll()` when there is nothing to do.
@Suite("SSH session thread when idle", .sshd)
struct SSHIdleTests {
    /// CPU seconds the thread named `name` has used, from /proc (nil if there is no such thread).
    static func cpuSeconds(ofThreadNamed name: String) -> Double? {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        for task in tasks {
            guard let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
                  comm.trimmingCharacters(in: .whitespacesAndNewlines) == name,
                  let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
                  let afterName = stat.range(of: ") ")
            else { continue }
            let fields = stat[afterName.upperBound...].split(separator: " ")
            // utime and stime are fields 14 and 15 of stat; 12 and 13 after "pid (comm) ".
            guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
            return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }
        return nil
    }

    @Test("an idle session with keepalive replies and an idle channel does not spin")
    func idleDoesNotSpin() async throws {
        var endpoint = try SSHSessionTests.endpoint()
        endpoint.keepaliveInterval = 1
        let session = try await SSHSession.connect(endpoint)
        defer { session.close() }
        let channel = try await session.exec("cat")
        try await channel.write(Array("x\n".utf8))
        _ = try await channel.read()
        let name = session.threadName
        let before = try #require(Self.cpuSeconds(ofThreadNamed: name), "no thread named \(name)")
        try await Task.sleep(for: .seconds(3))
        let used = try #require(Self.cpuSeconds(ofThreadNamed: name)) - before
        #expect(used < 0.3, "the session thread used \(used) s of CPU in 3 s idle")
        channel.close()
    }
}
