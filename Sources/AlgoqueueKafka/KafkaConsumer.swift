import AlgoqueueSupport
import Foundation
import Logging
import Synchronization

/// What the consumer reports, in the order it happened on the poll thread.
public enum KafkaConsumerEvent: Sendable {
    /// Partitions were assigned; each starts at the given offset (`nil` only when the broker could not say:
    /// then librdkafka picks the committed offset or the configured start position).
    case assigned([TopicPartition: Int64?])
    /// Partitions were taken away (rebalance or close). Work in flight for them may still finish.
    case revoked([TopicPartition])
    /// Messages, in offset order per partition (those that were ready together).
    case messages([KafkaMessage])
    /// The consumer has read a partition to its current end; `nextOffset` is the offset the next message will have.
    /// After a pause this can arrive for an end reached before messages that will be fetched again: compare it
    /// with the position reached.
    case endOfPartition(TopicPartition, nextOffset: Int64)
    /// The client reported a problem. `.fatal` errors end consumption; others are transient.
    case error(KafkaError)
}

extension KafkaConsumerEvent {
    /// The messages this event carries (none for other events).
    public var messages: [KafkaMessage] {
        if case .messages(let messages) = self { messages } else { [] }
    }
}

/// A consumer-group consumer over librdkafka with explicit offset commits.
///
/// A dedicated thread owns every blocking call (poll, rebalance, commit, close) and hands events to Swift
/// concurrency through ``events``. Messages count against a buffer limit until they are ``release(messages:bytes:)``d;
/// above the limit the assigned partitions are paused, so memory stays bounded however fast the topic fills.
public final class KafkaConsumer: Sendable {
    /// Gives the offsets stored beside the results for newly assigned partitions (called on the poll thread).
    public typealias StoredOffsets = @Sendable ([TopicPartition]) -> [TopicPartition: Int64]

    struct Shared {
        var lifecycle = ConsumerLifecycle()
        var pendingCommits: [TopicPartition: Int64] = [:]
        var unreleasedMessages = 0
        var unreleasedBytes = 0
    }

    let configuration: KafkaConsumerConfiguration
    let logger: Logger
    let client: RdKafkaClient
    let storedOffsets: StoredOffsets
    let shared = Mutex(Shared())
    let wakeUps = Atomic(0)
    /// Wakes the poll thread from a hold when room is handed back or a close is asked.
    let holdWake = HoldWake()
    /// How long leaving the group may take, in milliseconds (``close(within:)``).
    let leaveBoundMilliseconds = Atomic<Int64>(KafkaConsumer.closeTimeout.milliseconds)
    /// Whether the poll thread left the group cleanly (set before it resumes the closers).
    let leftGroup = Atomic(false)

    /// How long leaving the group may take: the last commit, giving up the partitions, and the close.
    var leaveBound: Duration { .milliseconds(leaveBoundMilliseconds.load(ordering: .relaxed)) }
    let continuation: AsyncStream<KafkaConsumerEvent>.Continuation

    /// Events in order: assignments, messages, partition ends, errors. Ends after ``close()``.
    public let events: AsyncStream<KafkaConsumerEvent>

    /// Creates the client; nothing is fetched until ``start()``.
    public init(
        configuration: KafkaConsumerConfiguration, storedOffsets: @escaping StoredOffsets = { _ in [:] },
        logger: Logger
    ) throws(KafkaError) {
        guard !configuration.topics.isEmpty else {
            throw KafkaError(.subscription, "no topic to consume: name at least one topic")
        }
        self.configuration = configuration
        self.logger = logger
        self.storedOffsets = storedOffsets
        (events, continuation) = AsyncStream.makeStream(of: KafkaConsumerEvent.self)
        let context = RdKafkaCallbackContext(logger: logger)
        client = try RdKafkaClient(
            kind: .consumer, properties: configuration.librdkafkaProperties(), context: context,
            configure: RdKafkaClient.reportRebalancesAndCommits)
        let continuation = self.continuation
        context.error = { error in
            // librdkafka's log line already said it; only a fatal error needs saying again.
            logger.log(level: error.code == .fatal ? .error : .debug, "Kafka: \(error)")
            continuation.yield(.error(error))
        }
    }

