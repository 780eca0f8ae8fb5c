import AlgoqueueStore
import ArgumentParser
import Foundation
import Logging

/// Logging for the command line: one line per event on standard error, at the chosen level.
enum LoggingSetup {
    static func bootstrap(level: String) -> Logger {
        let level = Logger.Level(rawValue: level.lowercased()) ?? .info
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: level) }
        var logger = Logger(label: "algoqueue")
        logger.logLevel = level
        return logger
    }
}

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Opens the results store, or says why not on standard error and exits 1.
func openStore(_ configuration: StoreConfiguration, logger: Logger) throws -> ResultsStore {
    do {
        return try ResultsStore.open(configuration, logger: logger)
    } catch {
        printError("algoqueue: error: \(error)")
        throw ExitCodes.failure
    }
}

extension LoggingSetup {
    /// A logger for one-shot commands: only errors.
    static func quiet() -> Logger {
        var logger = Logger(label: "algoqueue")
        logger.logLevel = .error
        return logger
    }
}
