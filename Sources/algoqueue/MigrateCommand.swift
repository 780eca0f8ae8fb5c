import AlgoqueueStore
import ArgumentParser

/// `algoqueue migrate`: bring a results file's schema up to date.
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create the results store or bring its schema up to date (run also does this at start).",
        discussion: """
            The migrations are carried inside the binary; migrations/*.sql in the source tree are the same text.

            Example:
              algoqueue migrate --database /var/lib/algoqueue/results.db
            """
    )

    @Option(name: .long, help: ArgumentHelp("The SQLite results file.", valueName: "path"))
    var database = StoreConfiguration.defaultPath

    func run() throws {
        let logger = LoggingSetup.bootstrap(level: "warning")
        do {
            let store = try ResultsStore.open(StoreConfiguration(path: database), logger: logger, migrate: false)
            for name in try store.migrate() { print("applied \(name)") }
            print("\(database) is at schema version \(try store.schemaVersion())")
            store.close()
        } catch {
            printError("algoqueue: error: \(error)")
            throw ExitCodes.failure
        }
    }
}
