import BerthCore

/// A job's status as the FastAPI job services report it, from its execution's state.
enum JobStatus: String, CaseIterable, Sendable {
    case queued, starting, running, completed, failed, stopped

    /// The status of an execution in `state`: waiting for a host is `queued`, placed but not yet
    /// running `starting`; success is `completed`, a cancel `stopped`, and every other end
    /// (failed, timed out, lost) `failed`.
    init(_ state: ExecutionState) {
        switch state {
        case .queued: self = .queued
        case .scheduled, .starting: self = .starting
        case .running: self = .running
        case .succeeded: self = .completed
        case .failed, .timedOut, .lost: self = .failed
        case .cancelled: self = .stopped
        }
    }

    /// The states a status stands for (the filter of `GET /jobs?status=`).
    var states: Set<ExecutionState> {
        Set(ExecutionState.allCases.filter { JobStatus($0) == self })
    }
}
