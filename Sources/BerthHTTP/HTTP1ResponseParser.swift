/// An incremental HTTP/1.1 response parser: feed it bytes as they arrive, split anywhere, and
/// it reports the head, the decoded body and the end.
///
/// It frames the body by `Content-Length`, `Transfer-Encoding: chunked` (extensions skipped,
/// trailers kept in ``trailers``) or the end of the connection (``finish()``); skips 1xx
/// informational responses; knows that 204, 304 and answers to `HEAD` have no body; and says
/// whether the connection can carry another exchange (``canReuseConnection``). Defects and
/// broken limits throw ``HTTPParseError``; after one, every call throws it again.
public struct HTTP1ResponseParser: Sendable {
    /// Size limits that keep a hostile or broken peer from growing buffers without bound.
    public struct Limits: Sendable, Hashable {
        /// Bytes allowed for the status line and headers (and, separately, the trailers).
        public var maxHeadBytes: Int
        /// Bytes allowed for one chunk-size line.
        public var maxChunkLineBytes: Int

        /// Limits: 64 KiB of head, 1 KiB per chunk-size line by default.
        public init(maxHeadBytes: Int = 64 * 1024, maxChunkLineBytes: Int = 1024) {
            self.maxHeadBytes = maxHeadBytes
            self.maxChunkLineBytes = maxChunkLineBytes
        }
    }

    private enum State: Sendable, Hashable {
        case statusLine, headerLines
        case fixedBody(remaining: Int)
        case chunkSizeLine
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailerLines
        case untilClose
        case complete
        case failed(HTTPParseError)
    }

    /// Which line limit applies while reading a line.
    private enum LineKind { case head, chunkSize, chunkEnd }

    /// The limits.
    public let limits: Limits
    private let isHeadRequest: Bool
    private var state = State.statusLine
    private var line: [UInt8] = []
    private var headBytes = 0
    private var pendingStatus: (minor: Int, status: Int, reason: String) = (1, 0, "")
    private var fields: [String: String] = [:]
    private var lastField: String?
    private var framedByLength = true
    private var sawTrailingBytes = false
    private var pendingBody: [UInt8] = []

    /// The final response head, once parsed.
    public private(set) var head: HTTP1ResponseHead?
    /// The trailers of a chunked body, names lower-cased.
    public private(set) var trailers: [String: String] = [:]
    /// Whether any byte has been fed (a connection that ends before one is merely stale).
    public private(set) var receivedBytes = false

    /// A parser for the response to a request with `requestMethod` (`HEAD` responses have no body).
    public init(requestMethod: String, limits: Limits = Limits()) {
        self.isHeadRequest = requestMethod.uppercased() == "HEAD"
        self.limits = limits
    }

    /// Whether the whole response has been parsed.
    public var isComplete: Bool { state == .complete }

    /// Whether the connection can carry another exchange: the response is complete, its body
    /// was framed by length or chunks, the server keeps the connection open, and no stray bytes
    /// followed.
    public var canReuseConnection: Bool {
        isComplete && framedByLength && !sawTrailingBytes && head?.keepAlive == true
    }

    /// Parses `bytes`, returning what they complete.
    public mutating func feed(_ bytes: [UInt8]) throws(HTTPParseError) -> [HTTP1ResponseEvent] {
        try feed(bytes[...])
    }

