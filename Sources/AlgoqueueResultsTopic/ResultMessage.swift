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
        object.string("topic", row.topic)
        object.integer("partition", row.partition)
        object.integer("offset", row.offset)
        object.integer("item", row.item)
        object.string("algorithm", row.algorithm)
        object.string("algorithm_version", row.algorithmVersion)
        object.string("key", row.key)
        object.string("status", row.status.rawValue)
        embed("output", "output_text", row.output)
        object.string("error", row.error)
        embed("metadata", "metadata_text", row.metadata)
        object.string("output_file", row.outputFile)
        object.integer("attempts", row.attempts)
        object.raw("duration_ms", "\(row.durationMilliseconds.isFinite ? row.durationMilliseconds : 0)".utf8)
        object.string("created_at", row.createdAt)
        object.string("updated_at", row.updatedAt)
        object.string("message_timestamp", row.messageTimestamp)
        object.integer("input_bytes", row.inputBytes)
        if let hash = row.inputHash { object.string("input_hash", hash) }
        if let source = row.cachedFrom { object.string("cached_from", source) }
        if let traceparent = row.traceparent { object.string("traceparent", traceparent) }
        if let status = row.httpStatus { object.integer("http_status", status) }
        if let raw = row.rawInput {
            object.string("input_base64", Data(raw).base64EncodedString())
        } else {
            embed("input", "input_text", row.input)
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
