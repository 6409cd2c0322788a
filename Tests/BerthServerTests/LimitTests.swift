import BerthClient
import BerthCore
import BerthHTTP
import BerthPluginKit
@testable import BerthServer
import BerthTestSupport
import CurlHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Connection and request limits, on a live HTTP server.
@Suite("Request and connection limits", .postgresServer)
struct LimitTests {
    /// What a follow request gets within `seconds`: a problem's status, or `nil` while it streams.
    private func followStatus(_ client: BerthClient, _ id: String, within seconds: Double) async throws -> Int? {
        try await withThrowingTaskGroup(of: Int?.self) { group in
            group.addTask {
                do {
                    for try await _ in client.logs(id, follow: true) {}
                    return 200
                } catch let error as ClientError {
                    return error.problem?.status ?? -1
                }
            }
            group.addTask { try await Task.sleep(for: .seconds(seconds)); return nil }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
    }

    @Test("a token holds at most max_log_follows_per_token follows; one more is 429; an ended follow frees its place")
    func followCap() async throws {
        var configuration = ServerConfiguration(port: 0)
        configuration.maxLogFollowsPerToken = 2
        try await ServerHarness.run(configuration: configuration, setup: .live) { h in
            let url = "http://127.0.0.1:\(try #require(h.client.port))"
            let heads = HeadCountingTransport(CurlTransport(endpoint: .url(url)))
            let watcher = BerthClient(baseURL: url, token: try await h.makeToken(.viewer, owner: "watcher"), transport: heads)
            let admin = BerthClient(baseURL: url, token: h.adminToken)
            let a = try h.id(of: try await h.submit(["image": "x"])).uuidString.lowercased()
            let b = try h.id(of: try await h.submit(["image": "x"])).uuidString.lowercased()
            let held = (0..<2).map { _ in
                Task { () -> Bool in
                    do {
                        for try await _ in watcher.logs(a, follow: true) {}
                        return true
                    } catch {
                        return false
                    }
                }
            }
            // Both held (their 200 heads arrived, so the server gave each its place; a fixed
            // 3 s wait was too little once in CI): the next one is refused.
            try await heads.waitForSuccessfulHeads(2, within: .seconds(30))
            #expect(try await followStatus(watcher, b, within: 10) == 429)
            do {
                _ = try await watcher.send("GET", "/v1/executions/\(b)/logs?follow=true")
                Issue.record("a third follow was accepted")
            } catch let error as ClientError {
                #expect(error.problem?.code == "too_many_follows")
            }
            // Another token has places of its own; a plain read needs none.
            #expect(try await followStatus(admin, b, within: 1) == nil)
            _ = try await watcher.send("GET", "/v1/executions/\(b)")
            // A ends: its two follows end, and their places are free again.
            _ = try await admin.cancel(a)
            for follow in held { #expect(await follow.value) }
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await followStatus(watcher, b, within: 1) == nil)
            _ = try await admin.cancel(b)
        }
    }

    @Test("a request head over max_header_bytes is refused without a 5xx")
    func headerLimit() async throws {
        var configuration = ServerConfiguration(port: 0)
        configuration.maxHeaderBytes = 4096
        try await ServerHarness.run(configuration: configuration, setup: .live) { h in
            let client = BerthClient(baseURL: "http://127.0.0.1:\(try #require(h.client.port))", token: h.adminToken)
            _ = try await client.send("GET", "/v1/executions", headers: ["X-Pad": String(repeating: "a", count: 3000)])
            do {
                _ = try await client.send("GET", "/v1/executions", headers: ["X-Pad": String(repeating: "a", count: 8000)])
                Issue.record("an 8000-byte header was accepted with a limit of 4096")
            } catch let error as ClientError {
                // 431, or the connection closed without an answer: never a 5xx.
                if let status = error.problem?.status { #expect(status == 431 || status == 400, "\(error)") }
            }
            // The server goes on serving.
            _ = try await client.send("GET", "/v1/executions")
        }
    }

    @Test("a connection that sends no complete request head within the idle timeout is closed; a prompt one is served")
    func idleTimeout() async throws {
        var configuration = ServerConfiguration(port: 0)
        configuration.idleTimeout = .seconds(1)
        try await ServerHarness.run(configuration: configuration, setup: .live) { h in
            let port = try #require(h.client.port)
            let (read, waited) = try await RawConnection.blocking { () throws -> (Int, Duration) in
                let slow = try RawConnection.connect(port)
                defer { close(slow) }
                _ = "GET /healthz HTTP/1.1\r\nHost: x\r\n".withCString { send(slow, $0, strlen($0), 0) }
                let started = ContinuousClock.now
                var buffer = [UInt8](repeating: 0, count: 256)
                var timeout = timeval(tv_sec: 5, tv_usec: 0)
                setsockopt(slow, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                return (recv(slow, &buffer, buffer.count, 0), ContinuousClock.now - started)
            }
            #expect(read == 0, "the server should close the stalled connection (read \(read))")
            #expect(waited >= .milliseconds(800) && waited < .seconds(15), "closed after \(waited)")

            let answer = try await RawConnection.exchange(port, Array("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            #expect(String(decoding: answer, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        }
    }

    @Test("a request body trickled byte by byte is cut at the read deadline; a long answer is not")
    func readTimeout() async throws {
        var configuration = ServerConfiguration(port: 0)
        configuration.requestReadTimeout = .milliseconds(1500)
        try await ServerHarness.run(configuration: configuration, setup: .live) { h in
            let port = try #require(h.client.port)
            let adminToken = h.adminToken
            let closedAfter = try await RawConnection.blocking { () throws -> Duration? in
                let fd = try RawConnection.connect(port)
                defer { close(fd) }
                let head = "POST /v1/executions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(adminToken)\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
                _ = head.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                let started = ContinuousClock.now
                // A byte every 200 ms: each one resets the idle timeout (30 s), never the deadline.
                for _ in 0..<40 {
                    if send(fd, " ", 1, Int32(MSG_NOSIGNAL)) < 0 { return ContinuousClock.now - started }
                    var probe = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    if poll(&probe, 1, 200) > 0 {
                        var byte: UInt8 = 0
                        if recv(fd, &byte, 1, Int32(MSG_DONTWAIT)) <= 0 { return ContinuousClock.now - started }
                    }
                }
                return nil
            }
            let after = try #require(closedAfter, "the trickling connection should have been closed")
            #expect(after >= .milliseconds(1300) && after < .seconds(15), "closed after \(after)")

            // A follow's answer streams past the deadline: only requests are timed.
            let execution = try await h.submit(["image": "x"])
            let id = try h.id(of: execution)
            let follow = Task {
                try await h.request(.get, "/v1/executions/\(id.uuidString)/logs?follow=true")
            }
            try await Task.sleep(for: .milliseconds(2500))
            _ = try await h.store.transition(id, from: .queued, to: .cancelled, reason: "test")
            let answer = try await follow.value
            #expect(answer.status == .ok, "\(answer.text)")
        }
    }
}

/// A transport that counts the 2xx response heads of its streams, so a test can wait until a
/// streamed answer has begun instead of sleeping.
private final class HeadCountingTransport: HTTPTransport {
    private let base: any HTTPTransport
    private let count = Mutex(0)

    init(_ base: any HTTPTransport) {
        self.base = base
    }

    var endpointDescription: String { base.endpointDescription }

    func send(_ request: BerthHTTP.HTTPRequest) async throws(PluginError) -> BerthHTTP.HTTPResponse {
        try await base.send(request)
    }

    func stream(_ request: BerthHTTP.HTTPRequest) -> AsyncThrowingStream<HTTPStreamPart, any Error> {
        let parts = base.stream(request)
        let (stream, continuation) = AsyncThrowingStream<HTTPStreamPart, any Error>.makeStream()
        let task = Task {
            do {
                for try await part in parts {
                    if case .head(let status, _) = part, (200..<300).contains(status) { self.count.withLock { $0 += 1 } }
                    continuation.yield(part)
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Returns once `expected` 2xx heads have arrived; fails the test after `limit`.
    func waitForSuccessfulHeads(_ expected: Int, within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        while count.withLock({ $0 }) < expected {
            guard ContinuousClock.now < deadline else {
                Issue.record("only \(count.withLock { $0 }) of \(expected) streams began within \(limit)")
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// HTTPS for the API, with a certificate made by openssl for 127.0.0.1.
@Suite("TLS for the API", .postgresServer)
struct TLSTests {
    /// A self-signed certificate for 127.0.0.1 and its key, in a new folder.
    private static func makeCertificate() throws -> (folder: URL, certificate: String, key: String) {
        let folder = try FileManager.default.url(
            for: .itemReplacementDirectory, in: .userDomainMask, appropriateFor: URL(fileURLWithPath: "/tmp"), create: true)
        let (certificate, key) = try TestCertificate.make(in: folder)
        return (folder, certificate, key)
    }

    @Test("with listen.tls the API answers over HTTPS to a client that trusts the certificate, and to no one else")
    func https() async throws {
        let (folder, certificate, key) = try Self.makeCertificate()
        defer { try? FileManager.default.removeItem(at: folder) }
        var configuration = ServerConfiguration(port: 0)
        configuration.tls = ServerConfiguration.TLSFiles(certificateFile: certificate, keyFile: key)
        try await ServerHarness.run(configuration: configuration, setup: .live) { h in
            let port = try #require(h.client.port)
            let pem = [UInt8](try #require(FileManager.default.contents(atPath: certificate)))
            let trusting = BerthClient(baseURL: "https://127.0.0.1:\(port)", token: h.adminToken, certificateAuthorityPEM: pem)
            #expect(await trusting.isReady())
            let page = try await trusting.list()
            #expect(page.executions.isEmpty)
            // The system's authorities do not know this certificate; plain HTTP is not spoken.
            let untrusting = BerthClient(baseURL: "https://127.0.0.1:\(port)", token: h.adminToken)
            await #expect(throws: ClientError.self) { _ = try await untrusting.list() }
            let plain = BerthClient(baseURL: "http://127.0.0.1:\(port)", token: h.adminToken)
            await #expect(throws: ClientError.self) { _ = try await plain.list() }
        }
    }

    @Test("a missing or unreadable certificate or key stops the setup with the file named")
    func badFiles() async throws {
        let (folder, certificate, key) = try Self.makeCertificate()
        defer { try? FileManager.default.removeItem(at: folder) }
        try await TestServer.withStore { store, _ in
            let plugins = PluginHost(configuration: PluginHostConfiguration(hosts: [], serverID: "tls"))
            let context = ServerContext(store: store, plugins: plugins, control: StoreCancellingControl(store: store))
            for (files, named) in [
                (ServerConfiguration.TLSFiles(certificateFile: folder.path + "/none.pem", keyFile: key), "/none.pem"),
                (ServerConfiguration.TLSFiles(certificateFile: certificate, keyFile: certificate), certificate),
            ] {
                var configuration = ServerConfiguration(port: 0)
                configuration.tls = files
                do {
                    _ = try await buildApplication(configuration: configuration, context: context, logger: TestServer.logger)
                    Issue.record("set up with \(files)")
                } catch let error as ServerSetupError {
                    #expect(error.description.contains(named), "\(error)")
                }
            }
        }
    }
}
