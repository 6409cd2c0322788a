import BerthPluginKit
import Foundation
import Logging
import Synchronization

/// Copies one attempt's followed log stream into the Store, and keeps what the attempt reports
/// on stdout (`::berth::progress {json}`, `::berth::result {json}`; ``ReportLineScanner``).
///
/// The reader appends chunks to a buffer as they arrive; one writer takes everything buffered
/// every `interval` and stores it in one insert, neighbouring pieces of a stream joined into
/// chunks of up to 64 KiB (``NewLogChunk/coalesced(_:upTo:)``). So a line that is followed by
/// silence (`echo started; sleep 60`) is stored within `interval`, a burst becomes few large
/// rows, and the
/// single writer keeps chunks in the order they came. Of the reports read in one interval only
/// the latest of each kind is written (a job may print progress a thousand times a second),
/// and before the chunks that carried it: a reader that resumes after a crash skips stored
/// chunks, so a report is never lost between the two writes.
struct LogPump: Sendable {
    let store: any Store
    let interval: Duration
    let logger: Logger

    /// The chunks read and not yet written, shared by the reader and the writer.
    private final class Pending: Sendable {
        struct State {
            var chunks: [NewLogChunk] = []
            var reports: [ExecutionReport.Kind: ExecutionReport] = [:]
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
                    let (batch, reports, finished) = pending.state.withLock { state in
                        defer {
                            state.chunks.removeAll(keepingCapacity: true)
                            state.reports.removeAll()
                        }
                        return (state.chunks, Array(state.reports.values), state.finished || Task.isCancelled)
                    }
                    await write(reports)
                    await write(batch)
                    if finished { return }
                }
            }
            var resume = start
            var backoff = 0.2
            var scanner = ReportLineScanner()
            /// Keeps what a stdout line reported, as of `at`.
            func keep(_ findings: [ReportLineScanner.Finding], at: Date) {
                for finding in findings {
                    switch finding {
                    case .report(let kind, let body):
                        let report = ExecutionReport(executionID: execution, kind: kind, attempt: attempt, source: .stdout, body: body, at: at)
                        pending.state.withLock { $0.reports[kind] = report }
                    case .invalid(let kind, let reason):
                        logger.warning("ignored a report line", metadata: ["kind": "\(kind.rawValue)", "reason": "\(reason)"])
                    }
                }
            }
            var lastStdoutAt = Date()
            while !Task.isCancelled {
                resume.beginPass()
                do {
                    for try await chunk in open(resume.since) {
                        guard resume.admit(chunk) else { continue }
                        let at = Date(timeIntervalSince1970: chunk.timestamp.secondsSinceEpoch)
                        if chunk.stream == .stdout {
                            keep(scanner.feed(chunk.data), at: at)
                            lastStdoutAt = at
                        }
                        let record = NewLogChunk(executionID: execution, attempt: attempt, stream: chunk.stream, bytes: chunk.data, timestamp: at)
                        pending.state.withLock { $0.chunks.append(record) }
                        backoff = 0.2
                    }
                    keep(scanner.finish(), at: lastStdoutAt)
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

    private func write(_ reports: [ExecutionReport]) async {
        for report in reports.sorted(by: { $0.kind.rawValue < $1.kind.rawValue }) {
            do {
                try await store.recordReport(report)
            } catch {
                logger.error("could not store a report", metadata: ["kind": "\(report.kind.rawValue)", "error": "\(error)"])
            }
        }
    }

    private func write(_ batch: [NewLogChunk]) async {
        guard !batch.isEmpty else { return }
        do {
            try await store.appendLogs(NewLogChunk.coalesced(batch))
            BerthMetrics.logBytesStored(batch.reduce(0) { $0 + $1.bytes.count })
        } catch {
            logger.error("could not store log chunks", metadata: ["error": "\(error)", "chunks": "\(batch.count)"])
        }
    }
}
