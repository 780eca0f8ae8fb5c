import AlgoqueueConfig
import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import ArgumentParser
import Foundation

/// `algoqueue group`: where a consumer group stands, and moving it.
struct GroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group",
        abstract: "Describe a consumer group (committed, stored, end, lag per partition) or reset its offsets.",
        discussion: """
            A run resumes each partition at the later of two offsets: the one the group committed on the broker \
            and the one stored with the rows in the results file. `group describe` shows both, and `group reset` \
            moves both, so that the next run starts where you say.

            Examples:
              algoqueue group describe --brokers $BROKER --group nightly \\
                  --database results.db
              algoqueue group reset --brokers $BROKER --group nightly \\
                  --topic inputs --to earliest --dry-run
              algoqueue group reset --config job.yaml --to latest
            """,
        subcommands: [GroupDescribeCommand.self, GroupResetCommand.self]
    )
}

/// Where a group is: the flags both `group` subcommands take.
struct GroupOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("The configuration file run uses: brokers, group, topics, database.", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Bootstrap brokers, comma-separated.", valueName: "host:port"))
    var brokers: String?

    @Option(name: .long, help: "The consumer group (kafka.group; default algoqueue).")
    var group: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A topic (repeat for several; default: the configuration's, else those the store has offsets for).",
            valueName: "topic"))
    var topic: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp("The SQLite results file (default \(StoreConfiguration.defaultPath)).", valueName: "path"))
    var database: String?

    /// The settings these flags (over the file) give, and whether topics were named.
    func settings() throws -> (settings: Settings, topicsNamed: Bool) {
        var settings = Settings()
        if let config {
            let (loaded, problems) = ConfigFile.load(config)
            if let whole = problems.first(where: \.isWholeFile) {
                printError("algoqueue: error: \(ConfigError(source: config, problems: [whole]))")
                throw ExitCodes.configError
            }
            settings = loaded
        }
        if let brokers { settings.kafka.brokers = brokers.split(separator: ",").map(String.init) }
        if let group { settings.kafka.groupID = group }
        if !topic.isEmpty { settings.kafka.topics = topic }
        if let database { settings.store.path = database }
        return (settings, !topic.isEmpty || config != nil)
    }
}

/// One partition as `group describe` shows it.
struct GroupPartition: Encodable {
    var topic: String
    var partition: Int32
    /// The group's committed offset on the broker.
    var committed: Int64?
    /// The offset stored with the rows in the results file.
    var stored: Int64?
    /// The first offset the partition still holds, and the offset its next message will get.
    var start: Int64
    var end: Int64
    /// Messages from where a run would resume to the end.
    var lag: Int64

    /// Where a run resumes: the later of the two, or (neither known) the start position.
    var resumesAt: Int64? { [committed, stored].compactMap { $0 }.max() }
}

/// What `group describe` and `group reset` read: the group's state and its partitions.
struct GroupSnapshot {
    var group: String
    var state: KafkaGroupState?
    var stateProblem: String?
    var partitions: [GroupPartition]

    /// Reads the group's partitions of `topics` (and those the store has offsets for, unless `topicsNamed`).
    static func read(_ settings: Settings, topicsNamed: Bool, store: ResultsStore?) async throws -> GroupSnapshot {
        let group = settings.kafka.groupID
        let stored = try store.map { try $0.offsets(group: group) } ?? []
        // Named topics (flags or the file); else those the store has offsets for; else the default.
        var topics = topicsNamed ? settings.kafka.topics : []
        for topic in stored.map(\.topic) where !topicsNamed && !topics.contains(topic) { topics.append(topic) }
        if topics.isEmpty { topics = settings.kafka.topics }
        let admin: KafkaAdmin
        let counts: [String: Int]
        do {
            admin = try KafkaAdmin(configuration: settings.kafka, logger: LoggingSetup.quiet())
            counts = try await admin.topics()
        } catch {
            printError(
                "algoqueue: error: the broker at \(settings.kafka.brokers.joined(separator: ",")) did not answer (\(error))"
            )
            throw ExitCodes.failure
        }
        let missing = topics.filter { counts[$0] == nil }
        if !missing.isEmpty {
            printError("algoqueue: error: \(BrokerCheck.missingMessage(missing, existing: counts.keys))")
            throw ExitCodes.configError
        }
        let partitions = topics.flatMap { topic in (0..<(counts[topic] ?? 0)).map { TopicPartition(topic, Int32($0)) } }
        var snapshot = GroupSnapshot(group: group, partitions: [])
        do {
            snapshot.state = try await BlockingWork.run { () throws(KafkaError) in try admin.groupState(group) }
        } catch {
            snapshot.stateProblem = "\(error)"
        }
        let committed = (try? await admin.committedOffsets(partitions)) ?? [:]
        for partition in partitions {
            let marks = try await admin.watermarks(partition)
            let storedOffset = stored.first { $0.topic == partition.topic && $0.partition == partition.partition }
            var entry = GroupPartition(
                topic: partition.topic, partition: partition.partition, committed: committed[partition],
                stored: storedOffset?.nextOffset, start: marks.low, end: marks.high, lag: 0)
            entry.lag = max(
                0,
                marks.high - (entry.resumesAt ?? (settings.kafka.startPosition == .earliest ? marks.low : marks.high)))
            snapshot.partitions.append(entry)
        }
        return snapshot
    }

