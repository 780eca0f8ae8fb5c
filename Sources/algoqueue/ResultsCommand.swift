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
              algoqueue results --database results.db --format json --algorithm sentiment \\
                  | jq '.[].output'
              algoqueue results --database results.db --follow   # new rows; Ctrl-C stops
              algoqueue results --database results.db --follow --format json | jq .output

            --limit 0 means all rows. JSON is an array of objects whose output is embedded as JSON. With \
            --follow the table keeps its columns under one header (repeated every screenful on a terminal), \
            --format json prints one object per line and --format csv one header, then one record per row. \
            For anything more, query the file with sqlite3.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The SQLite results file.", valueName: "path"))
    var database = StoreConfiguration.defaultPath

    @Flag(name: .long, help: "Only rows with status error.")
    var errors = false

    @Option(name: .long, help: "Only rows of this algorithm.")
    var algorithm: String?

    @Option(name: .long, help: "Only rows from this topic.")
    var topic: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Only rows written since: an ISO time, or an age such as 2h.", valueName: "time"))
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
        let store = try await openStore(
            StoreConfiguration(path: database), logger: LoggingSetup.quiet(), mustExist: true)
        var query = ResultQuery()
        query.errorsOnly = errors
        query.algorithm = algorithm
        query.topic = topic
        query.limit = limit > 0 ? limit : nil
        query.since = try TimeFilter.option(since)
        let rows = try await store.results(query)
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
        // A table keeps one set of column widths (wide enough for the first rows) under one header, printed
        // again every screenful on a terminal; JSON is one object per line, CSV one header then records.
        let widths = ResultsTable.widths(initial, minimum: [12, 4, 8, 4, 12, 6])
        let screen = isatty(STDOUT_FILENO) == 1 ? max(10, Self.terminalRows() - 2) : Int.max
        var printedSinceHeader = 0
        func emit(_ row: ResultRow) {
            switch format {
            case .table:
                if printedSinceHeader % screen == 0 { print(ResultsTable.headerLine(widths)) }
                printedSinceHeader += 1
                print(ResultsTable.line(row, widths))
            case .json: print(RowFormatter.jsonLine(row))
            case .csv: print(RowFormatter.csvLine(row))
            }
        }
        switch format {
        case .table: print(ResultsTable.headerLine(widths))
        case .csv: print(RowFormatter.csvHeader())
        case .json: break
        }
        printedSinceHeader = 1
        var lastSeen = initial.first?.updatedAt ?? ""
        var printedAtLast = Set(initial.filter { $0.updatedAt == lastSeen }.map(Self.identity))
        for row in initial.reversed() { emit(row) }
        fflush(nil)
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(500))
            query.since = lastSeen.isEmpty ? nil : lastSeen
            let fresh = try await store.results(query).reversed().filter { !printedAtLast.contains(Self.identity($0)) }
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

    /// The terminal's height in rows (24 when it cannot be asked).
    static func terminalRows() -> Int {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0 else { return 24 }
        return Int(size.ws_row)
    }

    static func identity(_ row: ResultRow) -> String {
        "\(row.topic)/\(row.partition)/\(row.offset)/\(row.item)/\(row.algorithm)/\(row.updatedAt ?? "")"
    }
}

/// A plain-text table of rows that fits a terminal.
enum ResultsTable {
    static let header = ["TOPIC", "PART", "OFFSET", "ITEM", "ALGORITHM", "STATUS", "OUTPUT / ERROR"]

    static func render(_ rows: [ResultRow]) -> String {
        let widths = widths(rows)
        return ([format(header, widths)] + rows.map { line($0, widths) }).joined(separator: "\n")
    }

    /// Column widths that fit `rows` and the header, and are at least `minimum` (for a table whose rows come later).
    static func widths(_ rows: [ResultRow], minimum: [Int] = []) -> [Int] {
        let lines = rows.map(cells)
        return header.indices.map { column in
            max(([header] + lines).map { $0[column].count }.max() ?? 0, column < minimum.count ? minimum[column] : 0)
        }
    }

    static func headerLine(_ widths: [Int]) -> String { format(header, widths) }

    static func line(_ row: ResultRow, _ widths: [Int]) -> String { format(cells(row), widths) }

    static func cells(_ row: ResultRow) -> [String] {
        [
            row.topic, String(row.partition), String(row.offset), String(row.item), row.algorithm,
            row.status.rawValue, clip((row.status == .ok ? row.output : row.error) ?? "", 70),
        ]
    }

    static func format(_ cells: [String], _ widths: [Int]) -> String {
        cells.enumerated().map { index, cell in
            index == cells.count - 1
                ? cell : cell.padding(toLength: max(widths[index], cell.count), withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }

    static func clip(_ text: String, _ width: Int) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count > width ? String(flat.prefix(width - 1)) + "…" : flat
    }
}
