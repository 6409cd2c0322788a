import BerthPluginKit
import Foundation
import Logging
import Synchronization

/// Copies one attempt's followed log stream into the Store.
///
/// The reader appends chunks to a buffer as they arrive; one writer takes everything buffered
/// every `interval` and stores it in one insert. So a line that is followed by silence (`echo
/// started; sleep 60`) is stored within `interval`, a burst becomes few large inserts, and the
/// single writer keeps chunks in the order they came.
struct LogPump: Sendable {
    let store: any Store
    let interval: Duration
    let logger: Logger

    /// The chunks read and not yet written, shared by the reader and the writer.
    private final class Pending: Sendable {
        struct State {
            var chunks: [NewLogChunk] = []
            var finished = false
        }
        let state = Mutex(State())
    }

    /// Stores everything `stream` yields until it ends (or the task is cancelled).
    func run(_ stream: PluginStream<LogChunk>, execution: UUID, attempt: Int) async {
        let pending = Pending()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while true {
                    try? await Task.sleep(for: interval)
                    let (batch, finished) = pending.state.withLock { state in
                        defer { state.chunks.removeAll(keepingCapacity: true) }
                        return (state.chunks, state.finished || Task.isCancelled)
                    }
                    await write(batch)
                    if finished { return }
                }
            }
            do {
                for try await chunk in stream {
                    let record = NewLogChunk(
                        executionID: execution, attempt: attempt, stream: chunk.stream, bytes: chunk.data,
                        timestamp: Date(timeIntervalSince1970: chunk.timestamp.secondsSinceEpoch))
                    pending.state.withLock { $0.chunks.append(record) }
                }
            } catch {
                logger.error("log stream failed", metadata: ["error": "\(error)"])
            }
            pending.state.withLock { $0.finished = true }
        }
    }

    private func write(_ batch: [NewLogChunk]) async {
        guard !batch.isEmpty else { return }
        do {
            try await store.appendLogs(batch)
        } catch {
            logger.error("could not store log chunks", metadata: ["error": "\(error)", "chunks": "\(batch.count)"])
        }
    }
}