    /// "group nightly: Empty, no members" and the like.
    var stateLine: String {
        if let state {
            let members = state.members == 0 ? "no members" : "\(state.members) member(s)"
            return "group \(group): \(state.state), \(members)"
        }
        if let stateProblem { return "group \(group): state unknown (\(stateProblem))" }
        return "group \(group): not known to the broker (no member, no committed offset)"
    }
}

/// `algoqueue group describe`.
struct GroupDescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Per partition: the group's committed offset, the offset stored in the results file, end and lag.",
        discussion: """
            The lag counts from where a run would resume (the later of committed and stored) to the end.

            Example:
              algoqueue group describe --brokers $BROKER --group nightly \\
                  --database results.db
            """)

    @OptionGroup var options: GroupOptions

    @Option(name: .long, help: "table, csv or json.")
    var format: OutputFormat = .table

    func run() async throws {
        let (settings, named) = try options.settings()
        let store =
            FileManager.default.fileExists(atPath: settings.store.path)
            ? try await openStore(settings.store, logger: LoggingSetup.quiet()) : nil
        let snapshot = try await GroupSnapshot.read(settings, topicsNamed: named, store: store)
        store?.close()
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            struct Document: Encodable {
                var group: String
                var state: String?
                var members: Int?
                var partitions: [GroupPartition]
            }
            let document = Document(
                group: snapshot.group, state: snapshot.state?.state, members: snapshot.state?.members,
                partitions: snapshot.partitions)
            print(String(decoding: try encoder.encode(document), as: UTF8.self))
        case .table, .csv:
            if format == .table { print(snapshot.stateLine) }
            let header = ["topic", "partition", "committed", "stored", "start", "end", "lag"]
            let rows = snapshot.partitions.map { entry in
                [
                    entry.topic, String(entry.partition), entry.committed.map(String.init) ?? "-",
                    entry.stored.map(String.init) ?? "-", String(entry.start), String(entry.end), String(entry.lag),
                ]
            }
            if format == .csv {
                print(header.joined(separator: ","))
                for row in rows { print(row.joined(separator: ",")) }
            } else {
                let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
                for row in [header] + rows {
                    print(
                        row.indices.map { row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                            .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
                }
            }
        }
    }
}

