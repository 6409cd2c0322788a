import BerthPluginKit
import Synchronization

/// Keeps every item of an instance's event stream, for the `events` check.
final class EventRecorder: Sendable {
    /// The events so far, shared with the reading task.
    private final class Log: Sendable {
        let events = Mutex<[BackendEvent]>([])
    }

    private let log = Log()
    private let reading: Task<Void, Never>

    init(_ stream: PluginStream<BackendEvent>) {
        let log = self.log
        reading = Task {
            do {
                for try await event in stream { log.events.withLock { $0.append(event) } }
            } catch {
                // The stream failed; the events check reports what came before.
            }
        }
    }

    /// The status events of `handle` so far, in order.
    func statuses(of handle: RuntimeHandle) -> [(labels: [String: String], status: RuntimeStatus)] {
        log.events.withLock { events in
            events.compactMap { event in
                guard case .status(let eventHandle, let labels, let status) = event, eventHandle == handle else { return nil }
                return (labels, status)
            }
        }
    }

    /// Ends the iteration, which cancels the plugin's stream.
    func stop() {
        reading.cancel()
    }
}
