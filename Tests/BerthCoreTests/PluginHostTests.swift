import BerthCore
import BerthPluginKit
import BerthTestSupport
import Foundation
import Testing

@Suite("PluginHost loading and opening")
struct PluginHostTests {
    @Test("each broken plugin is reported with its file and cause, and the others still load")
    func brokenPlugins() async throws {
        let (folder, files) = try BrokenPlugins.makeFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A working plugin in the same folder must still load and open.
        try FileManager.default.createSymbolicLink(
            atPath: folder + "/libBerthSimulated.so", withDestinationPath: TestEnvironment.pluginFolder + "/libBerthSimulated.so")
        let host = PluginHost(configuration: PluginHostConfiguration(
            pluginFolders: [folder], hosts: [TargetHostConfiguration(name: "sim", plugin: "simulated")], serverID: "s1"))
        await host.start()
        let records = await host.plugins
        func failure(_ file: String) -> PluginHostError? {
            guard case .failure(let error)? = records.first(where: { $0.file == file })?.result else { return nil }
            return error
        }
        let notLibrary = try #require(failure(files["not_shared_library"]!))
        #expect(notLibrary.message.contains("not a shared library"))
        #expect(notLibrary.file == files["not_shared_library"])
        let noEntry = try #require(failure(files["missing_entry"]!))
        #expect(noEntry.message.contains("does not export berth_plugin_v1"))
        let future = try #require(failure(files["unknown_abi_version"]!))
        #expect(future.message.contains("plugin is version 99, host wants version 1"))
        let tiny = try #require(failure(files["struct_too_small"]!))
        #expect(tiny.message.contains("descriptor is 16 bytes"))
        #expect(records.count == 5)
        let simulated = try await host.backend(forHost: "sim")
        #expect(try await simulated.health().ok)
        await host.shutdown()
    }

    @Test("a plugin built before collect was appended loads and opens; collect is unsupported, not a crash")
    func olderDescriptor() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("berth-older-\(TestEnvironment.uniqueID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        _ = try BrokenPlugins.makeOlderPlugin(in: folder, simulated: TestEnvironment.pluginFolder + "/libBerthSimulated.so")
        let host = PluginHost(configuration: PluginHostConfiguration(
            pluginFolders: [folder], hosts: [TargetHostConfiguration(name: "old", plugin: "older")], serverID: "s1"))
        await host.start()
        let backend = try await host.backend(forHost: "old")
        #expect(try await backend.health().ok)
        do {
            for try await _ in backend.collect(CollectRequest(handle: RuntimeHandle(id: "x"), path: "/berth/out")) {}
            Issue.record("collect on an older plugin should fail")
        } catch let error as PluginError {
            #expect(error.code == .unsupported, "\(error)")
        }
        await host.shutdown()
    }

    @Test("settings that violate the schema are rejected naming the key; other hosts open")
    func settingsRejected() async throws {
        let host = PluginHost(configuration: PluginHostConfiguration(
            hosts: [
                TargetHostConfiguration(name: "bad-type", plugin: "simulated", settings: ["max_concurrent": "lots"]),
                TargetHostConfiguration(name: "bad-key", plugin: "simulated", settings: ["max_concurent": 2]),
                TargetHostConfiguration(name: "no-plugin", plugin: "podman"),
                TargetHostConfiguration(name: "good", plugin: "simulated", settings: ["max_concurrent": 2]),
            ],
            serverID: "s1"))
        await host.start()
        for (name, fragment) in [
            ("bad-type", "settings.max_concurrent: expected integer"),
            ("bad-key", "settings.max_concurent: unknown key"),
            ("no-plugin", "no loaded plugin is named 'podman'"),
        ] {
            let error = await #expect(throws: PluginHostError.self) { _ = try await host.backend(forHost: name) }
            #expect(error?.host == name)
            #expect(error?.message.contains(fragment) == true, "\(name): \(String(describing: error))")
        }
        let good = try await host.backend(forHost: "good")
        #expect(try await good.capacity().maxConcurrent == 2)
        let unknown = await #expect(throws: PluginHostError.self) { _ = try await host.backend(forHost: "nowhere") }
        #expect(unknown?.code == .unknownHost)
        await host.shutdown()
    }

    @Test("the default plugin folder is the running binary's and holds both in-tree plugins")
    func defaultFolder() async throws {
        let host = PluginHost(configuration: PluginHostConfiguration(hosts: [], serverID: "s1"))
        await host.start()
        let names = await host.plugins.compactMap { try? $0.result.get().name }
        #expect(names.contains("docker"))
        #expect(names.contains("simulated"))
        await host.shutdown()
    }
}
