public import BerthPluginKit
import Synchronization

/// Keeps one logged-in ``SSHSession`` to an endpoint and logs in again after it drops.
///
/// Every channel of a host comes from here, so the host has one SSH connection (one login
/// against sshd's `MaxStartups`), however many tasks want channels. Logins are serialized:
/// tasks that want a session while one is being made wait for that one. After a failed login
/// the next is attempted only once a backoff has passed (doubling up to ``maxBackoff``); until
/// then callers get the last failure at once, so a host that is down costs no login per call.
public final class SSHSessionKeeper: Sendable {
    /// Connects and logs in; a parameter so tests can count logins.
    public typealias Connector = @Sendable (SSHEndpoint) async throws(PluginError) -> SSHSession

    private struct Failure {
        var error: PluginError
        var retryAt: ContinuousClock.Instant
        var backoff: Double
    }

    private struct State {
        var session: SSHSession?
        var login: Task<Result<SSHSession, PluginError>, Never>?
        var failure: Failure?
        var logins = 0
        var closed = false
    }

    /// Where the sessions go.
    public let endpoint: SSHEndpoint
    /// Seconds before the first retry after a failed login.
    public let initialBackoff: Double
    /// The longest wait between logins.
    public let maxBackoff: Double
    private let connector: Connector
    private let state = Mutex(State())

    /// A keeper for `endpoint`; no login happens until the first ``session()``.
    public init(
        endpoint: SSHEndpoint, initialBackoff: Double = 0.5, maxBackoff: Double = 10,
        connector: @escaping Connector = { endpoint throws(PluginError) in try await SSHSession.connect(endpoint) }
    ) {
        self.endpoint = endpoint
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.connector = connector
    }

    /// How many logins were started so far.
    public var loginCount: Int { state.withLock { $0.logins } }

    /// Whether a session is up now (no login is attempted).
    public var isConnected: Bool { state.withLock { $0.session?.isConnected ?? false } }

    /// The live session, logging in first when there is none.
    /// - Throws: the login's error (`unavailable`, `permission_denied`), or the last one while
    ///   the backoff after it runs; `unavailable` once closed.
    public func session() async throws(PluginError) -> SSHSession {
        enum Step { case ready(SSHSession), wait(Task<Result<SSHSession, PluginError>, Never>), fail(PluginError) }
        let step: Step = state.withLock { state in
            if state.closed {
                return .fail(PluginError(.unavailable, "ssh \(endpoint.hostPort): closed", retryable: false))
            }
            if let session = state.session {
                if session.isConnected { return .ready(session) }
                state.session = nil
            }
            if let login = state.login { return .wait(login) }
            if let failure = state.failure, ContinuousClock.now < failure.retryAt { return .fail(failure.error) }
            state.logins += 1
            let login = Task { await self.logIn() }
            state.login = login
            return .wait(login)
        }
        switch step {
        case .ready(let session): return session
        case .fail(let error): throw error
        case .wait(let login): return try await login.value.get()
        }
    }

    /// Opens an exec channel running `command` on the live session.
    public func exec(_ command: String) async throws(PluginError) -> SSHChannel {
        try await session().exec(command)
    }

    /// Closes the session; later calls fail.
    public func close() {
        takeForClosing()?.close()
    }

    /// Closes the session, and returns once its thread has let go of the connection (what a
    /// plugin instance's `close` must wait for).
    public func closeAndWait() async {
        await takeForClosing()?.closeAndWait()
    }

    private func takeForClosing() -> SSHSession? {
        state.withLock { state in
            state.closed = true
            defer { state.session = nil }
            return state.session
        }
    }

    private func logIn() async -> Result<SSHSession, PluginError> {
        let result: Result<SSHSession, PluginError>
        do throws(PluginError) {
            result = .success(try await connector(endpoint))
        } catch {
            result = .failure(error)
        }
        let orphan: SSHSession? = state.withLock { state in
            state.login = nil
            switch result {
            case .success(let session):
                state.failure = nil
                if state.closed { return session }
                state.session = session
            case .failure(let error):
                let backoff = state.failure.map { min($0.backoff * 2, maxBackoff) } ?? initialBackoff
                state.failure = Failure(error: error, retryAt: .now + .seconds(backoff), backoff: backoff)
            }
            return nil
        }
        orphan?.close()
        return result
    }
}
