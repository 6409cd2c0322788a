public import BerthPluginKit
public import Foundation

/// What an execution reports about itself: its progress while it runs, its result at the end.
///
/// The container writes a line `::berth::progress {json}` or `::berth::result {json}` to
/// stdout (any backend), or a Docker backend collects `/berth/out/result.json` after exit. The
/// Store keeps the latest report of each kind for the latest attempt.
public struct ExecutionReport: Sendable, Hashable {
    /// Progress or result.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case progress, result
    }

    /// Where the report came from.
    public enum Source: String, Sendable, Hashable {
        /// A `::berth::…` line on the container's stdout.
        case stdout
        /// The result file collected after the container exited.
        case file
    }

    /// The execution.
    public var executionID: UUID
    /// Progress or result.
    public var kind: Kind
    /// The attempt that reported it.
    public var attempt: Int
    /// Where it came from.
    public var source: Source
    /// The reported JSON object.
    public var body: [String: JSONValue]
    /// When it was reported (the log line's time, or when the file was collected).
    public var at: Date

    /// A report.
    public init(executionID: UUID, kind: Kind, attempt: Int, source: Source, body: [String: JSONValue], at: Date) {
        self.executionID = executionID
        self.kind = kind
        self.attempt = attempt
        self.source = source
        self.body = body
        self.at = at
    }
}
