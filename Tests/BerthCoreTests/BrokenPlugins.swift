import BerthTestSupport
import Foundation

/// Builds deliberately broken plugin libraries with the system C compiler, one per load error
/// the PluginHost must report.
enum BrokenPlugins {
    /// The folder holding the ABI header, found from this source file.
    static let headerFolder: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Sources/CBerthPlugin/include").path
    }()

    /// A descriptor with the given ABI version and size, and otherwise valid-looking fields.
    static func descriptorSource(abiVersion: String, structSize: String) -> String {
        """
        #include "berth_plugin.h"
        static berth_plugin_v1_t descriptor = {
            .abi_version = \(abiVersion), .struct_size = \(structSize),
            .name = "broken", .version = "0.0.1", .settings_schema = "{}",
        };
        const berth_plugin_v1_t *berth_plugin_v1(void) { return &descriptor; }
        """
    }

    /// Makes a fresh folder with one broken library per case; returns the folder and the files.
    static func makeFolder() throws -> (folder: String, files: [String: String]) {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("berth-broken-\(TestEnvironment.uniqueID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var files: [String: String] = [:]
        let notLibrary = folder + "/libnotalibrary.so"
        try Data("this is not an ELF file\n".utf8).write(to: URL(fileURLWithPath: notLibrary))
        files["not_shared_library"] = notLibrary
        files["missing_entry"] = try compile("int something_else(void) { return 1; }\n", named: "libnoentry", in: folder)
        files["unknown_abi_version"] = try compile(
            descriptorSource(abiVersion: "99u", structSize: "sizeof(berth_plugin_v1_t)"), named: "libfuture", in: folder)
        files["struct_too_small"] = try compile(
            descriptorSource(abiVersion: "BERTH_PLUGIN_ABI_VERSION", structSize: "16u"), named: "libtiny", in: folder)
        return (folder, files)
    }

    /// A plugin as built against the header before `collect` was appended: the Simulated
    /// plugin's descriptor, copied up to `collect`, with that as its `struct_size`.
    static func makeOlderPlugin(in folder: String, simulated: String) throws -> String {
        try compile(
            """
            #include "berth_plugin.h"
            #include <dlfcn.h>
            #include <stddef.h>
            #include <string.h>
            static berth_plugin_v1_t older;
            const berth_plugin_v1_t *berth_plugin_v1(void) {
                void *library = dlopen("\(simulated)", RTLD_NOW | RTLD_LOCAL);
                const berth_plugin_v1_t *(*entry)(void) = (const berth_plugin_v1_t *(*)(void))dlsym(library, "berth_plugin_v1");
                memcpy(&older, entry(), offsetof(berth_plugin_v1_t, collect));
                older.struct_size = offsetof(berth_plugin_v1_t, collect);
                older.name = "older";
                return &older;
            }
            """, named: "libolder", in: folder)
    }

    private static func compile(_ source: String, named name: String, in folder: String) throws -> String {
        let sourcePath = folder + "/\(name).c"
        let output = folder + "/\(name).so"
        try Data(source.utf8).write(to: URL(fileURLWithPath: sourcePath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["cc", "-shared", "-fPIC", "-I", headerFolder, "-o", output, sourcePath]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CompileError(message: "cc failed (\(process.terminationStatus)) for \(name)")
        }
        try FileManager.default.removeItem(atPath: sourcePath)
        return output
    }

    struct CompileError: Error { let message: String }
}
