public import BerthPluginKit
import Synchronization

/// Remembers since when each pod has been failing to pull its image, so that an attempt fails
/// as `image_not_found` once the grace has passed (Kubernetes itself retries forever).
public final class ImagePullGrace: Sendable {
    /// A pod that cannot pull its image.
    public struct Pulling: Sendable {
        /// The attempt's handle and labels, for the event that fails it.
        public var handle: RuntimeHandle
        /// The pod's labels.
        public var labels: [String: String]
        /// The kubelet's message.
        public var problem: String
        /// When the problem was first seen.
        public var since: ContinuousClock.Instant
        /// Whether the failure was reported already.
        public var reported: Bool
    }

    /// Seconds of pull problems before the attempt fails.
    public let grace: Double
    private let pulling = Mutex<[String: Pulling]>([:])

    /// A tracker with `grace` seconds.
    public init(grace: Double) {
        self.grace = grace
    }

    /// The status to report for `pod` (`uid`): `status` itself, or `failed` with
    /// `image_not_found` once its pull problem has lasted the grace.
    public func status(_ status: PodStatus, uid: String, handle: RuntimeHandle, labels: [String: String]) -> RuntimeStatus {
        guard let problem = status.imagePullProblem else {
            _ = pulling.withLock { $0.removeValue(forKey: uid) }
            return status.runtime
        }
        let since = pulling.withLock { pulling -> ContinuousClock.Instant in
            if let known = pulling[uid] { return known.since }
            pulling[uid] = Pulling(handle: handle, labels: labels, problem: problem, since: .now, reported: false)
            return .now
        }
        guard ContinuousClock.now - since >= .seconds(grace) else { return status.runtime }
        return Self.failure(problem)
    }

    /// Pods whose grace has just run out, each returned once; for a periodic check between
    /// pod updates.
    public func expired() -> [(Pulling, RuntimeStatus)] {
        pulling.withLock { pulling in
            var due: [(Pulling, RuntimeStatus)] = []
            for (uid, entry) in pulling where !entry.reported && ContinuousClock.now - entry.since >= .seconds(grace) {
                pulling[uid]?.reported = true
                due.append((entry, Self.failure(entry.problem)))
            }
            return due
        }
    }

    /// Forgets a pod (deleted).
    public func forget(uid: String) {
        _ = pulling.withLock { $0.removeValue(forKey: uid) }
    }

    private static func failure(_ problem: String) -> RuntimeStatus {
        RuntimeStatus(state: .failed, reason: problem, errorCode: .imageNotFound)
    }
}