    /// Parses `bytes`, returning what they complete.
    public mutating func feed(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> [HTTP1ResponseEvent] {
        if case .failed(let error) = state { throw error }
        if !bytes.isEmpty { receivedBytes = true }
        var events: [HTTP1ResponseEvent] = []
        do throws(HTTPParseError) {
            try parse(bytes, into: &events)
        } catch {
            state = .failed(error)
            throw error
        }
        flushBody(into: &events)
        return events
    }

    /// Reports the end of the connection: ends a body delimited by it, and throws when the
    /// response is incomplete.
    public mutating func finish() throws(HTTPParseError) -> [HTTP1ResponseEvent] {
        switch state {
        case .failed(let error):
            throw error
        case .complete:
            return []
        case .untilClose:
            state = .complete
            return [.end]
        default:
            let error = HTTPParseError(
                .unexpectedEOF,
                receivedBytes ? "the connection closed in the middle of the response" : "the connection closed before a response")
            state = .failed(error)
            throw error
        }
    }

    private mutating func parse(_ input: ArraySlice<UInt8>, into events: inout [HTTP1ResponseEvent]) throws(HTTPParseError) {
        var index = input.startIndex
        while index < input.endIndex {
            switch state {
            case .statusLine:
                guard let line = try takeLine(input, &index, .head) else { return }
                if line.isEmpty && pendingStatus.status == 0 && headBytes <= 2 { headBytes = 0; continue }
                pendingStatus = try HTTP1HeadLines.statusLine(line)
                state = .headerLines
            case .headerLines:
                guard let line = try takeLine(input, &index, .head) else { return }
                if line.isEmpty {
                    try headComplete(into: &events)
                } else {
                    try HTTP1HeadLines.field(line, into: &fields, last: &lastField)
                }
            case .fixedBody(let remaining):
                let count = min(remaining, input.endIndex - index)
                pendingBody.append(contentsOf: input[index..<(index + count)])
                index += count
                if count == remaining { end(into: &events) } else { state = .fixedBody(remaining: remaining - count) }
            case .chunkSizeLine:
                guard let line = try takeLine(input, &index, .chunkSize) else { return }
                let size = try HTTP1HeadLines.chunkSize(line)
                state = size == 0 ? .trailerLines : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let count = min(remaining, input.endIndex - index)
                pendingBody.append(contentsOf: input[index..<(index + count)])
                index += count
                state = count == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - count)
            case .chunkDataEnd:
                guard let line = try takeLine(input, &index, .chunkEnd) else { return }
                guard line.isEmpty else { throw HTTPParseError(.malformedChunk, "chunk data is not followed by CRLF") }
                state = .chunkSizeLine
            case .trailerLines:
                guard let line = try takeLine(input, &index, .head) else { return }
                if line.isEmpty {
                    end(into: &events)
                } else {
                    try HTTP1HeadLines.field(line, into: &trailers, last: &lastField)
                }
            case .untilClose:
                pendingBody.append(contentsOf: input[index...])
                index = input.endIndex
            case .complete:
                sawTrailingBytes = true
                index = input.endIndex
            case .failed(let error):
                throw error
            }
        }
    }

    /// The next line (without CRLF or LF) when `input` completes one; otherwise keeps the
    /// partial line and returns nil. Enforces the limit of `kind`.
    private mutating func takeLine(
        _ input: ArraySlice<UInt8>, _ index: inout Int, _ kind: LineKind
    ) throws(HTTPParseError) -> [UInt8]? {
        let newline = input[index...].firstIndex(of: 0x0A)
        let end = newline ?? input.endIndex
        let consumed = end - index + (newline == nil ? 0 : 1)
        switch kind {
        case .head:
            headBytes += consumed
            if headBytes > limits.maxHeadBytes {
                throw HTTPParseError(.headTooLarge, "the response head is larger than \(limits.maxHeadBytes) bytes")
            }
        case .chunkSize:
            if line.count + consumed > limits.maxChunkLineBytes {
                throw HTTPParseError(.chunkLineTooLarge, "a chunk-size line is longer than \(limits.maxChunkLineBytes) bytes")
            }
        case .chunkEnd:
            if line.count + consumed > 2 {
                throw HTTPParseError(.malformedChunk, "chunk data is not followed by CRLF")
            }
        }
        line.append(contentsOf: input[index..<end])
        index = end
        guard newline != nil else { return nil }
        index += 1
        var complete = line
        line.removeAll(keepingCapacity: true)
        if complete.last == 0x0D { complete.removeLast() }
        return complete
    }

    /// Acts on a complete head: skips informational responses, reports the final head and
    /// chooses how the body is framed.
    private mutating func headComplete(into events: inout [HTTP1ResponseEvent]) throws(HTTPParseError) {
        let (minor, status, reason) = pendingStatus
        if status == 101 {
            throw HTTPParseError(.unsupported, "101 Switching Protocols is not supported")
        }
        if status < 200 {
            pendingStatus = (1, 0, "")
            fields = [:]
            lastField = nil
            headBytes = 0
            state = .statusLine
            return
        }
        let head = HTTP1ResponseHead(status: status, reason: reason, minorVersion: minor, headers: fields)
        self.head = head
        events.append(.head(head))
        lastField = nil
        headBytes = 0
        if isHeadRequest || status == 204 || status == 304 {
            end(into: &events)
        } else if let codings = fields["transfer-encoding"] {
            let last = codings.split(separator: ",").last.map { $0.trimmingOWS().lowercased() }
            if last == "chunked" {
                state = .chunkSizeLine
                // Both framings at once smell of request smuggling: finish, but do not reuse.
                if fields["content-length"] != nil { framedByLength = false }
            } else {
                state = .untilClose
                framedByLength = false
            }
        } else if let value = fields["content-length"] {
            let length = try HTTP1HeadLines.contentLength(value)
            if length == 0 { end(into: &events) } else { state = .fixedBody(remaining: length) }
        } else {
            state = .untilClose
            framedByLength = false
        }
    }

    private mutating func end(into events: inout [HTTP1ResponseEvent]) {
        flushBody(into: &events)
        events.append(.end)
        state = .complete
    }

    private mutating func flushBody(into events: inout [HTTP1ResponseEvent]) {
        guard !pendingBody.isEmpty else { return }
        events.append(.body(pendingBody))
        pendingBody.removeAll()
    }
}
