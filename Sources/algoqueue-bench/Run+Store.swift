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

    /// The store's references for a scenario: the same number of rows written by the store alone (`sqlite-only`,
    /// 500 per transaction) and by a plain loop over SQLite's C API (`sqlite-c`), each into a new file of its own.
    func storeReferences(rate: Double, scenario: String, directory: String, executable: String) throws {
        let rows = ["--rows", String(messages), "--batch", "500"]
        let sqliteRate = try referenceRate(
            executable, ["sqlite-only", "--database", directory + "/sqlite-only-\(scenario).db"] + rows)
        print(
            String(
                format: "  reference SQLite-only: %.0f rows/s (500 per transaction); algoqueue / SQLite-only = %.3f",
                sqliteRate, rate / sqliteRate) + (scenario == "batch" ? " (target >= 0.90)" : ""))
        // The store layer itself against a plain loop over SQLite's C API writing the same rows.
        let plainRate = try referenceRate(
            executable, ["sqlite-c", "--database", directory + "/sqlite-c-\(scenario).db"] + rows)
        print(
            String(
                format: "  reference SQLite C loop: %.0f rows/s; SQLite-only / C loop = %.3f (target >= 0.80)",
                plainRate, sqliteRate / plainRate))
    }
}
