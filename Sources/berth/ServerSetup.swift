import ArgumentParser
import BerthConfiguration
import BerthCore
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

    /// Sends swift-log to stderr at `level` (a `log_level` name), as plain or JSON lines (`log.format`).
    static func bootstrapLogging(level: String, format: BerthConfig.LogFormat) {
        let logLevel = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            switch format {
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = logLevel
                return handler
            case .json:
                var handler = JSONLinesLogHandler(label: label)
                handler.logLevel = logLevel
                return handler
            }
        }
    }
}
