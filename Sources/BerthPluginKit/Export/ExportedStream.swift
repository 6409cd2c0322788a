import Synchronization

/// A Swift stream behind the ABI's `berth_stream_t *`.
///
/// One task pumps the Swift stream into the item callback and then calls the end callback
/// once. The object is kept alive by one retain that is dropped when both the host has
/// released the handle and the end callback has returned, as the header requires.
final class ExportedStream: Sendable {
    private struct State {
        var task: Task<Void, Never>?
        var cancelled = false
        var released = false
        var ended = false
    }

    private let state = Mutex(State())

    private init() {}

    /// Starts pumping `makeStream()` into `sink` and returns the retained handle.
    static func start(
        _ sink: StreamSink, _ makeStream: @escaping @Sendable () -> AsyncMapSequence<PluginStream<some Sendable>, JSONValue>
    ) -> OpaquePointer {
        let stream = ExportedStream()
        let handle = OpaquePointer(Unmanaged.passRetained(stream).toOpaque())
        stream.state.withLock { state in
            state.task = Task {
                var failure: PluginError?
                do {
                    for try await item in makeStream() {
                        if stream.state.withLock({ $0.cancelled }) { break }
                        sink.send(item)
                    }
                } catch let error as PluginError {
                    failure = error
                } catch is CancellationError {
                    failure = nil
                } catch {
                    failure = PluginError(.internal, "\(error)")
                }
                if stream.state.withLock({ $0.cancelled }) { failure = nil }
                sink.finish(failure)
                stream.endReturned()
            }
            if state.cancelled { state.task?.cancel() }
        }
        return handle
    }

    /// A stream that ends at once with `error` (a request that could not start).
    static func failed(_ sink: StreamSink, _ error: PluginError) -> OpaquePointer {
        let stream = ExportedStream()
        let handle = OpaquePointer(Unmanaged.passRetained(stream).toOpaque())
        sink.finish(error)
        stream.endReturned()
        return handle
    }

    /// Asks the stream to end; idempotent.
    func cancel() {
        let task = state.withLock { state -> Task<Void, Never>? in
            state.cancelled = true
            return state.task
        }
        task?.cancel()
    }

    /// The host gave the handle back.
    func release() {
        let free = state.withLock { state -> Bool in
            state.released = true
            return state.ended
        }
        if free { Unmanaged.passUnretained(self).release() }
    }

    private func endReturned() {
        let free = state.withLock { state -> Bool in
            state.ended = true
            return state.released
        }
        if free { Unmanaged.passUnretained(self).release() }
    }
}
