import CCurl
import Foundation
import Synchronization

/// Drives every transfer of one transport on one thread through a libcurl multi handle.
///
/// Requests from any thread go through a locked inbox and a `curl_multi_wakeup`; the multi
/// handle and the easy handles are touched only on the loop's thread, as libcurl requires.
/// Cancelling a transfer removes it at once, so a followed stream ends without waiting for data.
final class CurlLoop: Sendable {
    private struct Inbox {
        var added: [CurlTransfer] = []
        var cancelled: [ObjectIdentifier] = []
        var stopping = false
    }

    private let multi: MultiHandle
    private let inbox = Mutex(Inbox())

    /// Starts the loop's thread.
    init(name: String) {
        CurlGlobal.initialize()
        multi = MultiHandle(pointer: curl_multi_init())
        // The thread keeps the loop alive until `stop()` ends it.
        let thread = Thread { self.run() }
        thread.name = name
        thread.start()
    }

    /// Starts a transfer; its callbacks run on the loop thread.
    func add(_ transfer: CurlTransfer) {
        inbox.withLock { $0.added.append(transfer) }
        curl_multi_wakeup(multi.pointer)
    }

    /// Aborts a transfer; its completion comes with `CURLE_ABORTED_BY_CALLBACK`.
    func cancel(_ transfer: CurlTransfer) {
        inbox.withLock { $0.cancelled.append(ObjectIdentifier(transfer)) }
        curl_multi_wakeup(multi.pointer)
    }

    /// Aborts every transfer and ends the thread.
    func stop() {
        inbox.withLock { $0.stopping = true }
        curl_multi_wakeup(multi.pointer)
    }

    private func run() {
        var active: [ObjectIdentifier: CurlTransfer] = [:]
        var byHandle: [UnsafeMutableRawPointer: CurlTransfer] = [:]
        while true {
            let (added, cancelled, stopping) = inbox.withLock { box in
                defer { box.added = []; box.cancelled = [] }
                return (box.added, box.cancelled, box.stopping)
            }
            for transfer in added {
                active[ObjectIdentifier(transfer)] = transfer
                byHandle[transfer.easy] = transfer
                curl_multi_add_handle(multi.pointer, transfer.easy)
            }
            let aborted = stopping ? Array(active.keys) : cancelled
            for id in aborted {
                guard let transfer = active.removeValue(forKey: id) else { continue }
                byHandle[transfer.easy] = nil
                curl_multi_remove_handle(multi.pointer, transfer.easy)
                transfer.complete(CurlFailure(code: CURLE_ABORTED_BY_CALLBACK, message: "cancelled"))
            }
            if stopping {
                curl_multi_cleanup(multi.pointer)
                return
            }
            var running: Int32 = 0
            curl_multi_perform(multi.pointer, &running)
            var remaining: Int32 = 0
            while let message = curl_multi_info_read(multi.pointer, &remaining) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                let result = message.pointee.data.result
                guard let transfer = byHandle.removeValue(forKey: easy) else { continue }
                active[ObjectIdentifier(transfer)] = nil
                curl_multi_remove_handle(multi.pointer, easy)
                transfer.complete(result == CURLE_OK ? nil : transfer.failure(for: result))
            }
            curl_multi_poll(multi.pointer, nil, 0, 1000, nil)
        }
    }
}

/// The multi handle. `@unchecked Sendable`: only `curl_multi_wakeup`, which libcurl documents
/// as callable from any thread, is used off the loop thread.
private struct MultiHandle: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
}

/// libcurl's one-time global set-up, which is not thread-safe and so runs exactly once.
enum CurlGlobal {
    private static let done: Bool = {
        curl_global_init(Int(CURL_GLOBAL_ALL))
        return true
    }()

    static func initialize() {
        _ = done
    }
}
