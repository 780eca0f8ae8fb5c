import AlgoqueueStore
import ArgumentParser
import Foundation

/// `algoqueue results`: the latest rows of the store.
struct ResultsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "results",
        abstract: "Show result rows, newest first, as a table, JSON or CSV; or follow new rows.",
        discussion: """
            Examples:
              algoqueue results --database results.db
              algoqueue results --database results.db --errors --since 2h --limit 50
              algoqueue results --database results.db --format csv --limit 0 > results.csv
              algoqueue results --database results.db --format json --algorithm sentiment | jq '.[].output'
              algoqueue results --database results.db --follow          # new rows as they land; Ctrl-C stops

            --limit 0 means all rows. JSON is an array of objects whose output is embedded as JSON; with
            --follow it is one object per line. For anything more, query the file with sqlite3.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The SQLite results file.", valueName: "path"))
    var database = "algoqueue.db"

    @Flag(name: .long, help: "Only rows with status error.")
    var errors = false

    @Option(name: .long, help: "Only rows of this algorithm.")
    var algorithm: String?

    @Option(name: .long, help: "Only rows from this topic.")
    var topic: String?

    @Option(name: .long, help: ArgumentHelp("Only rows written since: an ISO time, or an age such as 2h.", valueName: "time"))
    var since: String?

    @Option(name: .long, help: "At most this many rows (0: all).")
    var limit = 20

    @Option(name: .long, help: "table, json or csv.")
    var format: OutputFormat = .table

    @Flag(name: .long, help: "Keep printing new rows as they are written, oldest first.")
    var follow = false

    func run() async throws {
        if follow, !FileManager.default.fileExists(atPath: database) {
            printError("waiting for \(database) to be created")
            while !FileManager.default.fileExists(atPath: database) { try await Task.sleep(for: .milliseconds(200)) }
        }
        let store = try openStore(StoreConfiguration(path: database), logger: LoggingSetup.quiet(), mustExist: true)
        var query = ResultQuery()
        query.errorsOnly = errors
        query.algorithm = algorithm
        query.topic = topic
        query.limit = limit > 0 ? limit : nil
        query.since = try TimeFilter.option(since)
        let rows = try store.results(query)
        if follow {
            try await followRows(store: store, query: query, initial: rows)
            return
        }
        switch format {
        case .table:
            print(ResultsTable.render(rows))
            let counts = try store.statusCounts()
            print("\(counts[.ok] ?? 0) ok, \(counts[.error] ?? 0) error row(s) in \(database)")
        case .json:
            print(RowFormatter.json(rows))
        case .csv:
            print(RowFormatter.csvHeader())
            for row in rows { print(RowFormatter.csvLine(row)) }
        }
        store.close()
    }

    /// Prints the initial rows oldest first, then every row written later, until interrupted.
    func followRows(store: ResultsStore, query: ResultQuery, initial: [ResultRow]) async throws {
        var query = query
        query.limit = nil
        if format == .csv { print(RowFormatter.csvHeader()) }
        var lastSeen = initial.first?.updatedAt ?? ""
        var printedAtLast = Set(initial.filter { $0.updatedAt == lastSeen }.map(Self.identity))
        for row in initial.reversed() { emit(row) }
        fflush(nil)
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(500))
            query.since = lastSeen.isEmpty ? nil : lastSeen
            let fresh = try store.results(query).reversed().filter { !printedAtLast.contains(Self.identity($0)) }
            for row in fresh {
                emit(row)
                if row.updatedAt ?? "" > lastSeen {
                    lastSeen = row.updatedAt ?? lastSeen
                    printedAtLast = []
                }
                printedAtLast.insert(Self.identity(row))
            }
            if !fresh.isEmpty { fflush(nil) }
        }
    }

    func emit(_ row: ResultRow) {
        switch format {
        case .table: print(ResultsTable.render([row]).split(separator: "\n").last.map(String.init) ?? "")
        case .json: print(RowFormatter.jsonLine(row))
        case .csv: print(RowFormatter.csvLine(row))
        }
    }

    static func identity(_ row: ResultRow) -> String {
        "\(row.topic)/\(row.partition)/\(row.offset)/\(row.item)/\(row.algorithm)/\(row.updatedAt ?? "")"
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
