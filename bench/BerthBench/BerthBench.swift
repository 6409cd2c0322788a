import BerthCore
import BerthPluginKit
import CBerthPlugin

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Round trip of one `inspect` through the C ABI on the Simulated plugin, against the same call
/// on an in-process Swift ``Backend``. Usage: `BerthBench [iterations]` (default 200,000).
@main
struct BerthBench {
    static let warmUp = 10_000
    static let rounds = 3
    static let goalNanoseconds = 5_000.0

    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard let iterations = arguments.first.map({ Int($0) }) ?? 200_000, iterations > 0 else {
            print("usage: BerthBench [iterations]   (a positive integer; default 200000)")
            exit(2)
        }

        let file = PluginHost.executableFolder + "/libBerthSimulated.so"
        let plugin = try LoadedPlugin.load(file: file)
        let instance = try await plugin.open(settings: ["max_concurrent": 4], host: "bench", server: "bench")
        let spec = ExecutionSpec(executionID: "bench", image: "sim/bench", env: ["SIM_SECONDS": "3600"])
        let handle = try await instance.inspectableHandle(spec)

        let direct = DirectBackend()
        let directHandle = try await direct.start(spec)

        // The bytes that cross the boundary, for the JSON-only rows.
        let status = try await instance.inspect(handle)
        guard status.state == .running else { fatalError("the execution is \(status.state), not running") }
        let statusBytes = status.json.serialized()
        let handleBytes = handle.json.serialized()

        let raw = try RawABI(file: file)

        print("BerthBench: inspect round trip, \(iterations) calls per round after \(warmUp) warm-up calls,")
        print("median of \(rounds) rounds; plugin \(plugin.name) \(plugin.version) from \(file)")
        print("handle \(String(decoding: handleBytes, as: UTF8.self)) (\(handleBytes.count) B), "
            + "status \(statusBytes.count) B")
        print("")

        var rows: [(String, Double)] = []
        rows.append(("direct Swift call (DirectBackend.inspect)", try await measure(iterations) {
            try await direct.inspect(directHandle).startedAt?.nanosecondsSinceEpoch ?? 0
        }))
        rows.append(("C ABI round trip (PluginInstance.inspect)", try await measure(iterations) {
            try await instance.inspect(handle).startedAt?.nanosecondsSinceEpoch ?? 0
        }))
        rows.append(("  of which: JSON encode handle + decode status", try await measure(iterations) {
            let bytes = handle.json.serialized()
            return Int64(bytes.count) &+ (try RuntimeStatus(jsonBytes: statusBytes).startedAt?.nanosecondsSinceEpoch ?? 0)
        }))
        rows.append(("  of which: continuation + box, no C, no JSON", await measureContinuation(iterations)))
        rows.append(("  of which: plugin's C inspect, called synchronously", raw.measure(iterations, handle: handleBytes)))
        rows.append(("(Swift-side JSON a Swift plugin adds: decode handle + encode status)", try await measure(iterations) {
            let decoded = RuntimeHandle(json: try JSONValue(parsing: handleBytes))
            return Int64(status.json.serialized().count) &+ Int64(decoded.id?.utf8.count ?? 0)
        }))

        let directNanoseconds = rows[0].1
        let abiNanoseconds = rows[1].1
        let width = rows.map(\.0.count).max()!
        print(pad("", width) + "   ns/call   × direct")
        for (name, nanoseconds) in rows {
            print(pad(name, width) + " " + format(nanoseconds, 9, 1) + "  " + format(nanoseconds / directNanoseconds, 9, 1))
        }
        print("")
        print("ratio ABI/direct: \(format(abiNanoseconds / directNanoseconds, 0, 1))×")
        print("goal < 5000 ns: \(abiNanoseconds < goalNanoseconds ? "met" : "missed") (\(format(abiNanoseconds, 0, 0)) ns per ABI call)")
        print("(checksum \(sink))")

        raw.close()
        try await instance.stop(handle, graceSeconds: 0)
        try await instance.remove(handle)
        await instance.close()
    }

    /// Median ns per call of `body` over ``rounds`` rounds of `iterations` calls.
    static func measure(_ iterations: Int, _ body: @Sendable () async throws -> Int64) async throws -> Double {
        var total: Int64 = 0
        for _ in 0..<warmUp { total &+= try await body() }
        var samples: [Double] = []
        for _ in 0..<rounds {
            let began = now()
            for _ in 0..<iterations { total &+= try await body() }
            samples.append(Double(now() - began) / Double(iterations))
        }
        sink &+= total
        return samples.sorted()[rounds / 2]
    }

    /// What `PluginCall.run` costs without the C call and the JSON: a retained box holding an
    /// unsafe continuation, resumed before the suspension completes.
    static func measureContinuation(_ iterations: Int) async -> Double {
        final class Box: Sendable {
            let continuation: UnsafeContinuation<[UInt8], Never>
            init(_ continuation: UnsafeContinuation<[UInt8], Never>) { self.continuation = continuation }
        }
        let payload: [UInt8] = [1, 2, 3]
        return (try? await measure(iterations) {
            let bytes = await withUnsafeContinuation { continuation in
                let context = Unmanaged.passRetained(Box(continuation)).toOpaque()
                let box = Unmanaged<Box>.fromOpaque(context).takeRetainedValue()
                box.continuation.resume(returning: Array(payload))
            }
            return Int64(bytes.count)
        }) ?? .nan
    }
}

