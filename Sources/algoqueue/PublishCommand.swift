import AlgoqueueAlgorithms
import AlgoqueueKafka
import AlgoqueueSupport
import ArgumentParser
import Foundation

/// `algoqueue publish`: JSON lines to a topic.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish JSON lines or CSV rows from a file (or standard input) to a topic, one message each.",
        discussion: """
            JSON lines: one message per line; blank lines are skipped. A line that is not valid JSON is \
            reported with its line number and not published (exit code 65 at the end), unless --allow-invalid \
            publishes it as is.

            CSV (--format csv, or a file ending in .csv): the first row names the fields; every other row \
            becomes a JSON object {"field": value}, numbers and true/false typed, empty fields null.

            Messages without a key (no --key-field, or a line without that field) go to the topic's partitions in \
            turn, so that every instance of a group gets its share (--partitioning round-robin, the default); \
            --partitioning sticky leaves them to librdkafka's sticky partitioner (fewer, larger batches, but a \
            small file may land on one partition). A message with a key goes to its key's partition.

            Messages keep the file's order within each partition. A line larger than the message size limit \
            (message.max.bytes, default 1000000 bytes; raise it with --kafka-property, and on the broker) is \
            reported with its line number before anything is sent for it, and not published (exit code 65).

            On a terminal a progress bar shows the rate and the time left; otherwise a line every 10 s. \
            A summary ends the run.

            No broker answering within 10 s (nothing listening there, a wrong address) ends it before anything \
            is read or sent.

            Exit codes: 0 all published, 64 bad usage (such as an invalid topic name), 65 some lines were not \
            published, 1 no broker answered or delivery failed.

            Examples:
              algoqueue publish --brokers 127.0.0.1:9092 --topic inputs inputs.jsonl
              algoqueue publish --brokers $BROKER --topic inputs people.csv --key-field id
              cat inputs.jsonl | algoqueue publish --brokers $BROKER --topic inputs
              kcat -P -b 127.0.0.1:9092 -t inputs -l inputs.jsonl   # -l: one per line
            """
    )

    @Option(name: .long, help: ArgumentHelp("Bootstrap brokers, comma-separated.", valueName: "host:port"))
    var brokers: String

    @Option(name: .long, help: "The topic to publish to.")
    var topic: String

    @Option(
        name: .customLong("key-field"),
        help: ArgumentHelp("Take each message's key from this top-level field.", valueName: "name"))
    var keyField: String?

    @Flag(name: .customLong("allow-invalid"), help: "Publish lines that are not valid JSON as they are.")
    var allowInvalid = false

    @Option(
        name: .customLong("kafka-property"),
        help: ArgumentHelp(
            "Any librdkafka property (repeatable), such as SASL/SSL settings or message.max.bytes.",
            valueName: "name=value"))
    var kafkaProperties: [String] = []

    @Option(name: .long, help: "jsonl or csv (default: csv for a .csv file, jsonl otherwise).")
    var format: InputFormat?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Where messages without a key go: round-robin over the partitions (default) or sticky (librdkafka's).",
            valueName: "mode"))
    var partitioning: Partitioning = .roundRobin

    enum Partitioning: String, ExpressibleByArgument {
        case roundRobin = "round-robin"
        case sticky
    }

    enum InputFormat: String, ExpressibleByArgument {
        case jsonl, csv
    }

    @Argument(help: ArgumentHelp("A JSON-lines file, or - for standard input.", valueName: "file"))
    var file = "-"

    func run() async throws {
        let logger = LoggingSetup.bootstrap(level: "warning")
        if let problem = TopicName.problem(topic) {
            printError("algoqueue: error: --topic: \(problem)")
            throw ExitCodes.usage
        }
        var configuration = KafkaProducerConfiguration()
        configuration.brokers = brokers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let flagged = KafkaPropertyFlags.parse(kafkaProperties)
        if let problem = flagged.problems.first {
            printError("algoqueue: error: --kafka-property: \(problem)")
            throw ExitCodes.usage
        }
        configuration.properties = flagged.properties
        // librdkafka's default; what is larger fails at the client or the broker, so it is reported up front.
        let maxMessageBytes = configuration.properties["message.max.bytes"].flatMap { Int($0) } ?? 1_000_000
        let producer: KafkaProducer
        do {
            producer = try KafkaProducer(configuration: configuration, logger: logger)
        } catch {
            printError("algoqueue: error: \(error)")
            throw ExitCodes.usage
        }
        var reader: LineReader
        do {
            reader = try LineReader(path: file)
        } catch {
            printError("algoqueue: error: \(error)")
            throw ExitCodes.dataError
        }
        do {
            try await producer.waitForBrokers(within: BrokerCheck.wait)
        } catch {
            printError(
                "algoqueue: error: "
                    + BrokerCheck.message(configuration.brokers, error, outcome: "nothing was published"))
            throw ExitCodes.failure
        }
        let clock = ContinuousClock()
        let started = clock.now
        var lineNumber = 0
        var invalid = 0
        var failures: [String] = []
        var partitions: Set<Int32> = []
        var lastPartition: Int32 = -1
        var published = 0
        let csv = (format ?? (file.lowercased().hasSuffix(".csv") ? .csv : .jsonl)) == .csv
        var csvRecords = CSVRecords()
        var pending = ""
        let totalBytes =
            file == "-" ? nil : (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? nil
        var progress = ProgressReporter(totalBytes: totalBytes)
        func settle(_ result: Result<KafkaDelivery, any Error>) {
            switch result {
            case .success(let delivery):
                published += 1
                partitions.insert(delivery.partition)
                lastPartition = delivery.partition
            case .failure(let error):
                if failures.count < 5 { failures.append("\(error)") }
            }
        }
        // Lines become records lazily: a line is read only when there is room for one more send in flight.
        let records = AnyIterator<KafkaRecord> {
            while let raw = reader.next() {
                lineNumber += 1
                progress.update(messages: published, bytesRead: reader.bytesRead)
                var line = raw
                if csv {
                    do {
                        guard
                            let object = try csvRecords.record(
                                from: String(decoding: raw, as: UTF8.self), pending: &pending)
                        else { continue }
                        line = object
                    } catch let error as CSVRecords.HeaderError {
                        invalid += 1
                        printError("line \(lineNumber): \(error); nothing of \(file) was published")
                        return nil
                    } catch {
                        invalid += 1
                        printError("line \(lineNumber): \(error); not published")
                        continue
                    }
                }
                guard line.contains(where: { !jsonWhitespace.contains($0) }) else { continue }
                do {
                    try JSONSyntax.validate(line)
                } catch {
                    if !allowInvalid {
                        invalid += 1
                        printError("line \(lineNumber): not valid JSON (\(error)); not published")
                        continue
                    }
                }
                let key = keyField.flatMap { KeyField.value(named: $0, in: line) }
                // Room for the record's framing (about a hundred bytes) under the limit.
                let size = line.count + (key?.utf8.count ?? 0)
                if size > maxMessageBytes - 512 {
                    invalid += 1
                    printError(
                        "line \(lineNumber): \(size) bytes, above the message size limit of \(maxMessageBytes) bytes "
                            + "(message.max.bytes); not published. Raise it with --kafka-property message.max.bytes=N "
                            + "(and the topic's max.message.bytes on the broker), or split the input")
                    continue
                }
                return KafkaRecord(topic: topic, key: key.map { Array($0.utf8) }, value: line)
            }
            return nil
        }
        // Records are queued one after another, so they keep the file's order within each partition; up to 1000
        // deliveries are awaited at a time, oldest first.
        var window: [PendingDelivery] = []
        var head = 0
        func settleOldest() async {
            do { settle(.success(try await window[head].delivery())) } catch { settle(.failure(error)) }
            head += 1
            if head > 4096, head * 2 > window.count {
                window.removeFirst(head)
                head = 0
            }
        }
        // Round-robin needs the partition count; a topic the broker creates on the first write is asked again after it.
        var partitionCount = partitioning == .roundRobin ? await producer.partitionCount(of: topic) : nil
        var nextPartition = 0
        for var record in records {
            let unkeyed = partitioning == .roundRobin && record.key == nil
            if unkeyed, let count = partitionCount, count > 0 {
                record.partition = Int32(nextPartition % count)
                nextPartition += 1
            }
            do {
                window.append(try await producer.enqueue(record))
            } catch {
                settle(.failure(error))
            }
            if unkeyed, partitionCount == nil {
                while head < window.count { await settleOldest() }
                partitionCount = await producer.partitionCount(of: topic)
                // Round-robin goes on after the partition the broker's partitioner chose for the first one.
                nextPartition = Int(lastPartition) + 1
            }
            if window.count - head >= 1000 { await settleOldest() }
        }
        while head < window.count { await settleOldest() }
        await producer.close()
        progress.finish()
        if !pending.isEmpty {
            invalid += 1
            printError("line \(lineNumber): a quoted CSV field is never closed; not published")
        }
        let seconds = (clock.now - started).seconds
        print(
            "published \(published) message(s) to \(topic) (\(partitions.count) partition(s)) in "
                + String(format: "%.2f", seconds) + " s" + (invalid > 0 ? "; \(invalid) invalid line(s) skipped" : ""))
        if !failures.isEmpty {
            printError("algoqueue: error: some messages were not delivered, for example: \(failures[0])")
            throw ExitCodes.failure
        }
        if invalid > 0 { throw ExitCodes.dataError }
    }
}

private let jsonWhitespace: Set<UInt8> = [0x20, 0x09, 0x0D, 0x0A]

/// Reads one top-level field of a JSON object line as a key.
enum KeyField {
    static func value(named name: String, in line: [UInt8]) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
            let value = object[name]
        else { return nil }
        switch value {
        case let text as String: return text
        case let number as NSNumber: return number.stringValue
        default: return nil
        }
    }
}
