import AlgoqueueAlgorithms
import Foundation
import Testing

/// examples/models/worker.py, the scikit-learn digits classifier, as a `process` target: single inputs and
/// micro-batches (a list scored as one matrix, a bad input getting its own error entry).
@Suite("Models example")
struct ModelsExampleTests {
    static let models = ReadmeCommandsTests.root.appendingPathComponent("examples/models").path

    @Test("The digits worker labels real inputs, refuses a bad one, and answers a micro-batch entry by entry")
    func digitsWorker() async throws {
        let rows = try await runProgram("/usr/bin/env", ["python3", Self.models + "/dataset.py", "--bad", "1"])
        // Required: without the data set the rest would index into nothing and take the whole test run down.
        try #require(
            rows.status == 0, "dataset.py failed (scripts/setup-examples installs scikit-learn): \(rows.error)")
        let lines = rows.output.split(separator: "\n").map(String.init)
        try #require(lines.count == 1798)  // the 1 797 digits and one bad input
        var configuration = ProcessPoolConfiguration(command: ["python3", Self.models + "/worker.py"])
        configuration.name = "digits"
        configuration.workers = 1
        configuration.timeout = .seconds(60)
        let pool = try ProcessAlgorithm(configuration, logger: testLogger("digits"))
        try pool.start()
        // Single inputs: the answer's label against the true label each input carries.
        var correct = 0
        let sample = stride(from: 0, to: 1797, by: 60).map { lines[$0] }
        for line in sample {
            let answer = try await pool.call(AlgorithmInput(json: Array(line.utf8))).get()
            if Self.label(answer.output) == Self.label(line) { correct += 1 }
            #expect(Self.probabilities(answer.output) == 10)
        }
        #expect(Double(correct) / Double(sample.count) > 0.9, "\(correct) of \(sample.count) labelled right")
        let refused = await pool.call(AlgorithmInput(json: Array(lines[1797].utf8)))
        guard case .failure(let failure) = refused else {
            Issue.record("a bad input got a result")
            return
        }
        #expect(failure.message.contains("must be a list of 64 numbers, got 3"))
        // A micro-batch: a list in, a list of as many answers out, in order; the bad one is an error entry.
        let batch = [lines[0], lines[1797], lines[5]]
        let answer = try await pool.call(AlgorithmInput(json: Array("[\(batch.joined(separator: ","))]".utf8))).get()
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(answer.output.utf8)) as? [[String: Any]])
        #expect(entries.count == 3)
        #expect(entries.first?["label"] as? Int == Self.label(lines[0]))
        #expect((entries[1]["error"] as? String)?.contains("64 numbers") == true)
        #expect(entries.last?["label"] as? Int == Self.label(lines[5]))
        await pool.shutdown()
    }

    static func label(_ json: String) -> Int? {
        (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["label"] as? Int
    }

    static func probabilities(_ json: String) -> Int? {
        ((try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["probabilities"] as? [Any])?
            .count
    }
}
