import Foundation
import Testing

@Suite("--help text")
struct HelpTextTests {
    static let commands = [
        [], ["run"], ["demo"], ["dev-broker"], ["publish"], ["results"], ["replay"], ["collect"], ["stats"],
        ["check-config"], ["migrate"], ["group"], ["group", "describe"], ["group", "reset"],
    ]

    static func help(_ command: [String], columns: Int) async throws -> [String] {
        let result = try await runProgram(
            "/usr/bin/env", ["COLUMNS=\(columns)", try algoqueueBinary()] + command + ["--help"])
        #expect(result.status == 0, "\(command): \(result.error)")
        return result.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    static func isSectionHeader(_ line: String) -> Bool {
        line.hasPrefix("USAGE:") || line.hasPrefix("OVERVIEW:")
            || (line.hasSuffix(":") && line == line.uppercased() && !line.hasPrefix(" "))
    }

    @Test("the overview names every kind of algorithm")
    func overviewNamesEveryKind() async throws {
        let text = try await Self.help([], columns: 1000).joined(separator: "\n")
        for kind in ["HTTP JSON endpoint", "Algorithmia-style owner/name/version API", "local worker processes"] {
            #expect(text.contains(kind), "the overview does not name \(kind)")
        }
    }

    @Test("each command's help lists the flags that apply to it: replay and stats do not list run's service flags")
    func onlyApplicableFlags() async throws {
        func flags(_ command: [String]) async throws -> Set<String> {
            Set(
                try await Self.help(command, columns: 200).compactMap { line in
                    let trimmed = line.drop { $0 == " " }
                    return trimmed.hasPrefix("--") ? String(trimmed.prefix { $0 != " " }) : nil
                })
        }
        let run = try await flags(["run"])
        let service: Set = [
            "--metrics-listen", "--ordering", "--shutdown-timeout", "--dead-letter-topic", "--fail-fast",
        ]
        #expect(service.isSubset(of: run))
        let replay = try await flags(["replay"])
        #expect(replay.isDisjoint(with: service), "\(replay.intersection(service))")
        #expect(replay.isSuperset(of: ["--url", "--config", "--database", "--error-contains", "--dry-run"]))
        let stats = try await flags(["stats"])
        #expect(
            stats == ["--config", "--database", "--brokers", "--group", "--since", "--format", "--version"])
    }

    @Test("no hard line breaks: paragraphs are whole at 1000 columns, and nothing is re-wrapped raggedly at 80")
    func noHardLineBreaks() async throws {
        for command in Self.commands {
            // At 1000 columns a paragraph is one line: two text lines in a row mean a break in the source.
            let wide = try await Self.help(command, columns: 1000)
            for (line, next) in zip(wide, wide.dropFirst())
            where !line.isEmpty && !next.isEmpty && !line.hasPrefix(" ") && !next.hasPrefix(" ")
                && !Self.isSectionHeader(line) && !Self.isSectionHeader(next)
            {
                Issue.record("\(command): hard line break after \"\(line)\"")
            }
            // An option's help continued on a line of its own at 1000 columns is a break in the source too.
            for (line, next) in zip(wide, wide.dropFirst())
            where line.hasPrefix("  -") && line.contains("  ", after: 3)
                && next.hasPrefix(String(repeating: " ", count: 20))
            {
                Issue.record("\(command): option help continued after \"\(line)\"")
            }
            // At 80 columns an example (indented) line must not spill onto an unindented one.
            let narrow = try await Self.help(command, columns: 80)
            for (line, next) in zip(narrow, narrow.dropFirst())
            where line.hasPrefix("  ") && !next.isEmpty && !next.hasPrefix(" ") && !Self.isSectionHeader(next) {
                Issue.record("\(command): \"\(line)\" wraps at 80 columns onto \"\(next)\"")
            }
        }
    }
}

extension String {
    /// Whether `text` occurs at or after character offset `start`.
    func contains(_ text: String, after start: Int) -> Bool {
        guard count > start else { return false }
        return self[index(startIndex, offsetBy: start)...].contains(text)
    }
}
