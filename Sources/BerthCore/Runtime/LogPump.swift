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

    /// Stores everything the followed stream yields until it ends (or the task is cancelled).
    ///
    /// When the stream fails with a retryable error (the host's connection dropped), it is
    /// opened again from the last chunk's timestamp after a backoff, and chunks already read are
    /// not stored twice; so output written while the link was down is still stored, in order.
    /// - Parameters:
    ///   - open: Opens the followed stream at or after a time (nil: from the start).
    ///   - execution: The execution, for the stored chunks.
    ///   - attempt: The attempt, for the stored chunks.
    ///   - resume: Where an earlier reader stopped (chunks already stored), if anywhere.
    func run(
        _ open: @escaping @Sendable (Timestamp?) -> PluginStream<LogChunk>, execution: UUID, attempt: Int,
        resume start: LogResumePoint = LogResumePoint()
    ) async {
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
            var resume = start
            var backoff = 0.2
            while !Task.isCancelled {
                resume.beginPass()
                do {
                    for try await chunk in open(resume.since) {
                        guard resume.admit(chunk) else { continue }
                        let record = NewLogChunk(
                            executionID: execution, attempt: attempt, stream: chunk.stream, bytes: chunk.data,
                            timestamp: Date(timeIntervalSince1970: chunk.timestamp.secondsSinceEpoch))
                        pending.state.withLock { $0.chunks.append(record) }
                        backoff = 0.2
                    }
                    break
                } catch let error as PluginError where error.retryable {
                    logger.warning("log stream lost; resuming", metadata: [
                        "error": "\(error)", "since": "\(resume.since.map(\.rfc3339) ?? "start")",
                    ])
                    try? await Task.sleep(for: .seconds(backoff))
                    backoff = min(backoff * 2, 2)
                } catch {
                    logger.error("log stream failed", metadata: ["error": "\(error)"])
                    break
                }
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
