import AlgoqueueConfig
import AlgoqueueKafka
import AlgoqueuePipeline
import AlgoqueueSupport
import ArgumentParser

/// The flags of `run` alone (the service: dispatch, batch patterns, dead letters, shutdown, the status page); the
/// rest it shares with `replay` (``SettingsOptions``). Each overrides the configuration file's key of the same meaning.
struct ServiceOptions: ParsableArguments {
    @Option(
        name: .customLong("start-from"),
        help: ArgumentHelp(ConfigKeys.flagHelp("kafka.start_from"), valueName: "position"))
    var startFrom: String?

    @Option(
        name: .customLong("pass-header"),
        help: ArgumentHelp(ConfigKeys.flagHelp("pipeline.pass_headers", repeatable: true), valueName: "name"))
    var passHeaders: [String] = []

    @Option(
        name: .customLong("shutdown-timeout"),
        help: ArgumentHelp(ConfigKeys.flagHelp("pipeline.shutdown_timeout"), valueName: "duration"))
    var shutdownTimeout: String?

    @Option(
        name: .long,
        help: ArgumentHelp(ConfigKeys.flagHelp("pipeline.ordering"), valueName: "mode"))
    var ordering: String?

    @Option(
        name: .customLong("batch-max-items"),
        help: ArgumentHelp(ConfigKeys.flagHelp("batch.max_items")))
    var batchMaxItems: Int?

    @Option(
        name: .customLong("batch-messages"),
        help: ArgumentHelp(ConfigKeys.flagHelp("batch_messages.mode"), valueName: "mode"))
    var batchMessages: String?

    @Option(
        name: .customLong("split-max-items"),
        help: ArgumentHelp(ConfigKeys.flagHelp("split.max_items")))
    var splitMaxItems: Int?

    @Flag(
        name: .customLong("fail-fast"),
        help: ArgumentHelp(ConfigKeys.flagHelp("fan_out.fail_fast")))
    var failFast = false

    @Option(name: .customLong("dead-letter-topic"), help: ArgumentHelp(ConfigKeys.flagHelp("kafka.dead_letter_topic")))
    var deadLetterTopic: String?

    @Option(
        name: .customLong("metrics-listen"),
        help: ArgumentHelp(ConfigKeys.flagHelp("metrics.listen"), valueName: "host:port"))
    var metricsListen: String?

    @Flag(
        name: .customLong("metrics-allow-remote"),
        help: ArgumentHelp(ConfigKeys.flagHelp("metrics.allow_remote")))
    var metricsAllowRemote = false

    /// Applies these flags to `settings`, adding what is wrong with them to `problems`.
    func apply(to settings: inout Settings, problems: inout [ConfigProblem]) {
        if let startFrom {
            if let position = KafkaStartPosition(rawValue: startFrom.lowercased()) {
                settings.kafka.startPosition = position
            } else if let time = MessageTime.milliseconds(startFrom) {
                settings.kafka.startTime = time
            } else {
                problems.append(
                    ConfigProblem(
                        "--start-from",
                        "must be earliest, latest, an ISO time such as 2026-12-07T08:00 or an age such as 2h (got "
                            + "\"\(startFrom)\"); to move a group that has offsets, use algoqueue group reset"))
            }
        }
        if !passHeaders.isEmpty { settings.pipeline.passHeaders = passHeaders }
        if let shutdownTimeout {
            if let value = Duration(text: shutdownTimeout) {
                settings.pipeline.shutdownTimeout = value
            } else {
                problems.append(
                    ConfigProblem("--shutdown-timeout", "\"\(shutdownTimeout)\" is not a duration such as 10s or 2m"))
            }
        }
        if let ordering {
            if let mode = Ordering(rawValue: ordering.lowercased()) {
                settings.pipeline.ordering = mode
            } else {
                problems.append(
                    ConfigProblem("--ordering", "must be one of unordered, key, partition (got \"\(ordering)\")"))
            }
        }
        if let batchMaxItems { settings.pipeline.batch.maxItems = batchMaxItems }
        if let deadLetterTopic { settings.pipeline.deadLetterTopic = deadLetterTopic }
        if let batchMessages {
            if let mode = BatchMessageConfiguration.Mode(rawValue: batchMessages.lowercased()) {
                settings.pipeline.batchMessages.mode = mode
            } else {
                problems.append(
                    ConfigProblem("--batch-messages", "must be one of off, auto, required (got \"\(batchMessages)\")"))
            }
        }
        if let splitMaxItems { settings.pipeline.split.maxItems = splitMaxItems }
        if failFast { settings.pipeline.fanOut.failFast = true }
        if let metricsListen { settings.operations.listen = metricsListen }
        if metricsAllowRemote { settings.operations.allowRemote = true }
    }
}