    /// Subscribes and starts the poll thread. A second call does nothing; a call after ``close()`` throws.
    public func start() throws(KafkaError) {
        switch shared.withLock({ $0.lifecycle.start() }) {
        case .none: return
        case .refuseClosed: throw KafkaError(.closed, "the consumer is closed; create a new one to consume again")
        case .subscribe: break
        }
        client.pollAsConsumer()
        do throws(KafkaError) {
            try client.subscribe(
                configuration.topics, what: "could not subscribe to \(configuration.topics.joined(separator: ", "))")
        } catch {
            let waiters = shared.withLock { $0.lifecycle.subscribeFailed() }
            continuation.finish()
            for waiter in waiters { waiter.resume() }
            throw error
        }
        // Either way the poll thread runs: after a close() that came while subscribing, it leaves the group at once.
        _ = shared.withLock { $0.lifecycle.subscribed() }
        let loop = ConsumerPollLoop(consumer: self)
        client.context.rebalance = { event in loop.rebalance(event) }
        // A commit that failed (say during a rebalance) goes out again with the next one.
        client.context.commitFailed = { [weak self] offsets in self?.commit(offsets) }
        let thread = Thread { loop.run() }
        thread.name = "algoqueue-kafka-consumer"
        thread.start()
    }

    /// Asks for `offsets` (the next offset to read, per partition) to be committed to Kafka. Offsets only move forward;
    /// partitions no longer assigned are skipped.
    public func commit(_ offsets: [TopicPartition: Int64]) {
        shared.withLock { state in
            for (partition, offset) in offsets where offset > (state.pendingCommits[partition] ?? -1) {
                state.pendingCommits[partition] = offset
            }
        }
    }

    /// How often the poll thread woke librdkafka's fetcher, stopped at `queued.min.messages` with its queue drained
    /// (see ``FetcherWake``).
    public var fetcherWakeUps: Int { wakeUps.load(ordering: .relaxed) }

    /// The messages fetched and waiting in librdkafka's queue, not yet polled.
    var prefetchedMessages: Int {
        client.consumerQueueLength
    }

    /// Hands back buffer room for messages whose work is finished (or abandoned).
    public func release(messages: Int, bytes: Int) {
        shared.withLock { state in
            state.unreleasedMessages -= messages
            state.unreleasedBytes -= bytes
        }
        holdWake.signal()
    }

    /// The partition's high watermark (the offset the next produced message will get) as last seen by the
    /// fetcher, or nil before the first fetch. Does not block.
    public func highWatermark(_ partition: TopicPartition) -> Int64? {
        client.cachedHighWatermark(partition)
    }

    /// The partition's high watermark asked of the broker (a round trip, off the cooperative threads), for when
    /// the fetcher has not reported one yet; nil when the broker does not answer within 2 seconds.
    public func queryHighWatermark(_ partition: TopicPartition) async -> Int64? {
        let client = self.client
        return await BlockingWork.run { () -> Int64? in
            BoundedWatermarks.query(client, [partition], within: .seconds(2))[partition].flatMap {
                $0.high >= 0 ? $0.high : nil
            }
        }
    }

    /// Commits what is pending, leaves the group and ends ``events``. Safe to call more than once, and before
    /// ``start()`` (which then refuses to start).
    public func close() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            switch shared.withLock({ $0.lifecycle.close(waiter) }) {
            case .wait: holdWake.signal()
            case .resumeNow(let finishEvents):
                if finishEvents { continuation.finish() }
                waiter.resume()
            }
        }
    }

    /// Asks for ``close()`` without waiting for it: ``events`` ends once the consumer has left its group. For a
    /// graceful shutdown handler, which cannot wait; whoever owns the consumer still awaits ``close(within:)``.
    public func requestClose() {
        switch shared.withLock({ $0.lifecycle.close(nil) }) {
        case .wait: holdWake.signal()
        case .resumeNow(let finishEvents): if finishEvents { continuation.finish() }
        }
    }

    /// How long a stop waits for the consumer to leave its group (``close(within:)``).
    public static let closeTimeout: Duration = .seconds(10)

    /// ``close()``, with leaving the group bounded by `timeout`: false (and a warning) when the consumer had not
    /// left its group by then. The bound is kept by the poll thread itself, which commits, gives up its partitions
    /// and closes within it, or skips what is left (see ``ConsumerPollLoop/leaveGroup(committing:)``): nothing goes
    /// on after this returns. librdkafka's own close has no bound: with every broker unreachable it never returns
    /// (librdkafka issue 3740). A process that exits without leaving loses nothing by it (the results store holds
    /// the rows and their offsets, and the group frees the partitions when the member's session times out).
    @discardableResult
    public func close(within timeout: Duration = closeTimeout) async -> Bool {
        leaveBoundMilliseconds.store(max(1, timeout.milliseconds), ordering: .relaxed)
        await close()
        return leftGroup.load(ordering: .relaxed)
    }

    /// A consumer dropped without ``close()`` was never started (the poll thread keeps a started one alive until
    /// it is closed): its event stream ends here.
    deinit {
        continuation.finish()
    }
}
