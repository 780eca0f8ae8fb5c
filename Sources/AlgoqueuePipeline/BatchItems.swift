import AlgoqueueAlgorithms
import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport

/// What one message holds: one input, the items of a batch, or a reason it holds nothing usable.
enum MessagePlan {
    case single(AlgorithmInput)
    /// Items as byte ranges of `bytes`.
    case items(bytes: [UInt8], ranges: [Range<Int>])
    case invalid(String)
}

/// The headers that make a message a chunk of a split batch.
enum ChunkHeaders {
    static let topic = "algoqueue.batch.topic"
    static let partition = "algoqueue.batch.partition"
    static let offset = "algoqueue.batch.offset"
    static let firstItem = "algoqueue.batch.first_item"
    static let items = "algoqueue.batch.items"

    /// The chunk a message carries, or nil when it is not a chunk.
    static func chunk(of message: KafkaMessage) -> (origin: BatchOrigin, firstItem: Int, batchItems: Int)? {
        func value(_ name: String) -> String? {
            message.headers.last { $0.name == name }?.value.map { String(decoding: $0, as: UTF8.self) }
        }
        guard let topic = value(topic), let partition = value(partition).flatMap({ Int32($0) }),
            let offset = value(offset).flatMap({ Int64($0) }), let first = value(firstItem).flatMap({ Int($0) }),
            let total = value(items).flatMap({ Int($0) })
        else { return nil }
        return (BatchOrigin(topic: topic, partition: partition, offset: offset), first, total)
    }

    /// The headers for chunk `chunk` of a batch of `batchItems` items.
    static func headers(_ chunk: BatchChunk, batchItems: Int) -> [KafkaHeader] {
        [
            KafkaHeader(name: topic, string: chunk.origin.topic),
            KafkaHeader(name: partition, string: String(chunk.origin.partition)),
            KafkaHeader(name: offset, string: String(chunk.origin.offset)),
            KafkaHeader(name: firstItem, string: String(chunk.firstItem)),
            KafkaHeader(name: items, string: String(batchItems)),
        ]
    }
}

extension BatchMessageConfiguration {
    /// How `input` is to be processed under this configuration. A chunk is always a batch.
    func plan(_ input: AlgorithmInput, isChunk: Bool = false) -> MessagePlan {
        guard isChunk || mode != .off else { return .single(input) }
        guard input.contentType == .json else {
            return mode == .required && !isChunk
                ? .invalid("a batch must be JSON (batch_messages.mode: required), not \(input.contentType.rawValue)")
                : .single(input)
        }
        let bytes = input.bytes
        var ranges = JSONSyntax.arrayElements(bytes)
        if ranges == nil, let inputs = JSONSyntax.objectMembers(bytes)?.first(where: { $0.name == "inputs" })?.value {
            let list = Array(bytes[inputs])
            if let elements = JSONSyntax.arrayElements(list) {
                ranges = elements.map { ($0.lowerBound + inputs.lowerBound)..<($0.upperBound + inputs.lowerBound) }
            } else {
                return .invalid("\"inputs\" must be a list of inputs (got a JSON \(JSONSyntax.topLevelKind(list)))")
            }
        }
        guard let ranges else {
            if mode == .required {
                return .invalid(
                    "expected a batch: a JSON list of inputs, or an object with an \"inputs\" list "
                        + "(batch_messages.mode: required); got a JSON \(JSONSyntax.topLevelKind(bytes))")
            }
            return .single(input)
        }
        guard !ranges.isEmpty else {
            return .invalid("the batch is empty (a list with no items); publish at least one input")
        }
        guard isChunk || ranges.count <= maxItems else {
            return .invalid(
                "the batch holds \(ranges.count) items, above the limit of \(maxItems) (batch_messages.max_items); "
                    + "publish smaller batches or raise the limit")
        }
        return .items(bytes: bytes, ranges: ranges)
    }
}

extension Array where Element == UInt8 {
    /// The JSON list of the items at `ranges` of `self`, as sent.
    func jsonList(_ ranges: some Collection<Range<Int>>) -> [UInt8] {
        var list: [UInt8] = [UInt8(ascii: "[")]
        for (position, range) in ranges.enumerated() {
            if position > 0 { list.append(UInt8(ascii: ",")) }
            list += self[range]
        }
        list.append(UInt8(ascii: "]"))
        return list
    }
}