nonisolated(unsafe) var sink: Int64 = 0

func now() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
}

func pad(_ text: String, _ width: Int) -> String {
    text + String(repeating: " ", count: max(0, width - text.count))
}

/// `value` with `decimals` decimals, right-aligned in `width`.
func format(_ value: Double, _ width: Int, _ decimals: Int) -> String {
    guard value.isFinite else { return pad("n/a", width) }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int64((value * scale).rounded())
    var text = String(scaled / Int64(scale))
    if decimals > 0 {
        let fraction = String(abs(scaled) % Int64(scale))
        text += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }
    return String(repeating: " ", count: max(0, width - text.count)) + text
}

extension PluginInstance {
    /// Starts `spec` and returns its handle.
    func inspectableHandle(_ spec: ExecutionSpec) async throws -> RuntimeHandle {
        try await start(spec)
    }
}

/// The plugin's own `inspect`, called straight through its descriptor with a synchronous C
/// completion: what the plugin and the C call cost, without Swift concurrency or JSON on the
/// host side. The Simulated plugin completes `inspect` on the calling thread.
struct RawABI {
    let table: UnsafePointer<berth_plugin_v1_t>
    let instance: OpaquePointer

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(file: String) throws {
        guard let library = dlopen(file, RTLD_NOW | RTLD_LOCAL),
              let symbol = dlsym(library, BERTH_PLUGIN_ENTRY_SYMBOL)
        else { throw Failure(description: "cannot load \(file)") }
        typealias Entry = @convention(c) () -> UnsafePointer<berth_plugin_v1_t>?
        guard let table = unsafeBitCast(symbol, to: Entry.self)() else { throw Failure(description: "no descriptor") }
        self.table = table
        var opened: OpaquePointer?
        let settings = Array(#"{"host":"raw","server":"raw"}"#.utf8)
        settings.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                table.pointee.open(table, chars.baseAddress, chars.count, &opened) { context, status, instance, _, _ in
                    if status == BERTH_STATUS_OK {
                        context!.assumingMemoryBound(to: OpaquePointer?.self).pointee = instance
                    }
                }
            }
        }
        guard let opened else { throw Failure(description: "open did not complete synchronously") }
        self.instance = opened
        let spec = Array(#"{"execution_id":"raw","attempt":1,"image":"sim/raw","env":{"SIM_SECONDS":"3600"}}"#.utf8)
        var started = false
        spec.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                table.pointee.start(opened, chars.baseAddress, chars.count, &started) { context, status, _, _ in
                    context!.assumingMemoryBound(to: Bool.self).pointee = status == BERTH_STATUS_OK
                }
            }
        }
        guard started else { throw Failure(description: "start failed") }
    }

    /// Median ns per synchronous `inspect` of `handle` (the handle `{"id":"sim-1"}` of this
    /// instance has the same shape as the other one's).
    func measure(_ iterations: Int, handle: [UInt8]) -> Double {
        let inspect = table.pointee.inspect!
        let raw = Array(#"{"id":"sim-1"}"#.utf8)
        var bytes = 0
        func one(_ chars: UnsafeBufferPointer<CChar>) {
            inspect(instance, chars.baseAddress, chars.count, &bytes) { context, status, _, length in
                context!.assumingMemoryBound(to: Int.self).pointee &+= status == BERTH_STATUS_OK ? length : -1_000_000
            }
        }
        return raw.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                for _ in 0..<BerthBench.warmUp { one(chars) }
                var samples: [Double] = []
                for _ in 0..<BerthBench.rounds {
                    let began = now()
                    for _ in 0..<iterations { one(chars) }
                    samples.append(Double(now() - began) / Double(iterations))
                }
                sink &+= Int64(bytes)
                precondition(bytes > 0, "raw inspect failed")
                return samples.sorted()[BerthBench.rounds / 2]
            }
        }
    }

    func close() {
        var closed = false
        table.pointee.close(instance, &closed) { context, _, _, _ in
            context!.assumingMemoryBound(to: Bool.self).pointee = true
        }
        // close joins the worker and completes on this thread.
        precondition(closed, "close did not complete synchronously")
    }
}
