import BerthCore
import Foundation

extension PostgresStore {
    /// Runs `statement` for a whole batch (see ``WriteBatcher``) on one connection; when it
    /// fails, runs it again for each request alone, so one bad request never fails the others.
    /// - Parameters:
    ///   - batch: The requests.
    ///   - operation: The operation's name in errors.
    ///   - execution: The execution a request is about, for errors.
    ///   - pool: Where the connection comes from.
    ///   - statement: Writes the requests; returns one response per request, in order.
    static func writeEach<Request, Response>(
        _ batch: [Request], operation: String, execution: (Request) -> UUID?, pool: PostgresConnectionPool,
        _ statement: ([Request], PostgresConnection) async throws -> [Response]
    ) async -> [Result<Response, StoreError>] {
        do {
            let responses = try await pool.withConnection { connection in try await statement(batch, connection) }
            guard responses.count == batch.count else {
                throw PostgresError(code: .decodingFailed, message: "\(operation) answered \(responses.count) of \(batch.count) requests")
            }
            return responses.map { .success($0) }
        } catch {
            guard batch.count > 1 else {
                return [.failure(storeError(error, operation: operation, execution: batch.first.flatMap(execution)))]
            }
            var results: [Result<Response, StoreError>] = []
            for request in batch {
                results += await writeEach([request], operation: operation, execution: execution, pool: pool, statement)
            }
            return results
        }
    }

    /// A batch's records as one `$n::jsonb` parameter, for `jsonb_to_recordset` (the records
    /// name their keys as the SQL's columns).
    static func batchJSON<T: Encodable>(_ records: T) throws -> PostgresBind {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return .text(String(decoding: try encoder.encode(records), as: UTF8.self))
    }

    /// The position a batch statement's row carries (`batch_index`), checked against the batch.
    static func batchIndex(_ row: PostgresRow, count: Int) throws -> Int {
        let index = Int(try row.requiredInt64("batch_index"))
        guard (0..<count).contains(index) else {
            throw PostgresError(code: .decodingFailed, message: "a batch statement returned index \(index) of \(count)")
        }
        return index
    }
}
