import Synchronization

/// Keeps the header's promise about `close`: it is called only after every other call on the
/// instance has completed and every stream of it has been released.
///
/// Calls register while they run; streams register until they are released. `closeWhenIdle`
/// refuses new work, cancels the live streams, and waits for both counts to reach zero.
final class InstanceLifetime: Sendable {
    private struct State {
        var closing = false
        var callsInFlight = 0
        var streams: [ObjectIdentifier: ImportedStream] = [:]
        var idleWaiters: [CheckedContinuation<Void, Never>] = []

        var isIdle: Bool { callsInFlight == 0 && streams.isEmpty }

        mutating func takeWaitersIfIdle() -> [CheckedContinuation<Void, Never>] {
            guard isIdle else { return [] }
            defer { idleWaiters = [] }
            return idleWaiters
        }
    }

    private let state = Mutex(State())

    /// Registers a call; false once the instance is closing.
    func enterCall() -> Bool {
        state.withLock { state in
            guard !state.closing else { return false }
            state.callsInFlight += 1
            return true
        }
    }

    /// A registered call completed.
    func leaveCall() {
        let waiters = state.withLock { state in
            state.callsInFlight -= 1
            return state.takeWaitersIfIdle()
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Registers a live stream; false once the instance is closing.
    func add(_ stream: ImportedStream) -> Bool {
        state.withLock { state in
            guard !state.closing else { return false }
            state.streams[ObjectIdentifier(stream)] = stream
            return true
        }
    }

    /// A stream was released.
    func remove(_ stream: ImportedStream) {
        let waiters = state.withLock { state in
            state.streams[ObjectIdentifier(stream)] = nil
            return state.takeWaitersIfIdle()
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Refuses new calls and streams, cancels the live streams, and returns once every call
    /// has completed and every stream has been released.
    func closeWhenIdle() async {
        let streams = state.withLock { state in
            state.closing = true
            return Array(state.streams.values)
        }
        for stream in streams { stream.cancel() }
        await withCheckedContinuation { continuation in
            let idle = state.withLock { state in
                if state.isIdle { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }
}
