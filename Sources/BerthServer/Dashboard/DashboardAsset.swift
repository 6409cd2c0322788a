import Crypto
import HTTPTypes
import Hummingbird

/// One file of the web dashboard, compiled into the binary so that the server needs no asset
/// folder and the browser fetches nothing from anywhere else (docs/dashboard.md). The files are
/// `Dashboard/Assets/index.html`, `app.js` and `style.css`, edited as they are and embedded by
/// SwiftPM (`embedInCode`).
///
/// The dashboard is public static content: it holds no data and no secret. Everything it shows
/// comes from the REST API with the token the user signs in with, so the API's roles apply.
struct DashboardAsset: Sendable {
    /// The `Content-Type` it is served with.
    let contentType: String
    /// The bytes.
    let bytes: ByteBuffer
    /// A strong validator: the first 16 bytes of the content's SHA-256, in hex.
    let etag: String

    init(contentType: String, bytes: [UInt8]) {
        self.contentType = contentType
        self.bytes = ByteBuffer(bytes: bytes)
        etag = "\"" + SHA256.hash(data: bytes).prefix(16).map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined() + "\""
    }

    /// The page: the frame the script fills.
    static let page = DashboardAsset(contentType: "text/html; charset=utf-8", bytes: PackageResources.index_html)
    /// The script: routing, the API calls, the views.
    static let script = DashboardAsset(contentType: "text/javascript; charset=utf-8", bytes: PackageResources.app_js)
    /// The style sheet, light and dark.
    static let style = DashboardAsset(contentType: "text/css; charset=utf-8", bytes: PackageResources.style_css)

    /// The dashboard's files by path.
    static let byPath: [String: DashboardAsset] = ["/": page, "/ui/app.js": script, "/ui/style.css": style]

    /// The policy every dashboard response carries: scripts, styles and requests only to this
    /// server; no framing; no inline script.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    /// The asset (only its headers for `HEAD`), or `304 Not Modified` when the browser's copy
    /// is current.
    func response(to request: Request) -> Response {
        var headers = HTTPFields()
        headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[.cacheControl] = "no-cache"
        headers[.eTag] = etag
        if request.headers[.ifNoneMatch] == etag {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = contentType
        if request.method == .head {
            headers[.contentLength] = String(bytes.readableBytes)
            return Response(status: .ok, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: bytes))
    }

    /// Registers `GET` and `HEAD` for every asset path.
    static func register(on router: Router<BasicRequestContext>) {
        for (path, asset) in byPath {
            for method in [HTTPRequest.Method.get, .head] {
                router.on(RouterPath(path), method: method) { request, _ in asset.response(to: request) }
            }
        }
    }
}
