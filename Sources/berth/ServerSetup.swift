import ArgumentParser
import BerthConfiguration
import Foundation
import Logging

/// What `berth serve` and `berth db migrate` share.
enum ServerSetup {
    /// The configuration from `file`, else `BERTH_CONFIG`, else the built-in defaults, with
    /// the environment on top; a problem is printed as one line and exits 1.
    static func loadConfig(_ file: String?) throws -> BerthConfig {
        let environment = ProcessInfo.processInfo.environment
        let path = file ?? environment["BERTH_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        do {
            return try BerthConfig.load(file: path, environment: environment)
        } catch {
            Terminal.error(error.description)
            throw ExitCodes.failure
        }
    }

    /// Sends swift-log to stderr at `level` (a `log_level` name).
    static func bootstrapLogging(level: String) {
        let logLevel = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
    }
}
