import Foundation
import Testing

/// The rules of the source layout (README, "Development"), read from the sources themselves.
@Suite("Source layout")
struct LayoutTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources")

    /// Every Swift file under Sources, by its path below Sources, with its text.
    static func swiftFiles() throws -> [(path: String, text: String)] {
        let enumerator = try #require(FileManager.default.enumerator(atPath: sources.path))
        return try enumerator.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }.sorted().map {
            ($0, try String(contentsOf: sources.appendingPathComponent($0), encoding: .utf8))
        }
    }

    /// The lines of `text` that are code, not comments.
    static func codeLines(_ text: String) -> [Substring] {
        text.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("//") }
    }

    @Test("librdkafka is called only in the Kafka target's Bridge folder")
    func oneBridge() throws {
        let files = try Self.swiftFiles()
        #expect(files.count > 100)
        let outside = files.filter { !$0.path.hasPrefix("AlgoqueueKafka/Bridge/") }.filter { file in
            Self.codeLines(file.text).contains { $0.contains("import CRdKafka") || $0.contains("rd_kafka_") }
        }
        #expect(outside.map(\.path) == [])
        #expect(files.contains { $0.path.hasPrefix("AlgoqueueKafka/Bridge/") && $0.text.contains("rd_kafka_") })
    }

    @Test("no unstructured task: work runs in task groups that end with their parent")
    func structuredTasks() throws {
        // `Task { ... }`, `Task(priority:) { ... }` and `Task.detached`, not a group's `addTask {`.
        let unstructured = try Self.swiftFiles().filter { file in
            Self.codeLines(file.text).contains { $0.contains(/(^|[^A-Za-z_.])Task(\.detached)?\s*[({]/) }
        }
        #expect(unstructured.map(\.path) == [])
    }

    @Test("no library target holds more than a fifth of the sources")
    func targetSizes() throws {
        var lines: [String: Int] = [:]
        for file in try Self.swiftFiles() {
            lines[String(file.path.split(separator: "/")[0]), default: 0] += file.text.split(separator: "\n").count
        }
        let total = lines.values.reduce(0, +)
        let large = lines.filter { $0.key.hasPrefix("Algoqueue") && $0.value * 5 > total }
        #expect(large.isEmpty, "\(large) of \(total) lines")
    }
}
