import BerthPluginKit
import Synchronization

/// Runs `operation` in a task of its own and returns its result, or fails with `timeout`
/// after `seconds` (cancelling the operation, which must then clean up after itself).
/// Cancelling the caller cancels the operation too. Without `seconds`, it just runs it.
func withTimeout<T: Sendable>(
    _ seconds: Double?, error timeout: @autoclosure @escaping @Sendable () -> PluginError,
    _ operation: @escaping @Sendable () async throws(PluginError) -> T
) async throws(PluginError) -> T {
    let race = Race<T>()
    let result: Result<T, PluginError> = await withTaskCancellationHandler {
        await withCheckedContinuation { continuation in
            race.start(continuation)
            let work = Task {
                do throws(PluginError) {
                    race.settle(.success(try await operation()))
                } catch {
                    race.settle(.failure(error))
                }
            }
            race.track(work)
            if let seconds {
                race.track(Task {
                    try? await Task.sleep(for: .seconds(max(0, seconds)))
                    if !Task.isCancelled { race.settle(.failure(timeout())) }
                })
            }
        }
    } onCancel: {
        race.settle(.failure(PluginError(.internal, "cancelled")))
    }
    return try result.get()
}

/// The state `withTimeout` shares between its operation, its timer and cancellation: the
/// first result wins and cancels the others.
private final class Race<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Result<T, PluginError>, Never>?
        var early: Result<T, PluginError>?
        var tasks: [Task<Void, Never>] = []
        var settled = false
    }

    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<Result<T, PluginError>, Never>) {
        let early: Result<T, PluginError>? = state.withLock { state in
            if let early = state.early { return early }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(returning: early) }
    }

    func track(_ task: Task<Void, Never>) {
        let cancel = state.withLock { state in
            if !state.settled { state.tasks.append(task) }
            return state.settled
        }
        if cancel { task.cancel() }
    }

    func settle(_ result: Result<T, PluginError>) {
        let (continuation, tasks): (CheckedContinuation<Result<T, PluginError>, Never>?, [Task<Void, Never>]) = state.withLock { state in
            guard !state.settled else { return (nil, []) }
            state.settled = true
            defer { state.tasks = []; state.continuation = nil }
            if state.continuation == nil { state.early = result }
            return (state.continuation, state.tasks)
        }
        for task in tasks { task.cancel() }
        continuation?.resume(returning: result)
    }
}
