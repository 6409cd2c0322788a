import CBerthPlugin

/// Bytes of a payload passed across the ABI; valid only during the call that passes them.
enum Payload {
    /// The payload as a buffer (empty when `pointer` is nil).
    static func bytes(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> UnsafeRawBufferPointer {
        guard let pointer, length > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer), count: length)
    }

    /// Calls `body` with `json` serialized, as the ABI's (pointer, length).
    static func withBytes<R>(_ json: JSONValue?, _ body: (UnsafePointer<CChar>?, Int) -> R) -> R {
        guard let json else { return body(nil, 0) }
        let bytes = json.serialized()
        return bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress, $0.count) }
        }
    }
}

/// The completion of one operation: a context pointer and a C function, called exactly once.
///
/// `@unchecked Sendable`: the context is opaque to the plugin and never dereferenced here,
/// and the ABI allows the completion to be called from any thread.
struct Reply: @unchecked Sendable {
    let context: UnsafeMutableRawPointer?
    let done: berth_completion_fn?

    func succeed(_ body: JSONValue?) {
        Payload.withBytes(body) { done?(context, BERTH_STATUS_OK, $0, $1) }
    }

    func fail(_ error: PluginError) {
        Payload.withBytes(error.json) { done?(context, BERTH_STATUS_ERROR, $0, $1) }
    }
}

/// The completion of `open`. `@unchecked Sendable` for the same reason as ``Reply``.
struct OpenReply: @unchecked Sendable {
    let context: UnsafeMutableRawPointer?
    let done: berth_open_completion_fn?

    func succeed(_ instance: ExportedInstance) {
        // The host owns this reference until it calls `close`.
        let pointer = OpaquePointer(Unmanaged.passRetained(instance).toOpaque())
        done?(context, BERTH_STATUS_OK, pointer, nil, 0)
    }

    func fail(_ error: PluginError) {
        Payload.withBytes(error.json) { done?(context, BERTH_STATUS_ERROR, nil, $0, $1) }
    }
}

/// The callbacks of one stream. `@unchecked Sendable` for the same reason as ``Reply``; the
/// stream's single pump task is the only caller of `item`, so items never overlap.
struct StreamSink: @unchecked Sendable {
    let context: UnsafeMutableRawPointer?
    let item: berth_stream_item_fn?
    let end: berth_stream_end_fn?

    func send(_ json: JSONValue) {
        Payload.withBytes(json) { item?(context, $0, $1) }
    }

    func finish(_ error: PluginError?) {
        if let error {
            Payload.withBytes(error.json) { end?(context, BERTH_STATUS_ERROR, $0, $1) }
        } else {
            end?(context, BERTH_STATUS_OK, nil, 0)
        }
    }
}
