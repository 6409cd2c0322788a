import BerthHTTP
import BerthPluginKit
import CurlHTTP

/// Follows `GET /v1/events` of a deployment and notes when each execution's transitions arrive
/// (the client's view: the time a caller waiting for a state would learn of it).
actor TransitionWatch {
    private var seen: [String: [String: ContinuousClock.Instant]] = [:]
    private var waiters: [(id: String, states: Set<String>, continuation: CheckedContinuation<ContinuousClock.Instant, Never>)] = []
    private var countWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    private(set) var terminal = 0
    private var reading: Task<Void, Never>?

    static let terminalStates: Set<String> = ["succeeded", "failed", "timed_out", "cancelled", "lost"]

    /// Opens the stream; returns once it is open (events after this are seen).
    func start(url: String, token: String) async {
        let transport = CurlTransport(endpoint: .url(url))
        let request = HTTPRequest(method: "GET", path: "/v1/events", headers: ["Authorization": "Bearer \(token)", "Accept": "text/event-stream"])
        let (opened, open) = AsyncStream<Void>.makeStream()
        reading = Task {
            var buffer: [UInt8] = []
            do {
                for try await part in transport.stream(request) {
                    guard case .body(let bytes) = part else { continue }
                    buffer += bytes
                    open.yield()
                    while let end = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = buffer[..<end]
                        buffer.removeSubrange(...end)
                        guard line.starts(with: Array("data: ".utf8)), let event = try? JSONValue(parsing: Array(line.dropFirst(6))),
                              let id = event["execution_id"]?.stringValue, let state = event["to_state"]?.stringValue
                        else { continue }
                        self.note(id, state, at: .now)
                    }
                }
            } catch {}
            open.finish()
        }
        for await _ in opened { break }
    }

    /// Stops following.
    func stop() { reading?.cancel() }

    private func note(_ id: String, _ state: String, at instant: ContinuousClock.Instant) {
        seen[id, default: [:]][state] = instant
        if Self.terminalStates.contains(state) { terminal += 1 }
        waiters.removeAll { waiter in
            guard waiter.id == id, waiter.states.contains(state) else { return false }
            waiter.continuation.resume(returning: instant)
            return true
        }
        countWaiters.removeAll { waiter in
            guard terminal >= waiter.count else { return false }
            waiter.continuation.resume()
            return true
        }
    }

    /// When execution `id` reached one of `states` (waits until it does).
    func reached(_ id: String, _ states: Set<String>) async -> ContinuousClock.Instant {
        if let known = seen[id]?.first(where: { states.contains($0.key) })?.value { return known }
        return await withCheckedContinuation { waiters.append((id, states, $0)) }
    }

    /// Waits until `count` executions have reached a terminal state.
    func terminalCount(atLeast count: Int) async {
        guard terminal < count else { return }
        await withCheckedContinuation { countWaiters.append((count, $0)) }
    }
}
