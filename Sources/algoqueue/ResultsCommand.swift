import AlgoqueueStore
import ArgumentParser
import Foundation

/// `algoqueue results`: the latest rows of the store.
struct ResultsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "results",
        abstract: "Show the latest result rows, newest first.",
        discussion: """
            Examples:
              algoqueue results --database results.db
              algoqueue results --database results.db --errors --limit 50

            For anything more, query the file with sqlite3 (see the README for the schema):
              sqlite3 results.db "SELECT status, COUNT(*) FROM results GROUP BY status"
            """
    )

    @Option(name: .long, help: ArgumentHelp("The SQLite results file.", valueName: "path"))
    var database = "algoqueue.db"

    @Flag(name: .long, help: "Only rows with status error.")
    var errors = false

    @Option(name: .long, help: "At most this many rows.")
    var limit = 20

    func run() throws {
        guard FileManager.default.fileExists(atPath: database) else {
            printError("algoqueue: error: \(database) does not exist; give the results file with --database")
            throw ExitCodes.failure
        }
        let store = try openStore(StoreConfiguration(path: database), logger: LoggingSetup.bootstrap(level: "warning"))
        var query = ResultQuery()
        query.errorsOnly = errors
        query.limit = limit
        let rows = try store.results(query)
        print(ResultsTable.render(rows))
        let counts = try store.statusCounts()
        store.close()
        print("\(counts[.ok] ?? 0) ok, \(counts[.error] ?? 0) error row(s) in \(database)")
    }
}

/// A plain-text table of rows that fits a terminal.
enum ResultsTable {
    static func render(_ rows: [ResultRow]) -> String {
        let header = ["TOPIC", "PART", "OFFSET", "ITEM", "ALGORITHM", "STATUS", "OUTPUT / ERROR"]
        let lines = rows.map { row in
            [
                row.topic, String(row.partition), String(row.offset), String(row.item), row.algorithm,
                row.status.rawValue, clip((row.status == .ok ? row.output : row.error) ?? "", 70),
            ]
        }
        let widths = header.indices.map { column in
            ([header] + lines).map { $0[column].count }.max() ?? 0
        }
        func format(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([format(header)] + lines.map(format)).joined(separator: "\n")
    }

    static func clip(_ text: String, _ width: Int) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count > width ? String(flat.prefix(width - 1)) + "…" : flat
    }
}