/// `algoqueue group reset`.
struct GroupResetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset",
        abstract:
            "Move a stopped group's offsets to the start or the end of its partitions, on the broker and in the store.",
        discussion: """
            Both places a run resumes from move: the group's committed offsets on the broker and the offsets \
            stored in the results file (when it exists). The group must have no member: stop its instances \
            first. Rows already written stay, and an input that has a row is not called again when it is read \
            again; to compute answers again, use another --database.

            Exit codes: 0 reset (or shown, with --dry-run), 1 the group has members or the broker did not answer, \
            64 bad flags, 78 a topic that does not exist.

            Examples:
              algoqueue group reset --brokers $BROKER --group nightly \\
                  --topic inputs --to earliest --dry-run
              algoqueue group reset --config job.yaml --to latest   # skip the backlog
            """)

    @OptionGroup var options: GroupOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "earliest (the first message each partition holds), latest (its end), or a time: the first message "
                + "written at or after it (an ISO time in UTC such as 2026-12-07T08:00, or an age such as 2h).",
            valueName: "position"))
    var to: String

    func validate() throws {
        guard to == "earliest" || to == "latest" || MessageTime.milliseconds(to) != nil else {
            throw ValidationError(
                "--to: \"\(to)\" is not earliest, latest, an ISO time such as 2026-12-07T08:00 or an age such as 2h")
        }
    }

    @Flag(name: .customLong("dry-run"), help: "Show what would move; change nothing.")
    var dryRun = false

    func run() async throws {
        let (settings, named) = try options.settings()
        let exists = FileManager.default.fileExists(atPath: settings.store.path)
        let store = exists ? try await openStore(settings.store, logger: LoggingSetup.quiet()) : nil
        defer { store?.close() }
        let snapshot = try await GroupSnapshot.read(settings, topicsNamed: named, store: store)
        print(snapshot.stateLine)
        if let state = snapshot.state, state.members > 0 {
            printError(
                "algoqueue: error: group \(snapshot.group) has \(state.members) member(s) (\(state.state)): stop its "
                    + "instances first; a live group's offsets cannot be moved (its members would commit over them)")
            throw ExitCodes.failure
        }
        var offsets: [TopicPartition: Int64] = [:]
        var byTime: [TopicPartition: Int64] = [:]
        if let time = MessageTime.milliseconds(to), to != "earliest", to != "latest" {
            var marks: [TopicPartition: (low: Int64, high: Int64)] = [:]
            for entry in snapshot.partitions {
                marks[TopicPartition(entry.topic, entry.partition)] = (entry.start, entry.end)
            }
            var reader = settings.kafka
            reader.groupID = snapshot.group
            let (wanted, configuration) = (marks, reader)
            do {
                byTime = try await BlockingWork.run { () throws(KafkaError) in
                    try OffsetsForTime.find(
                        wanted, atOrAfter: time, configuration: configuration, logger: LoggingSetup.quiet())
                }
            } catch {
                printError("algoqueue: error: \(error); nothing was changed")
                throw ExitCodes.failure
            }
        }
        for entry in snapshot.partitions {
            let partition = TopicPartition(entry.topic, entry.partition)
            let target = to == "earliest" ? entry.start : to == "latest" ? entry.end : byTime[partition] ?? entry.end
            offsets[partition] = target
            let from = entry.resumesAt.map(String.init) ?? "(none)"
            print("\(entry.topic)[\(entry.partition)]: \(from) -> \(target)")
        }
        if dryRun {
            print("dry run: nothing changed")
            return
        }
        var kafka = settings.kafka
        kafka.groupID = snapshot.group
        do {
            let (moved, member) = (offsets, kafka)
            try await BlockingWork.run { () throws(KafkaError) in
                try GroupOffsetCommit.commit(moved, configuration: member, logger: LoggingSetup.quiet())
            }
        } catch {
            printError("algoqueue: error: \(error); nothing was changed")
            throw ExitCodes.failure
        }
        if let store {
            do {
                try store.setOffsets(
                    group: snapshot.group,
                    offsets.map { StoredOffset(topic: $0.key.topic, partition: $0.key.partition, nextOffset: $0.value) }
                )
            } catch {
                printError("algoqueue: error: the broker's offsets moved, the store's did not: \(error)")
                throw ExitCodes.failure
            }
        }
        print(
            "reset group \(snapshot.group) to \(to) on \(offsets.count) partition(s): on the broker"
                + (store == nil ? " (no results file at \(settings.store.path))" : " and in \(settings.store.path)"))
    }
}

/// A point in time given on the command line, as Kafka message timestamps count it (milliseconds since the epoch).
enum MessageTime {
    /// An age (`2h`: that long ago) or an ISO 8601 time (`2026-12-07T08:00`, seconds and a zone optional; UTC
    /// without one); nil for anything else.
    static func milliseconds(_ text: String, now: Date = Date()) -> Int64? {
        if let age = Duration(text: text) { return Int64((now.timeIntervalSince1970 - age.seconds) * 1000) }
        var iso = text.replacingOccurrences(of: " ", with: "T")
        guard iso.count >= 16, iso.dropFirst(10).first == "T" else { return nil }
        if iso.count == 16 { iso += ":00" }
        let zoned = iso.hasSuffix("Z") || iso.dropFirst(19).contains("+") || iso.dropFirst(19).contains("-")
        if !zoned { iso += "Z" }
        let formatter = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [
            [.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds],
        ] {
            formatter.formatOptions = options
            if let date = formatter.date(from: iso) { return Int64(date.timeIntervalSince1970 * 1000) }
        }
        return nil
    }
}
