import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import Foundation

/// A result row as a message of the results topic, and back.
///
/// Key: `topic/partition/offset/item/algorithm`, so that every version of one row goes to one partition, in order.
/// Value: one JSON object with the fields of `results --format json`: `output`, `metadata` and `input` embedded as
/// the JSON they are (as `output_text`, `metadata_text` or `input_text` strings when they are not JSON; a binary
/// input as `input_base64`). Headers: the source coordinates, the status, the algorithm and its version, and the
/// publishing instance's group and host. Decoding gives back the row exactly as it was stored.
public enum ResultMessage {
    public static let sourceTopicHeader = "algoqueue.source.topic"
    public static let sourcePartitionHeader = "algoqueue.source.partition"
    public static let sourceOffsetHeader = "algoqueue.source.offset"

    /// The headers `collect` reads (the rest are for other consumers of the topic).
    public static var collectedHeaders: Set<String> {
        [splitHeaders.batchItems, splitHeaders.firstItem, splitHeaders.chunkItems, splitHeaders.algorithms]
    }

    package static let splitHeaders = (
        batchItems: "algoqueue.batch.items", firstItem: "algoqueue.chunk.first_item",
        chunkItems: "algoqueue.chunk.items",
        algorithms: "algoqueue.algorithms"
    )

    /// The message for `row`, published to `topic` by an instance of `group` on `host`; for a row of a split batch,
    /// `split` goes in headers too.
    public static func record(
        _ row: ResultRow, split: SplitRowInfo? = nil, topic: String, group: String, host: String,
        value: ResultsValue = .row
    ) -> KafkaRecord {
        var headers = [
            KafkaHeader(name: sourceTopicHeader, string: row.topic),
            KafkaHeader(name: sourcePartitionHeader, integer: row.partition),
            KafkaHeader(name: sourceOffsetHeader, integer: row.offset),
            KafkaHeader(name: "algoqueue.source.item", integer: row.item),
            KafkaHeader(name: "algoqueue.status", string: row.status.rawValue),
            KafkaHeader(name: "algoqueue.algorithm", string: row.algorithm),
            KafkaHeader(name: "algoqueue.group", string: group),
            KafkaHeader(name: "algoqueue.host", string: host),
        ]
        if let version = row.algorithmVersion {
            headers.append(KafkaHeader(name: "algoqueue.version", string: version))
        }
        if let split {
            headers += [
                KafkaHeader(name: splitHeaders.batchItems, integer: split.batchItems),
                KafkaHeader(name: splitHeaders.firstItem, integer: split.chunkFirstItem),
                KafkaHeader(name: splitHeaders.chunkItems, integer: split.chunkItems),
                KafkaHeader(name: splitHeaders.algorithms, integer: split.algorithms),
            ]
        }
        let bytes = value == .row ? jsonBytes(row) : outputBytes(row)
        return KafkaRecord(topic: topic, key: keyBytes(row), value: bytes, headers: headers)
    }

