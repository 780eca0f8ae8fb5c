import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import Logging

/// Publishes the messages that ended as error rows to a dead-letter topic: the original key, value and
/// headers, plus headers naming the error and where the message came from.
final class DeadLetterPublisher: Sendable {
    let producer: KafkaProducer
    let topic: String
    let statistics: PipelineStatistics
    let logger: Logger

    init(producer: KafkaProducer, topic: String, statistics: PipelineStatistics, logger: Logger) {
        self.producer = producer
        self.topic = topic
        self.statistics = statistics
        self.logger = logger
    }

    /// Publishes `message` with the error of `row`, trying again until it is delivered. Returns false only when
    /// cancelled, at once, even while waiting for the broker (the message is then consumed again later, so nothing
    /// is lost).
    func publish(_ message: KafkaMessage, row: ResultRow) async -> Bool {
        var headers = message.headers
        headers += [
            KafkaHeader(name: "algoqueue.error", string: row.error ?? ""),
            KafkaHeader(name: "algoqueue.source.topic", string: message.topic),
            KafkaHeader(name: "algoqueue.source.partition", string: String(message.partition)),
            KafkaHeader(name: "algoqueue.source.offset", string: String(message.offset)),
            KafkaHeader(name: "algoqueue.algorithm", string: row.algorithm),
            KafkaHeader(name: "algoqueue.attempts", string: String(row.attempts)),
        ]
        let record = KafkaRecord(topic: topic, key: message.key, value: message.value, headers: headers)
        while !Task.isCancelled {
            do {
                _ = try await producer.send(record)
                statistics.update { $0.deadLettered += 1 }
                return true
            } catch let error as KafkaError where error.code == .cancelled {
                // Stopping: the wait for the broker ended (a hung broker would hold it for the delivery timeout).
                return false
            } catch {
                logger.warning(
                    "could not publish to the dead-letter topic \(topic), trying again: \(error)",
                    metadata: ["source": "\(message.topic)/\(message.partition)/\(message.offset)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
        return false
    }
}
