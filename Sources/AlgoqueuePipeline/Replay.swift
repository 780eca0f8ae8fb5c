import AlgoqueueAlgorithms
import AlgoqueueKafka
import AlgoqueueResultsTopic
import AlgoqueueStore
import AlgoqueueSupport
import Logging

/// What a replay did.
public struct ReplaySummary: Sendable, Equatable {
    /// Error rows that matched the filter.
    public var selected = 0
    /// Rows called again and rewritten.
    public var replayed = 0
    /// Of those, now `ok`.
    public var nowOK = 0
    /// Of those, still `error`.
    public var stillFailing = 0
    /// Rows that could not be replayed because their input was not kept (`store.keep_inputs: false`, or
    /// an input that was not UTF-8).
    public var withoutInput = 0
}

/// Re-runs failed inputs and replaces their rows in place (same topic, partition, offset, item, algorithm).
/// Offsets are not touched, and nothing is published to the dead-letter topic again.
public final class Replay: Sendable {
    let store: ResultsStore
    let processor: InputProcessor
    let concurrency: Int
    /// Replaced rows are queued for the results topic (published by ``publishReplaced(kafka:group:)``).
    let resultsTopic: String?
    let resultsValue: ResultsValue
    let logger: Logger

    /// Creates a replay with the pipeline's retry, circuit-breaker, input-size, sideband and concurrency settings.
    /// Rows are replayed with the algorithm of the same name.
    public init(configuration: PipelineConfiguration, store: ResultsStore, algorithms: [any Algorithm], logger: Logger)
    {
        self.store = store
        self.concurrency = max(1, configuration.concurrency)
        resultsTopic = configuration.resultsTopic
        resultsValue = configuration.resultsValue
        self.logger = logger
        processor = InputProcessor(
            algorithms: algorithms, configuration: configuration, deadLetters: nil, statistics: PipelineStatistics(),
            logger: logger)
    }

    /// Creates a replay for one algorithm.
    public convenience init(
        configuration: PipelineConfiguration, store: ResultsStore, algorithm: any Algorithm, logger: Logger
    ) {
        self.init(configuration: configuration, store: store, algorithms: [algorithm], logger: logger)
    }

    /// Replays the error rows of the configured algorithms matching `query` (`errorsOnly` is forced on). With
    /// `dryRun`, only counts them.
    /// `progress` is called after each written batch with the summary so far.
    public func run(
        _ query: ResultQuery, dryRun: Bool = false, progress: @Sendable (ReplaySummary) -> Void = { _ in }
    ) async throws -> ReplaySummary {
        do {
            let summary = try await replay(query, dryRun: dryRun, progress: progress)
            for target in processor.targets { await target.algorithm.shutdown() }
            return summary
        } catch {
            for target in processor.targets { await target.algorithm.shutdown() }
            throw error
        }
    }

    func replay(
        _ query: ResultQuery, dryRun: Bool, progress: @Sendable (ReplaySummary) -> Void
    ) async throws -> ReplaySummary {
        var query = query
        query.errorsOnly = true
        // Rows are keyed by algorithm name: only rows of a configured algorithm can be replaced in place.
        let names = Set(processor.targets.map(\.algorithm.name))
        if let wanted = query.algorithm, !names.contains(wanted) { return ReplaySummary() }
        let rows = try await store.results(query).filter { names.contains($0.algorithm) }
        var summary = ReplaySummary(selected: rows.count)
        let replayable = rows.filter { $0.input != nil }
        summary.withoutInput = rows.count - replayable.count
        guard !dryRun else { return summary }
        let processor = self.processor
        for start in stride(from: 0, to: replayable.count, by: 100) {
            let chunk = Array(replayable[start..<min(start + 100, replayable.count)])
            var replayed: [ResultRow] = []
            await forEachConcurrently(
                chunk, limit: concurrency, { row in await Self.replay(row, processor: processor) }
            ) {
                if let row = $0 { replayed.append(row) }
            }
            try await store.write(
                rows: replayed, offsets: [], group: "",
                outbox: resultsTopic == nil ? nil : Array(repeating: nil, count: replayed.count))
            summary.replayed += replayed.count
            summary.nowOK += replayed.filter { $0.status == .ok }.count
            summary.stillFailing += replayed.filter { $0.status == .error }.count
            progress(summary)
            if Task.isCancelled { break }
        }
        return summary
    }

    /// With a results topic: publishes what the outbox holds (the replaced rows among it), waiting up to `timeout`;
    /// what is left is published by the next `run`. Returns how many rows are left.
    public func publishReplaced(kafka: KafkaConsumerConfiguration, group: String, timeout: Duration) async throws -> Int
    {
        guard let topic = resultsTopic else { return 0 }
        let publisher = try await ResultsPublisher.make(
            topic: topic, kafka: kafka, store: store, group: group, limit: .max,
            value: resultsValue, logger: logger)
        await publisher.drain(until: .now + timeout)
        await publisher.producer.close()
        return try await store.outboxCount()
    }

    static func replay(_ row: ResultRow, processor: InputProcessor) async -> ResultRow? {
        await processor.replay(row)
    }
}
