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

    /// A batch statement's rows by the position each carries (`batch_index`), read with
    /// `value`; `nil` for a request no row came back for.
    static func byBatchIndex<T>(_ rows: PostgresRows, count: Int, _ value: (PostgresRow) throws -> T) throws -> [T?] {
        var values = [T?](repeating: nil, count: count)
        for row in rows {
            let index = Int(try row.requiredInt64("batch_index"))
            guard values.indices.contains(index) else {
                throw PostgresError(code: .decodingFailed, message: "a batch statement returned index \(index) of \(count)")
            }
            values[index] = try value(row)
        }
        return values
    }

    /// Every request's value, or an error saying (with `missing`) which request got none.
    static func requireEach<T>(_ values: [T?], missing: (Int) -> String) throws -> [T] {
        try values.enumerated().map { index, value in
            guard let value else { throw PostgresError(code: .decodingFailed, message: missing(index)) }
            return value
        }
    }
}
