import AlgoqueueConfig
import AlgoqueuePipeline
import AlgoqueueStore
import AlgoqueueSupport
import ArgumentParser
import Foundation

/// `algoqueue replay`: call the algorithm again for failed inputs and replace their rows.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-run failed inputs and replace their error rows in place.",
        discussion: """
            Selects the error rows of the configured algorithm (its name: --algorithm-name or algorithm.name), \
            narrowed by the filters, calls the algorithm again for each with the usual retries, and rewrites \
            the same rows: one row per input stays one row. Offsets are not touched. Rows whose input was not \
            kept (store.keep_inputs: false, or input that is not UTF-8) are counted and skipped.

            Examples:
              algoqueue replay --config /etc/algoqueue/algoqueue.yaml --dry-run
              algoqueue replay --config job.yaml --error-contains "HTTP 503" --since 2h
              algoqueue replay --url http://127.0.0.1:8080/predict --database results.db \\
                  --since 2026-11-21T08:00

            Exit codes: 0 done (even if some inputs still fail: see the summary), 1 store or algorithm \
            unusable, 78 bad configuration.
            """
    )

    @OptionGroup(title: "Settings")
    var options: SettingsOptions

    @Option(name: .customLong("error-contains"), help: "Only rows whose error contains this text.")
    var errorContains: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Only rows written since: an ISO time, or an age such as 2h.", valueName: "time"))
    var since: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Only rows written before: an ISO time, or an age such as 30m.", valueName: "time"))
    var until: String?

    @Option(name: .long, help: "At most this many rows, newest first.")
    var limit: Int?

    @Flag(name: .customLong("dry-run"), help: "Only count the rows that would be replayed.")
    var dryRun = false

    func run() async throws {
        let settings = try options.resolve()
        let logger = LoggingSetup.bootstrap(level: options.logLevel ?? "warning")
        var query = ResultQuery()
        query.limit = limit
        query.errorContains = errorContains
        query.topic = options.topic.first
        query.since = try TimeFilter.option(since)
        query.until = try TimeFilter.option(until)
        let store = try await openStore(settings.store, logger: logger, mustExist: true)
        let wiring = try await AlgorithmWiring.make(settings, logger: logger)
        let replay = Replay(
            configuration: settings.pipeline, store: store, algorithms: wiring.algorithms, logger: logger)
        let summary = try await replay.run(query, dryRun: dryRun) { progress in
            let total = progress.selected - progress.withoutInput
            if LiveLine.isActive {
                let fraction = total > 0 ? Double(progress.replayed) / Double(total) : 1
                LiveLine.show(LiveLine.bar(fraction) + " replayed \(progress.replayed) of \(total)")
            } else {
                printError("replayed \(progress.replayed) of \(total)")
            }
        }
        LiveLine.clear()
        await wiring.stop()
        if settings.pipeline.resultsTopic != nil, !dryRun {
            let left = try await replay.publishReplaced(
                kafka: settings.kafka, group: settings.kafka.groupID, timeout: settings.pipeline.shutdownTimeout)
            if left > 0 { printError("\(left) row(s) wait in the results outbox; the next run publishes them") }
        }
        let names = settings.effectiveAlgorithms.map(\.effectiveName)
        // Nothing matched: the error rows may be under another algorithm name than the one configured.
        var elsewhere: [String] = []
        if summary.selected == 0 {
            elsewhere = ((try? store.statistics())?.counts ?? [])
                .filter { $0.status == "error" && $0.rows > 0 && !names.contains($0.algorithm) }
                .map { "\($0.algorithm) (\($0.rows))" }
        }
        store.close()
        let name = names.joined(separator: ", ")
        if dryRun {
            print(
                "\(summary.selected) error row(s) of \(name) match; \(summary.selected - summary.withoutInput) can be replayed"
            )
        } else {
            print(
                "replayed \(summary.replayed) of \(summary.selected) error row(s) of \(name): \(summary.nowOK) now ok, "
                    + "\(summary.stillFailing) still failing")
        }
        if summary.withoutInput > 0 {
            print("\(summary.withoutInput) row(s) skipped: their input was not kept")
        }
        if !elsewhere.isEmpty {
            print(
                "error rows are stored under \(elsewhere.joined(separator: ", ")): replay works on the rows of \(name); "
                    + "name the algorithm with --algorithm-name (or algorithm.name)")
        }
    }
}

/// Parses `--since`/`--until`: an age (`90s`, `2h`) or an ISO 8601 date or time (`2026-11-21`, `2026-11-21T08:00`).
enum TimeFilter {
    /// The ISO time an optional `--since`/`--until` stands for; a bad one is reported and exits 78.
    static func option(_ text: String?) throws -> String? {
        guard let text else { return nil }
        do {
            return try parse(text)
        } catch {
            printError("algoqueue: error: \(error)")
            throw ExitCodes.configError
        }
    }

    static func parse(_ text: String) throws -> String {
        if let age = Duration(text: text) {
            return Timestamp.iso8601(Date().addingTimeInterval(-age.seconds))
        }
        let normalized = text.replacingOccurrences(of: " ", with: "T")
        let digits = normalized.prefix(10).filter(\.isNumber).count
        guard normalized.count >= 10, digits == 8, normalized.dropFirst(4).first == "-" else {
            throw ValidationErrorText(
                "\"\(text)\" is neither an age such as 2h nor an ISO time such as 2026-11-21T08:00")
        }
        return normalized
    }
}
