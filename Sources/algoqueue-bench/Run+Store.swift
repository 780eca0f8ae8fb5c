import Foundation

extension Run {
    /// Runs a reference (this binary again, as a child process) and returns its rate: the scenario's messages
    /// over the `seconds=` it prints.
    func referenceRate(_ executable: String, _ arguments: [String]) throws -> Double {
        try referenceRun(executable, arguments).rate
    }

    /// A reference's rate and the CPU it used per 1000 of the scenario's messages (start-up included, as for
    /// algoqueue's own figure).
    func referenceRun(_ executable: String, _ arguments: [String]) throws -> (rate: Double, cpuPerThousand: Double) {
        let reference = try runMeasured(executable, arguments)
        return (
            Double(messages) / (Self.value("seconds", in: reference.output) ?? .infinity),
            reference.cpuSeconds / Double(messages) * 1000
        )
    }

    /// The scenario's main reference measured once more just before algoqueue's run (HTTP-only for `single`,
    /// SQLite-only for `batch`; nil for the others). This machine's speed drifts by a quarter or more within minutes,
    /// so those ratios are taken against the mean of a reference run just before and one just after algoqueue's.
    func referenceBefore(_ setup: Scenario, url: String, directory: String, executable: String) throws -> Double? {
        switch setup.name {
        case "single":
            return try referenceRate(executable, httpOnlyArguments(setup, url: url))
        case "batch":
            return try referenceRate(
                executable,
                ["sqlite-only", "--database", directory + "/sqlite-only-before.db"] + storeReferenceRows)
        default:
            return nil
        }
    }

    /// The HTTP-only reference's arguments: as many requests as the scenario has messages, at its concurrency,
    /// against its endpoint.
    func httpOnlyArguments(_ setup: Scenario, url: String) -> [String] {
        [
            "http-only", "--url", url + setup.path, "--concurrency", String(setup.concurrency), "--requests",
            String(messages),
        ]
    }

    /// The rows the store's references write: as many as the scenario has messages, 500 per transaction.
    var storeReferenceRows: [String] { ["--rows", String(messages), "--batch", "500"] }

    /// The store's references for a scenario: the same number of rows written by the store alone (`sqlite-only`,
    /// 500 per transaction) and by a plain loop over SQLite's C API (`sqlite-c`), each into a new file of its own.
    /// With `before` (SQLite-only measured just before algoqueue's run), the ratio is to the mean of both.
    func storeReferences(rate: Double, before: Double? = nil, scenario: String, directory: String, executable: String)
        throws
    {
        let rows = storeReferenceRows
        let after = try referenceRate(
            executable, ["sqlite-only", "--database", directory + "/sqlite-only-\(scenario).db"] + rows)
        let sqliteRate = ((before ?? after) + after) / 2
        let when =
            before.map { String(format: "%.0f before algoqueue's run, %.0f after; ", $0, after) } ?? ""
        print(
            String(format: "  reference SQLite-only: %.0f rows/s (", sqliteRate) + when
                + String(format: "500 per transaction); algoqueue / SQLite-only = %.3f", rate / sqliteRate)
                + (scenario == "batch" ? " (target >= 0.90)" : ""))
        // The store layer itself against a plain loop over SQLite's C API writing the same rows.
        let plainRate = try referenceRate(
            executable, ["sqlite-c", "--database", directory + "/sqlite-c-\(scenario).db"] + rows)
        print(
            String(
                format: "  reference SQLite C loop: %.0f rows/s; SQLite-only (after) / C loop = %.3f (target >= 0.80)",
                plainRate, after / plainRate))
    }
}
