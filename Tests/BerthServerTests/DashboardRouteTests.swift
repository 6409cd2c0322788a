@testable import BerthServer
import BerthTestSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

extension ServerTests {
    @Test("the dashboard's files are public, same-origin only, cached by ETag, and gone when it is turned off")
    func dashboardAssets() async throws {
        try await ServerHarness.run { h in
            let page = try await h.request(.get, "/", as: .anonymous)
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.text.contains(#"<script src="/ui/app.js" defer></script>"#))
            #expect(page.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            #expect(page.headers[.xContentTypeOptions] == "nosniff")
            for (path, type) in [("/ui/app.js", "text/javascript; charset=utf-8"), ("/ui/style.css", "text/css; charset=utf-8")] {
                let asset = try await h.request(.get, path, as: .anonymous)
                #expect(asset.status == .ok && asset.headers[.contentType] == type && asset.body.readableBytes > 1000, "\(path)")
            }
            let etag = try #require(page.headers[.eTag])
            let cached = try await h.request(.get, "/", headers: [.ifNoneMatch: etag], as: .anonymous)
            #expect(cached.status == .notModified && cached.body.readableBytes == 0)
            let head = try await h.request(.head, "/ui/app.js", as: .anonymous)
            #expect(head.status == .ok && head.body.readableBytes == 0)
            #expect(head.headers[.contentLength] == String(DashboardAsset.script.bytes.readableBytes))
            // The API behind it still wants a token.
            #expect(try await h.request(.get, "/v1/executions", as: .anonymous).status == .unauthorized)
        }
        var off = ServerConfiguration()
        off.dashboard = false
        try await ServerHarness.run(configuration: off) { h in
            let page = try await h.request(.get, "/", as: .anonymous)
            #expect(page.status == .notFound)
            #expect(try await h.request(.get, "/ui/app.js", as: .anonymous).status == .notFound)
        }
    }
}
