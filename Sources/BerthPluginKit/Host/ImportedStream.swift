import CBerthPlugin
import Synchronization

/// A plugin's stream (logs, events) seen as an `AsyncThrowingStream`.
///
/// The header's rules are kept here: `stream_cancel` may be called until the handle is
/// released; `stream_release` is called exactly once, after the end callback came and no
/// cancel is in flight. Ending the Swift iteration early cancels the plugin's stream.
final class ImportedStream: Sendable {
    private struct State {
        var handle: StreamPointer?
        var ended = false
        var released = false
        var cancelRequested = false
        var cancelsInFlight = 0
    }

    private let state = Mutex(State())
    private let onItem: @Sendable ([UInt8]) -> Void
    private let onEnd: @Sendable (berth_status_t, [UInt8]) -> Void
    private let cancelFunction: @convention(c) (OpaquePointer?) -> Void
    private let releaseFunction: @convention(c) (OpaquePointer?) -> Void
    private let lifetime: InstanceLifetime

    private init(
        table: berth_plugin_v1_t, lifetime: InstanceLifetime,
        onItem: @escaping @Sendable ([UInt8]) -> Void,
        onEnd: @escaping @Sendable (berth_status_t, [UInt8]) -> Void
    ) {
        self.onItem = onItem
        self.onEnd = onEnd
        self.cancelFunction = table.stream_cancel!
        self.releaseFunction = table.stream_release!
        self.lifetime = lifetime
    }

    private static let item: berth_stream_item_fn = { context, bytes, length in
        let stream = Unmanaged<ImportedStream>.fromOpaque(context!).takeUnretainedValue()
        stream.onItem(Array(Payload.bytes(bytes, length)))
    }

    private static let end: berth_stream_end_fn = { context, status, body, length in
        // Balances the retain taken for the plugin when the stream was opened.
        let stream = Unmanaged<ImportedStream>.fromOpaque(context!).takeRetainedValue()
        stream.onEnd(status, Array(Payload.bytes(body, length)))
        stream.endCame()
    }

    /// Opens a plugin stream whose items decode as `Item`.
    static func open<Item: JSONRepresentable>(
        plugin: String, table: berth_plugin_v1_t, lifetime: InstanceLifetime,
        _ invoke: (UnsafeMutableRawPointer, berth_stream_item_fn, berth_stream_end_fn) -> OpaquePointer?
    ) -> PluginStream<Item> {
        let (output, continuation) = PluginStream<Item>.makeStream()
        let stream = ImportedStream(
            table: table, lifetime: lifetime,
            onItem: { bytes in
                do {
                    continuation.yield(try Item(jsonBytes: bytes))
                } catch {
                    continuation.finish(
                        throwing: PluginError(.internal, "plugin \(plugin) sent a malformed stream item: \(error)"))
                }
            },
            onEnd: { status, body in
                if status == BERTH_STATUS_OK {
                    continuation.finish()
                } else {
                    continuation.finish(throwing: PluginCall.error(from: body, plugin: plugin))
                }
            })
        guard lifetime.add(stream) else {
            continuation.finish(throwing: PluginError(.unavailable, "the \(plugin) instance is closed"))
            return output
        }
        continuation.onTermination = { _ in stream.cancel() }
        let handle = invoke(Unmanaged.passRetained(stream).toOpaque(), item, end)
        stream.attach(handle.map(StreamPointer.init))
        return output
    }

    private func attach(_ handle: StreamPointer?) {
        // A plugin that breaks the header's "never NULL" leaves nothing to release.
        guard handle != nil else { return lifetime.remove(self) }
        let (cancel, release) = state.withLock { state -> (Bool, Bool) in
            state.handle = handle
            guard handle != nil else { return (false, false) }
            if state.ended { return (false, markReleased(&state)) }
            return (state.cancelRequested, false)
        }
        if cancel { self.cancel() }
        if release { releasePlugin(handle) }
    }

    /// Asks the plugin to end the stream (the consumer went away).
    func cancel() {
        let handle = state.withLock { state -> StreamPointer? in
            state.cancelRequested = true
            guard !state.ended, !state.released, let handle = state.handle else { return nil }
            state.cancelsInFlight += 1
            return handle
        }
        guard let handle else { return }
        cancelFunction(handle.pointer)
        let release = state.withLock { state -> Bool in
            state.cancelsInFlight -= 1
            return state.ended ? markReleased(&state) : false
        }
        if release { releasePlugin(handle) }
    }

    private func endCame() {
        let (release, handle) = state.withLock { state -> (Bool, StreamPointer?) in
            state.ended = true
            return (markReleased(&state), state.handle)
        }
        if release { releasePlugin(handle) }
    }

    /// Gives the handle back to the plugin; the instance may close once all are given back.
    private func releasePlugin(_ handle: StreamPointer?) {
        releaseFunction(handle?.pointer)
        lifetime.remove(self)
    }

    /// Marks the handle released when that is allowed now; true when the caller must release.
    private func markReleased(_ state: inout State) -> Bool {
        guard state.ended, !state.released, state.cancelsInFlight == 0, state.handle != nil else { return false }
        state.released = true
        return true
    }
}

/// A plugin's stream handle. `@unchecked Sendable`: opaque, and the ABI allows cancel and
/// release from any thread.
struct StreamPointer: @unchecked Sendable {
    let pointer: OpaquePointer
}
