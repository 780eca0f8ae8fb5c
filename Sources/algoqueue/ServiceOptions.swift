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
        help: ArgumentHelp(
            "Where a partition with no offset (committed or stored) starts: earliest (default), latest, or the first "
                + "message written at or after a time (2026-12-07T08:00 in UTC, or an age such as 2h).",
            valueName: "position"))
    var startFrom: String?

    @Option(
        name: .customLong("pass-header"),
        help: ArgumentHelp("Pass this Kafka message header on to the algorithm (repeatable).", valueName: "name"))
    var passHeaders: [String] = []

    @Option(
        name: .customLong("shutdown-timeout"),
        help: ArgumentHelp(
            "On SIGTERM, how long calls in flight may take to finish; no new call starts (default 30s).",
            valueName: "duration"))
    var shutdownTimeout: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "unordered (default), key (one call at a time per key, in order) or partition.", valueName: "mode"))
    var ordering: String?

    @Option(
        name: .customLong("batch-max-items"),
        help: "Send up to N inputs per call as a JSON list (micro-batches; default 1: off).")
    var batchMaxItems: Int?

    @Option(
        name: .customLong("batch-messages"),
        help: ArgumentHelp(
            "off (default), auto (a JSON list or {\"inputs\": [...]} is a batch: a row per item) or required.",
            valueName: "mode"))
    var batchMessages: String?

    @Option(
        name: .customLong("split-max-items"),
        help: "Split batch messages above N items into chunks the whole group shares (default 0: never).")
    var splitMaxItems: Int?

    @Flag(
        name: .customLong("fail-fast"),
        help: "With several algorithms: the first failure for an input cancels its other calls.")
    var failFast = false

    @Option(name: .customLong("dead-letter-topic"), help: "Also publish messages that end as error rows to this topic.")
    var deadLetterTopic: String?

    @Option(
        name: .customLong("metrics-listen"),
        help: ArgumentHelp(
            "Serve the status page (/), /api/status, /metrics, /healthz, /readyz here (loopback).",
            valueName: "host:port"))
    var metricsListen: String?

    @Flag(
        name: .customLong("metrics-allow-remote"),
        help: "Allow --metrics-listen on an address other than loopback (put access control in front of it).")
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
