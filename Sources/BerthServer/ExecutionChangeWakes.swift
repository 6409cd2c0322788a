import BerthCore

/// Wake-ups for a loop that follows executions: `true` when an execution changed (a
/// `berth_executions` notification, or the listener reconnected and something may have been
/// missed), `false` after each `interval` (for keep-alives and due retries). Only the newest
/// wake-up is kept, so a slow loop is never behind by more than one.
struct ExecutionChangeWakes: Sendable {
    /// The wake-ups.
    let stream: AsyncStream<Bool>
    private let listening: Task<Void, Never>
    private let ticking: Task<Void, Never>

    /// Subscribes to `store`'s notifications at once (so nothing is missed between a first read
    /// and the first wait) and ticks every `interval`.
    init(store: any Store, every interval: Duration) {
        let notifications = store.notifications()
        let (stream, wake) = AsyncStream<Bool>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.stream = stream
        listening = Task {
            for await notification in notifications
            where notification.isResync || notification.channel == StoreNotification.executionsChannel {
                wake.yield(true)
            }
            wake.finish()
        }
        ticking = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                wake.yield(false)
            }
            wake.finish()
        }
    }

    /// Stops both sources; the stream then ends.
    func cancel() {
        listening.cancel()
        ticking.cancel()
    }
}
