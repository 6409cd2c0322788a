import Foundation
import Synchronization

/// Caps the log follows (`GET …/logs?follow=true`) each token holds open at once.
///
/// A follow takes a ``Permit``; the permit gives its place back when it is released, at the end
/// of the streamed response (also when the response is dropped unsent).
final class FollowLimiter: Sendable {
    /// A place taken by one open follow; gives it back on deinit.
    final class Permit: Sendable {
        private let limiter: FollowLimiter
        private let token: UUID

        fileprivate init(limiter: FollowLimiter, token: UUID) {
            self.limiter = limiter
            self.token = token
        }

        deinit { limiter.release(token) }
    }

    /// Follows one token may hold open.
    let limit: Int
    private let open = Mutex<[UUID: Int]>([:])

    init(limit: Int) {
        self.limit = limit
    }

    /// A permit for `token`, or `nil` when it already holds ``limit`` follows.
    func acquire(_ token: UUID) -> Permit? {
        let granted = open.withLock { open -> Bool in
            guard open[token, default: 0] < limit else { return false }
            open[token, default: 0] += 1
            return true
        }
        return granted ? Permit(limiter: self, token: token) : nil
    }

    private func release(_ token: UUID) {
        open.withLock { open in
            let left = open[token, default: 1] - 1
            open[token] = left > 0 ? left : nil
        }
    }
}
