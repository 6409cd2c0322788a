import BerthPluginKit
import Synchronization

/// The attempts an instance started and has not removed.
final class AttemptTable: Sendable {
    private let attempts = Mutex<[RuntimeHandle: Attempt]>([:])

    func add(_ attempt: Attempt) {
        attempts.withLock { $0[attempt.handle] = attempt }
    }

    func remove(_ handle: RuntimeHandle) {
        _ = attempts.withLock { $0.removeValue(forKey: handle) }
    }

    /// The attempt of `handle`; `not_found` once it was removed (or was never started here).
    func find(_ handle: RuntimeHandle) throws(PluginError) -> Attempt {
        guard let attempt = attempts.withLock({ $0[handle] }) else {
            throw PluginError(.notFound, "no process attempt \(handle)")
        }
        return attempt
    }

    var all: [Attempt] { attempts.withLock { Array($0.values) } }

    /// How many have not exited.
    var running: Int { all.filter { !$0.status.isFinal }.count }
}
