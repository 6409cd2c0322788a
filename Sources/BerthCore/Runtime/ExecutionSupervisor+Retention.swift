public import Foundation
import Logging

extension ExecutionSupervisor {
    /// The newest finish time whose outputs are past retention at `now`; `nil` without retention.
    func retentionCutoff(now: Date) -> Date? {
        guard let retention = options.retention else { return nil }
        let (seconds, attoseconds) = retention.components
        return now.addingTimeInterval(-(Double(seconds) + Double(attoseconds) / 1e18))
    }

    /// Removes the logs and collected outputs of executions that finished longer ago than the
    /// retention, in batches; returns how many executions it expired. The sweep runs on the
    /// scheduling leader every ``Options/retentionSweepInterval``; `now` is a parameter so tests
    /// need not wait.
    @discardableResult
    public func expireOutputs(now: Date) async -> Int {
        guard let cutoff = retentionCutoff(now: now) else { return 0 }
        var expired = 0
        do {
            while true {
                let ids = try await store.expireOutputs(finishedBefore: cutoff, limit: 500)
                expired += ids.count
                if ids.count < 500 { break }
            }
        } catch {
            logger.warning("could not remove expired outputs", metadata: ["error": "\(error)"])
        }
        if expired > 0 {
            logger.info("removed the logs and outputs of executions past retention", metadata: ["executions": "\(expired)"])
        }
        return expired
    }

    /// Whether the finished runtime object of `execution`, found by reconciliation, stays on
    /// its host: it asked to (`keep`) and has not passed retention. (At an attempt's end the
    /// tracker's `keep` answers without a read.)
    func keeps(_ execution: UUID, now: Date = Date()) async -> Bool {
        guard let stored = try? await store.execution(id: execution), stored.keep else { return false }
        guard let cutoff = retentionCutoff(now: now), let finished = stored.finishedAt else { return true }
        return finished >= cutoff
    }
}
