import CCurl
import Foundation

/// One HTTP exchange on a ``CurlLoop``: an easy handle and the callbacks that receive its
/// response. Everything but `cancel` happens on the loop's thread.
///
/// `@unchecked Sendable`: after `init`, its mutable state (`statusSeen`, `headers`,
/// `headDelivered`) is touched only by libcurl callbacks and completion, which all run on the
/// loop's one thread.
final class CurlTransfer: @unchecked Sendable {
    /// The easy handle; cleaned up in `deinit`.
    let easy: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private var headers: [String: String] = [:]
    private var headDelivered = false

    /// Called once with status and headers, before the first body bytes.
    let onHead: (Int, [String: String]) -> Void
    /// Called with each piece of the body.
    let onBody: ([UInt8]) -> Void
    /// Called once at the end: nil on success, else libcurl's code and message.
    let onComplete: (CurlFailure?) -> Void

    init(
        easy: UnsafeMutableRawPointer,
        onHead: @escaping (Int, [String: String]) -> Void,
        onBody: @escaping ([UInt8]) -> Void,
        onComplete: @escaping (CurlFailure?) -> Void
    ) {
        self.easy = easy
        self.onHead = onHead
        self.onBody = onBody
        self.onComplete = onComplete
        errorBuffer.initialize(to: 0)
    }

    deinit {
        curl_easy_cleanup(easy)
        if let headerList { curl_slist_free_all(headerList) }
        errorBuffer.deallocate()
    }

    /// Sets the options common to every exchange and points the callbacks at this object.
    func configure(url: String, request: HTTPRequestOptions) throws(CurlFailure) {
        let handle = easy
        let me = Unmanaged.passUnretained(self).toOpaque()
        try check(berth_curl_setopt_string(handle, CURLOPT_URL, url))
        try check(berth_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        try check(berth_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        try check(berth_curl_setopt_data_fn(handle, CURLOPT_WRITEFUNCTION, Self.write))
        try check(berth_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, me))
        try check(berth_curl_setopt_data_fn(handle, CURLOPT_HEADERFUNCTION, Self.header))
        try check(berth_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, me))
        try check(berth_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout * 1000)))
        if let timeout = request.timeout {
            try check(berth_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, max(1, Int(timeout * 1000))))
        }
        if let socket = request.unixSocket {
            try check(berth_curl_setopt_string(handle, CURLOPT_UNIX_SOCKET_PATH, socket))
        }
        if let tls = request.tls { try configure(tls) }
        switch request.method {
        case "GET":
            break
        case "HEAD":
            try check(berth_curl_setopt_long(handle, CURLOPT_NOBODY, 1))
        default:
            try check(berth_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method))
        }
        if let body = request.body {
            try check(berth_curl_setopt_long(handle, CURLOPT_POST, 1))
            try check(berth_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
            // COPYPOSTFIELDS copies the bytes, so the buffer need not outlive this call.
            let code = body.withUnsafeBytes { bytes in
                berth_curl_setopt_pointer(
                    handle, CURLOPT_COPYPOSTFIELDS,
                    UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(errorBuffer)))
            }
            try check(code)
        } else if request.method == "POST" {
            try check(berth_curl_setopt_long(handle, CURLOPT_POST, 1))
            try check(berth_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, 0))
        }
        var lines = request.headers.map { "\($0.key): \($0.value)" }
        lines.append("Expect:")
        if request.body != nil, request.headers.keys.allSatisfy({ $0.lowercased() != "content-type" }) {
            lines.append("Content-Type: application/json")
        }
        for line in lines { headerList = curl_slist_append(headerList, line) }
        try check(berth_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList))
    }

    private func configure(_ tls: CurlTLS) throws(CurlFailure) {
        let handle = easy
        func blob(_ option: CURLoption, _ bytes: [UInt8]) throws(CurlFailure) {
            let code = bytes.withUnsafeBytes { berth_curl_setopt_blob(handle, option, $0.baseAddress, $0.count) }
            try check(code)
        }
        if let authority = tls.certificateAuthorityPEM { try blob(CURLOPT_CAINFO_BLOB, authority) }
        if let certificate = tls.clientCertificatePEM { try blob(CURLOPT_SSLCERT_BLOB, certificate) }
        if let key = tls.clientKeyPEM { try blob(CURLOPT_SSLKEY_BLOB, key) }
        if tls.insecureSkipVerify {
            try check(berth_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 0))
            try check(berth_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0))
        }
    }

    private func check(_ code: CURLcode) throws(CurlFailure) {
        guard code == CURLE_OK else { throw CurlFailure(code: code, message: String(cString: curl_easy_strerror(code))) }
    }

    /// libcurl's message for a failed transfer: the error buffer, or the code's text.
    func failure(for code: CURLcode) -> CurlFailure {
        let detail = String(cString: errorBuffer)
        return CurlFailure(code: code, message: detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
    }

    /// Delivers the head if the body never came (an empty response).
    func complete(_ failure: CurlFailure?) {
        if failure == nil { deliverHead() }
        onComplete(failure)
    }

    private func deliverHead() {
        guard !headDelivered else { return }
        headDelivered = true
        var status = 0
        berth_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        onHead(status, headers)
    }

    private static let write: berth_curl_data_fn = { data, size, count, userdata in
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
        let length = size * count
        transfer.deliverHead()
        if length > 0, let data {
            transfer.onBody(Array(UnsafeRawBufferPointer(start: data, count: length)))
        }
        return length
    }

    private static let header: berth_curl_data_fn = { data, size, count, userdata in
        let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata!).takeUnretainedValue()
        let length = size * count
        guard let data else { return length }
        let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            transfer.headers = [:]  // a new response head (after 100 Continue, say)
        } else if line == "\r\n" || line == "\n" {
            // The head is complete: deliver it now, so a stream that sends no body yet (an
            // idle event stream) is still known to be connected.
            var status = 0
            berth_curl_getinfo_long(transfer.easy, CURLINFO_RESPONSE_CODE, &status)
            if status >= 200 { transfer.deliverHead() }
        } else if let colon = line.firstIndex(of: ":") {
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            transfer.headers[name] = value
        }
        return length
    }
}

/// The options of one exchange, as the transport resolved them.
struct HTTPRequestOptions {
    var method: String
    var headers: [String: String]
    var body: [UInt8]?
    var timeout: Double?
    var connectTimeout: Double
    var unixSocket: String?
    var tls: CurlTLS?
}

/// A libcurl failure: its code and message.
struct CurlFailure: Error, Sendable {
    let code: CURLcode
    let message: String
}
