import AlgoqueueConfig
import Foundation
import Testing

/// The table of configuration keys drives the reader and the README; the flags and the example file are held to it.
@Suite("Configuration keys: one table")
struct ConfigKeysTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    @Test("the README's table is the one check-config --keys prints")
    func readmeTable() async throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let table = ConfigKeys.markdownTable()
        #expect(
            readme.contains(table + "\n"),
            "README's configuration table is stale: paste `algoqueue check-config --keys`")
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let printed = try await algoqueue(["check-config", "--keys"], directory: directory)
        #expect(printed.status == 0)
        #expect(printed.output == table + "\n")
        let neither = try await algoqueue(["check-config"], directory: directory)
        #expect(neither.status == 64)
        #expect(neither.error.contains("give the configuration file to check (or --keys)"))
    }

    @Test("every flag the table names is a flag of run, and every flag of run is in the table")
    func flags() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let help = try await algoqueue(["run", "--help"], directory: directory)
        let runFlags = Set(
            help.output.split(separator: "\n").compactMap { line -> String? in
                let trimmed = line.drop { $0 == " " }.replacingOccurrences(of: "-h, ", with: "")
                guard trimmed.hasPrefix("--") else { return nil }
                return String(trimmed.prefix { $0 != " " && $0 != "<" })
            })
        let tableFlags = Set(ConfigKeys.flags)
        #expect(tableFlags.count >= 20)
        #expect(
            tableFlags.subtracting(runFlags).isEmpty, "in the table, not in run: \(tableFlags.subtracting(runFlags))")
        let runOnly: Set = ["--config", "--version", "--help"]
        #expect(
            runFlags.subtracting(tableFlags).subtracting(runOnly).isEmpty,
            "in run, not in the table: \(runFlags.subtracting(tableFlags))")
    }

    @Test("the help of each flag of run and replay that sets a key is the table's, default included")
    func flagHelpFromTable() async throws {
        let commands = try #require(try await ManPageTests.helpDump()["subcommands"] as? [[String: Any]])
        let keys = ConfigKeys.flagKeys
        #expect(keys.count >= 30)
        for name in ["run", "replay"] {
            let command = try #require(commands.first { $0["commandName"] as? String == name })
            var checked = 0
            for argument in command["arguments"] as? [[String: Any]] ?? [] {
                guard let flag = ManPageTests.longName(argument), let key = keys["--\(flag)"] else { continue }
                let repeatable = argument["isRepeating"] as? Bool ?? false
                #expect(
                    argument["abstract"] as? String == ConfigKeys.flagHelp(key, repeatable: repeatable),
                    "\(name) --\(flag)")
                checked += 1
            }
            #expect(checked >= (name == "run" ? keys.count : 15), "\(name): \(checked) flags checked")
        }
        // A default appears as the table shows it.
        #expect(ConfigKeys.flagHelp("pipeline.concurrency").hasSuffix("(pipeline.concurrency, default 8)."))
    }

    @Test("the example file names every key and states every default")
    func exampleFile() throws {
        let path = Self.root.appendingPathComponent("deploy/algoqueue.example.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let (settings, problems) = ConfigFile.load(path, environment: [:])
        #expect(problems.isEmpty, "\(problems)")
        for name in ConfigKeys.names where name != "algorithms" {
            let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
            // The section, then (before the next section) the key, set or commented out.
            let section = try #require(text.range(of: "\n\(parts[0]):"), "no section \(parts[0]) for \(name)")
            let rest = text[section.upperBound...]
            let body = rest.split(separator: "\n", omittingEmptySubsequences: false)
                .prefix { line in !(line.first?.isLetter ?? false) }
            let named = body.contains { line in
                line.drop { $0 == " " || $0 == "#" }.hasPrefix(parts[1] + ":")
            }
            #expect(named, "deploy/algoqueue.example.yaml does not name \(name)")
        }
        #expect(text.contains("\n# algorithms:"))
        var expected = ConfigKeys.values(of: Settings())
        expected["algorithm.url"] = "http://127.0.0.1:8080/predict"  // the one value the example fills in
        expected["algorithm.name"] = "http"
        #expect(ConfigKeys.values(of: settings) == expected)
    }
}
