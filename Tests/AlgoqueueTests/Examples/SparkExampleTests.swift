import Foundation
import Testing

/// `bash examples/spark/run` for real: PySpark in local mode publishes a DataFrame's rows from its executors,
/// algoqueue scores them through the digits model's HTTP endpoint, and the job joins the store back over JDBC.
@Suite("Spark example")
struct SparkExampleTests {
    @Test("Every input row of the Spark job gets exactly one prediction, and the store agrees")
    func everyInputJoinsOnePrediction() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let work = directory.file("example")
        let program = try RunningProgram(
            "/bin/bash",
            [ReadmeCommandsTests.root.appendingPathComponent("examples/spark/run").path, "--rows", "1500"],
            directory: directory, name: "spark",
            environment: ["ALGOQUEUE": try algoqueueBinary(), "EXAMPLE_DIR": work])
        let status = await program.exitStatus(within: .seconds(600))
        let output = program.output
        #expect(status == 0, "examples/spark/run failed:\n\(output)\n\(program.errorOutput)")
        // 1 500 rows and the job's 3 bad ones; the last line is the join's.
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.last == "joined 1503 predictions to 1503 inputs", "the job printed:\n\(output)")
        #expect(output.contains("ok rows: 1500, error rows: 3"))
        #expect(output.contains("inputs without a prediction: 0, inputs with more than one: 0"))
        // What the job joined is what the store holds: one row per input, keyed by its id.
        let store = work + "/predictions.db"
        #expect(
            try await sqlite3(store, "SELECT COUNT(*), COUNT(DISTINCT key), SUM(status = 'ok') FROM results")
                == ["1503|1503|1500"])
        #expect(
            try await sqlite3(store, "SELECT MIN(CAST(key AS INTEGER)), MAX(CAST(key AS INTEGER)) FROM results") == [
                "0|1502"
            ]
        )
        // The model's answers are real: most predictions match the true label the input carried.
        let accuracy = try await sqlite3(
            store,
            "SELECT AVG(json_extract(output, '$.label') = json_extract(input, '$.label')) FROM results WHERE status = 'ok'"
        )
        #expect((Double(accuracy.first ?? "") ?? 0) > 0.9, "accuracy \(accuracy)")
    }
}
