import AlgoqueueStore
import AlgoqueueSupport
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

/// Writes a line to standard error (above the live line, on a terminal).
func printError(_ text: String) {
    LineLogHandler.output.withLock { _ in LiveLine.writeAbove(text + "\n") }
}

/// Opens the results store, or says why not on standard error and exits 1. With `mustExist`, a missing file is
/// that error (commands that read results) rather than a new empty store.
/// Opens the store off the cooperative threads: the open may wait for another instance's lock (retrying for up to
/// `store.busy_timeout`) and applies migrations.
func openStore(_ configuration: StoreConfiguration, logger: Logger, mustExist: Bool = false) async throws
    -> ResultsStore
{
    if mustExist, !FileManager.default.fileExists(atPath: configuration.path) {
        printError("algoqueue: error: \(configuration.path) does not exist; give the results file with --database")
        throw ExitCodes.failure
    }
    do {
        return try await BlockingWork.run { () throws(StoreError) in
            try ResultsStore.open(configuration, logger: logger)
        }
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
