import BerthPluginKit

/// Watches: replay from the bounded history (or the current objects), then live changes and
/// bookmarks, until the client goes, the timeout passes, or the double stops.
extension Cluster {
    /// Opens a watch of `resource`; returns its lines (one JSON event each).
    ///
    /// From resourceVersion `from` (not 0): the changes after it, or, when it is older than the
    /// history, one `ERROR` event with a 410 `Expired` Status and the end. Without one (or 0):
    /// an `ADDED` event for each matching object first.
    func watch(
        _ resource: APIResource, labels: LabelSelector, fields: FieldSelector, from requested: Int?, bookmarks: Bool,
        timeout: Duration?
    ) -> AsyncStream<[UInt8]> {
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
        guard !stopped else {
            continuation.finish()
            return stream
        }
        if let requested, requested != 0 {
            guard requested >= historyFloor else {
                continuation.yield(Self.line(type: "ERROR", object: APIStatus.expired(requested, current: revision).json))
                continuation.finish()
                return stream
            }
            for event in history where event.revision > requested && event.resource == resource.plural {
                if labels.matches(Self.labels(of: event.object)), fields.matches(event.object) {
                    continuation.yield(Self.line(type: event.type, object: event.object))
                }
            }
        } else {
            for object in list(resource, labels: labels, fields: fields, typed: true) {
                continuation.yield(Self.line(type: "ADDED", object: object))
            }
        }
        let id = addWatcher(Watcher(resource: resource, labels: labels, fields: fields, continuation: continuation))
        continuation.onTermination = { _ in
            Task { await self.removeWatcher(id) }
        }
        guard bookmarks || timeout != nil else { return stream }
        let interval = bookmarkInterval
        let timer = Task {
            let clock = ContinuousClock()
            let end = timeout.map { clock.now + $0 }
            var next = clock.now + interval
            while true {
                let wake = bookmarks ? min(next, end ?? next) : end!
                guard (try? await Task.sleep(until: wake, clock: clock)) != nil else { return }
                if let end, clock.now >= end {
                    self.removeWatcher(id)
                    return
                }
                self.bookmark(id)
                next += interval
            }
        }
        setTimer(id, timer)
        return stream
    }
}
