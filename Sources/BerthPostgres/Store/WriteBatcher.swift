import BerthCore
import Foundation

/// Group commit for one kind of write: requests that arrive while earlier ones are being
/// written share the next statement (one round trip, one commit) instead of one each.
///
/// A request is written at once while fewer than `maxInFlight` batches are being written, so a
/// lone write waits for nothing; under load each batch takes every request that waited (at most
/// `maxBatch`). Two requests with the same key never share a batch: the second waits for the
/// next one, so requests about one execution are written in the order they came.
actor WriteBatcher<Request: Sendable, Response: Sendable> {
    /// Writes a batch; returns one result per request, in the batch's order.
    typealias Write = @Sendable ([Request]) async -> [Result<Response, StoreError>]

    private struct Waiting {
        let request: Request
        let key: UUID
        let continuation: CheckedContinuation<Result<Response, StoreError>, Never>
    }

    private let maxBatch: Int
    private let maxInFlight: Int
    private let key: @Sendable (Request) -> UUID
    private let write: Write
    /// Requests not yet in a batch: `waiting[head...]`, oldest first.
    private var waiting: [Waiting] = []
    private var head = 0
    private var inFlight = 0
    /// The most requests one batch has carried so far (for tests: that requests did share).
    private(set) var largestBatch = 0

    /// A batcher writing through `write`.
    /// - Parameters:
    ///   - maxBatch: The most requests one statement carries.
    ///   - maxInFlight: The most batches written at the same time (each holds a pooled connection).
    ///   - key: What two requests must not share a batch for (the execution they change).
    ///   - write: Writes one batch.
    init(maxBatch: Int, maxInFlight: Int, key: @escaping @Sendable (Request) -> UUID, write: @escaping Write) {
        self.maxBatch = max(maxBatch, 1)
        self.maxInFlight = max(maxInFlight, 1)
        self.key = key
        self.write = write
    }

    /// Writes `request` in the next batch and returns its result.
    func submit(_ request: Request) async -> Result<Response, StoreError> {
        await withCheckedContinuation { continuation in
            waiting.append(Waiting(request: request, key: key(request), continuation: continuation))
            startBatches()
        }
    }

    private func startBatches() {
        while inFlight < maxInFlight, head < waiting.count {
            // From the oldest on; a request whose key the batch has already waits, in order,
            // for the next one. Only the requests looked at are touched (thousands may wait).
            var batch: [Waiting] = []
            var keys = Set<UUID>()
            var deferred: [Waiting] = []
            while batch.count < maxBatch, head < waiting.count {
                let entry = waiting[head]
                head += 1
                if keys.insert(entry.key).inserted { batch.append(entry) } else { deferred.append(entry) }
            }
            if !deferred.isEmpty {
                head -= deferred.count
                waiting.replaceSubrange(head..<(head + deferred.count), with: deferred)
            }
            if head == waiting.count {
                waiting.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 4096, head * 2 > waiting.count {
                waiting.removeFirst(head)
                head = 0
            }
            largestBatch = max(largestBatch, batch.count)
            inFlight += 1
            let write = self.write
            let taken = batch
            // Runs on this actor; only `write` leaves it.
            Task {
                let results = await write(taken.map(\.request))
                for (index, entry) in taken.enumerated() {
                    entry.continuation.resume(returning: index < results.count
                        ? results[index]
                        : .failure(StoreError(code: .internalError, message: "a batched write returned \(results.count) results for \(taken.count) requests")))
                }
                self.batchEnded()
            }
        }
    }

    private func batchEnded() {
        inFlight -= 1
        startBatches()
    }
}
