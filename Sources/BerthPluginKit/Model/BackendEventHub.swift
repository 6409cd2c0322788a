import Synchronization

/// One source of ``BackendEvent``s shared by every subscriber of an instance: a Docker
/// engine's `/events` stream, a Kubernetes pod watch.
///
/// The `pump` (which reads the source and calls ``broadcast(_:)`` and
/// ``setAvailable(_:_:)``) starts with the first subscriber and is cancelled when the last
/// one leaves or at ``shutdown()``. A connection loss is reported once; every (re)connection is
/// reported, since it is the cue for consumers to catch up.
public final class BackendEventHub: Sendable {
    /// Reads the source until cancelled; gets the hub to report to.
    public typealias Pump = @Sendable (BackendEventHub) async -> Void

    private struct State {
        var subscribers: [Int: PluginStream<BackendEvent>.Continuation] = [:]
        var nextID = 0
        var pump: Task<Void, Never>?
        var available: Bool?
    }

    private let pump: Pump
    private let state = Mutex(State())

    /// A hub that runs `pump` while anyone listens.
    public init(pump: @escaping Pump) {
        self.pump = pump
    }

    /// A new subscriber's stream.
    public func subscribe() -> PluginStream<BackendEvent> {
        let (stream, continuation) = PluginStream<BackendEvent>.makeStream()
        let id = state.withLock { state -> Int in
            let id = state.nextID
            state.nextID += 1
            state.subscribers[id] = continuation
            if state.pump == nil {
                let pump = self.pump
                state.pump = Task { await pump(self) }
            }
            return id
        }
        continuation.onTermination = { _ in self.unsubscribe(id) }
        return stream
    }

    private func unsubscribe(_ id: Int) {
        let pump = state.withLock { state -> Task<Void, Never>? in
            state.subscribers[id] = nil
            guard state.subscribers.isEmpty else { return nil }
            defer { state.pump = nil; state.available = nil }
            return state.pump
        }
        pump?.cancel()
    }

    /// Ends every subscriber's stream and the pump.
    public func shutdown() {
        let (subscribers, pump) = state.withLock { state in
            defer { state.subscribers = [:]; state.pump = nil }
            return (Array(state.subscribers.values), state.pump)
        }
        pump?.cancel()
        for subscriber in subscribers { subscriber.finish() }
    }

    /// Sends `event` to every subscriber.
    public func broadcast(_ event: BackendEvent) {
        let subscribers = state.withLock { Array($0.subscribers.values) }
        for subscriber in subscribers { subscriber.yield(event) }
    }

    /// Reports a (re)connection, or a loss once.
    public func setAvailable(_ available: Bool, _ message: String) {
        let changed = state.withLock { state -> Bool in
            guard available || state.available != false else { return false }
            state.available = available
            return true
        }
        if changed { broadcast(.connection(available: available, message: message)) }
    }

    /// Reads a source until the task is cancelled: `connect` reads until it fails; each failure
    /// is reported as a loss, with the message `lost` makes of it, and `connect` runs again
    /// after a backoff of 0.2 s doubling to 5 s, which starts over once a run calls its
    /// `connected` argument.
    public func reconnecting(
        lost: (PluginError) -> String, _ connect: (_ connected: () -> Void) async throws(PluginError) -> Void
    ) async {
        var backoff = 0.2
        while !Task.isCancelled {
            do throws(PluginError) {
                try await connect { backoff = 0.2 }
            } catch {
                guard !Task.isCancelled else { return }
                setAvailable(false, lost(error))
                try? await Task.sleep(for: .seconds(backoff))
                backoff = min(backoff * 2, 5)
            }
        }
    }
}
