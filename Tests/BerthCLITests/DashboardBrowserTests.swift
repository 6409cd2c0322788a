import BerthTestSupport
import Foundation
import Testing

/// The web dashboard in headless Chromium (Debian's `chromium`, installed by
/// `scripts/install-deps.sh`): `scripts/dashboard-check.py` signs in, loads every page against a
/// real `berth serve` running executions on the test Docker engine, checks what each shows
/// (live output, progress, state changes, filters, paging, hosts, plugins) and saves a
/// screenshot of each in `.build/dashboard-screenshots`.
@Suite("the dashboard in Chromium")
struct DashboardBrowserTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("every page shows what it must, live, with no script error")
    func everyPage() async throws {
        let socket = try TestEnvironment.dockerSocket()
        let served = try await ServedBerth("berth-dashboard") { folder in
            """
            default_host: local
            hosts:
              - name: local
                plugin: docker
                settings: {socket_path: \(socket), pull_policy: if_not_present}
              - {name: sim, plugin: simulated}
              - name: unreachable
                plugin: docker
                settings: {socket_path: \(folder.path)/no-engine.sock}
            """
        }
        let screenshots = Self.packageRoot.appendingPathComponent(".build/dashboard-screenshots")
        try? FileManager.default.removeItem(at: screenshots)
        let check = try await Subprocess("/usr/bin/python3", [
            Self.packageRoot.appendingPathComponent("scripts/dashboard-check.py").path,
            "--url", served.url, "--token-file", served.tokenFile, "--image", TestEnvironment.localImage, "--host", "local",
            "--screenshots", screenshots.path,
        ]).wait(timeout: 300)
        print("dashboard-check.py:\n\(check.stdout)")
        #expect(check.status == 0, "\(check.stdout)\n\(check.stderr.suffix(4000))")
        let passed = check.stdout.split(separator: "\n").filter { $0.hasPrefix("ok ") }
        #expect(passed.count == 9 && !check.stdout.contains("FAIL"), "\(check.stdout)")
        for page in ["login", "executions", "filters", "paging", "execution-live", "execution-running", "execution-done", "hosts", "plugins"] {
            let size = (try? FileManager.default.attributesOfItem(atPath: screenshots.appendingPathComponent("\(page).png").path)[.size] as? Int) ?? 0
            #expect(size > 10_000, "the screenshot of \(page) is missing or empty")
        }
        #expect(try await served.stop() == 0)
    }
}