    /// ``key(_:)`` written straight into bytes.
    static func keyBytes(_ row: ResultRow) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(row.topic.utf8.count + row.algorithm.utf8.count + 48)
        key.append(contentsOf: row.topic.utf8)
        key.append(UInt8(ascii: "/"))
        JSONObjectBytes.appendDecimal(Int64(row.partition), to: &key)
        key.append(UInt8(ascii: "/"))
        JSONObjectBytes.appendDecimal(row.offset, to: &key)
        key.append(UInt8(ascii: "/"))
        JSONObjectBytes.appendDecimal(Int64(row.item), to: &key)
        key.append(UInt8(ascii: "/"))
        key.append(contentsOf: row.algorithm.utf8)
        return key
    }

    /// `results.value: output`: an ok row's output as it is (JSON; other text as a JSON string), an error row as
    /// `{"error": "..."}`.
    public static func outputBytes(_ row: ResultRow) -> [UInt8] {
        guard row.status == .ok else {
            var object = JSONObjectBytes()
            object.string("error", row.error ?? "")
            return object.finish()
        }
        guard let output = row.output else { return JSONObjectBytes.nullValue }
        if JSONSyntax.isValid(output) { return Array(output.utf8) }
        var quoted: [UInt8] = []
        JSONObjectBytes.appendQuoted(output, to: &quoted)
        return quoted
    }

    public static func key(_ row: ResultRow) -> String {
        "\(row.topic)/\(row.partition)/\(row.offset)/\(row.item)/\(row.algorithm)"
    }

    /// The row as one JSON object.
    public static func json(_ row: ResultRow) -> String {
        String(decoding: jsonBytes(row), as: UTF8.self)
    }

    /// The row as one JSON object, written straight into bytes (one per row published: see ``JSONObjectBytes``).
    public static func jsonBytes(_ row: ResultRow) -> [UInt8] {
        var object = JSONObjectBytes(
            capacity: 320 + (row.output?.utf8.count ?? 0)
                + (row.input?.utf8.count ?? row.rawInput.map { $0.count * 4 / 3 } ?? 0)
                + (row.error?.utf8.count ?? 0) + (row.metadata?.utf8.count ?? 0))
        /// JSON text embedded as is under `name`; other text as a string under `name_text`.
        func embed(_ name: StaticString, _ textName: StaticString, _ text: String?) {
            guard let text else { return object.raw(name, JSONObjectBytes.nullValue) }
            // `null` as text stays a string: embedded, it would read back as no value.
            if text != "null", JSONSyntax.isValid(text) {
                object.raw(name, text.utf8)
            } else {
                object.string(textName, text)
            }
        }
        object.string(Field.topic.name, row.topic)
        object.integer(Field.partition.name, row.partition)
        object.integer(Field.offset.name, row.offset)
        object.integer(Field.item.name, row.item)
        object.string(Field.algorithm.name, row.algorithm)
        object.string(Field.algorithmVersion.name, row.algorithmVersion)
        object.string(Field.key.name, row.key)
        object.string(Field.status.name, row.status.rawValue)
        embed(Field.output.name, Field.outputText.name, row.output)
        object.string(Field.error.name, row.error)
        embed(Field.metadata.name, Field.metadataText.name, row.metadata)
        object.string(Field.outputFile.name, row.outputFile)
        object.integer(Field.attempts.name, row.attempts)
        object.raw(
            Field.durationMilliseconds.name, "\(row.durationMilliseconds.isFinite ? row.durationMilliseconds : 0)".utf8)
        object.string(Field.createdAt.name, row.createdAt)
        object.string(Field.updatedAt.name, row.updatedAt)
        object.string(Field.messageTimestamp.name, row.messageTimestamp)
        object.integer(Field.inputBytes.name, row.inputBytes)
        if let hash = row.inputHash { object.string(Field.inputHash.name, hash) }
        if let source = row.cachedFrom { object.string(Field.cachedFrom.name, source) }
        if let traceparent = row.traceparent { object.string(Field.traceparent.name, traceparent) }
        if let status = row.httpStatus { object.integer(Field.httpStatus.name, status) }
        if let raw = row.rawInput {
            object.string(Field.inputBase64.name, Data(raw).base64EncodedString())
        } else {
            embed(Field.input.name, Field.inputText.name, row.input)
        }
        return object.finish()
    }

    /// The split-batch facts in a results-topic message's headers, if it has them.
    public static func split(_ headers: [KafkaHeader]) -> SplitRowInfo? {
        func value(_ name: String) -> Int? {
            headers.first { $0.name == name }?.value.flatMap { Int(String(decoding: $0, as: UTF8.self)) }
        }
        guard let items = value(splitHeaders.batchItems), let first = value(splitHeaders.firstItem),
            let chunkItems = value(splitHeaders.chunkItems), let algorithms = value(splitHeaders.algorithms)
        else { return nil }
        return SplitRowInfo(batchItems: items, chunkFirstItem: first, chunkItems: chunkItems, algorithms: algorithms)
    }
}
