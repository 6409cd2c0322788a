public import BerthPluginKit

extension HTTPTransport {
    /// Streams `request` and hands a 2xx response's body to `body` piece by piece, until the
    /// response ends or `body` returns false (which ends the exchange). A response with any
    /// other status is read whole and returned, for the caller to turn into its own error.
    /// - Parameters:
    ///   - request: The request.
    ///   - accepted: Called once when a 2xx head has arrived, before any body.
    ///   - body: Takes each piece of the body; returns whether to read on.
    /// - Returns: nil after a 2xx response, else the whole error response.
    public func receive(
        _ request: HTTPRequest, accepted: () -> Void = {},
        body: ([UInt8]) async throws(PluginError) -> Bool
    ) async throws(PluginError) -> HTTPResponse? {
        var failed: HTTPResponse?
        do {
            for try await part in stream(request) {
                switch part {
                case .head(let status, let headers):
                    if (200..<300).contains(status) {
                        accepted()
                    } else {
                        failed = HTTPResponse(status: status, headers: headers)
                    }
                case .body(let bytes):
                    if failed != nil {
                        failed?.body.append(contentsOf: bytes)
                    } else if try await !body(bytes) {
                        return nil
                    }
                }
            }
        } catch let error as PluginError {
            throw error
        } catch {
            throw PluginError(.internal, "\(request.method) \(request.path) on \(endpointDescription): \(error)")
        }
        return failed
    }
}
