import BerthCore
import Foundation
import Synchronization

/// Recently read records by id, dropped when the Store's notifications say their row changed,
/// so a hot read does not go to the database every time.
///
/// An entry lives at most `lifetime`. A notification on one of `channels` whose payload is an
/// entry's id drops it; a change made through this server is dropped at once with
/// ``forget(_:)``. Nothing is cached while the Store's notification connection is down (from
/// its `disconnected` marker to the next resync, and before the first): notifications may be
/// missed then. So a read sees a change made here at once, one made by another server as soon
/// as its notification arrives (milliseconds), and `lifetime` bounds the rest. A read that
/// began before an invalidation is not kept.
final class NotifiedCache<Value: Sendable>: Sendable {
    private struct Entry: Sendable {
        var value: Value
        var loaded: ContinuousClock.Instant
    }

    private struct State: Sendable {
        var entries: [UUID: Entry] = [:]
        /// Bumped by every invalidation.
        var generation = 0
        /// Whether notifications are arriving (between a resync and a disconnect).
        var listening = false
    }

    /// The state, in a box the notification task shares.
    private final class Box: Sendable {
        let mutex = Mutex(State())

        func invalidate(_ id: UUID?, listening: Bool? = nil) {
            mutex.withLock { state in
                if let id { state.entries[id] = nil } else { state.entries = [:] }
                state.generation += 1
                if let listening { state.listening = listening }
            }
        }
    }

    private let box = Box()
    private let lifetime: Duration
    private let capacity: Int
    private let watching: Task<Void, Never>

    /// A cache that follows `store`'s notifications on `channels` until the Store shuts down.
    init(store: any Store, channels: Set<String>, lifetime: Duration, capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = capacity
        let notifications = store.notifications()
        let box = self.box
        watching = Task {
            for await notification in notifications {
                if notification.isResync {
                    box.invalidate(nil, listening: true)
                } else if notification.channel == StoreNotification.disconnectedChannel {
                    box.invalidate(nil, listening: false)
                } else if channels.contains(notification.channel), let id = UUID(uuidString: notification.payload) {
                    box.invalidate(id)
                }
            }
        }
    }

    deinit { watching.cancel() }

    /// The value of `id`: cached, else `load`ed (and kept when no invalidation came meanwhile).
    func value(_ id: UUID, load: () async throws -> Value?) async throws -> Value? {
        let now = ContinuousClock.now
        let (cached, generation) = box.mutex.withLock { state -> (Value?, Int?) in
            guard state.listening else { return (nil, nil) }
            guard let entry = state.entries[id], now - entry.loaded < lifetime else { return (nil, state.generation) }
            return (entry.value, state.generation)
        }
        if let cached { return cached }
        guard let value = try await load() else { return nil }
        guard let generation else { return value }
        box.mutex.withLock { state in
            guard state.listening, state.generation == generation else { return }
            if state.entries.count >= capacity { state.entries = [:] }
            state.entries[id] = Entry(value: value, loaded: now)
        }
        return value
    }

    /// Changes the cached value of `id`, if there is one.
    func update(_ id: UUID, _ change: (inout Value) -> Void) {
        box.mutex.withLock { state in
            if var entry = state.entries[id] {
                change(&entry.value)
                state.entries[id] = entry
            }
        }
    }

    /// Drops `id` (changed through this server).
    func forget(_ id: UUID) {
        box.invalidate(id)
    }
}

/// An API token's record and secret hash, as ``Authenticator`` checks them.
struct TokenCredential: Sendable {
    var token: APIToken
    var secretHash: String
}

extension NotifiedCache where Value == TokenCredential {
    /// Tokens: dropped on `berth_tokens` (a revocation), trusted for 5 s otherwise.
    static func tokens(_ store: any Store) -> NotifiedCache {
        NotifiedCache(store: store, channels: [StoreNotification.tokensChannel], lifetime: tokenLifetime)
    }

    /// How long a token's record is trusted without a notification.
    static var tokenLifetime: Duration { .seconds(5) }
}

extension NotifiedCache where Value == Execution {
    /// Executions: dropped on `berth_executions` (every state change, from any server) and on
    /// this process's own changes (at once), trusted for 1 s otherwise.
    static func executions(_ store: any Store) -> NotifiedCache {
        NotifiedCache(
            store: store, channels: [StoreNotification.executionsChannel, StoreNotification.executionChangedHereChannel], lifetime: .seconds(1))
    }
}
