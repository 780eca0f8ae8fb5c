import AlgoqueueSupport
import Foundation
import Logging
import Synchronization

/// A message to produce.
public struct KafkaRecord: Sendable {
    /// The destination topic.
    public var topic: String
    /// A fixed partition, or `nil` to let the partitioner choose (by key hash when there is a key).
    public var partition: Int32?
    /// The key bytes.
    public var key: [UInt8]?
    /// The value bytes; `nil` produces a message with a null value (a tombstone).
    public var value: [UInt8]?
    /// Headers, in order.
    public var headers: [KafkaHeader]

    /// Creates a record.
    public init(
        topic: String, partition: Int32? = nil, key: [UInt8]? = nil, value: [UInt8]?, headers: [KafkaHeader] = []
    ) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// Where a produced message landed.
public struct KafkaDelivery: Sendable, Hashable {
    /// The topic.
    public var topic: String
    /// The partition it was written to.
    public var partition: Int32
    /// Its offset there.
    public var offset: Int64
}

/// A producer over librdkafka: ``send(_:)`` suspends until the broker acknowledged the message.
///
/// A dedicated thread serves delivery reports; many sends can be in flight at once.
public final class KafkaProducer: Sendable {
    let client: RdKafkaClient
    let logger: Logger
    let state = Mutex((started: false, stopping: false, stopped: [CheckedContinuation<Void, Never>]()))
    /// Signalled by the delivery thread when delivery reports came while an ``enqueue(_:)`` waits for room in
    /// librdkafka's full local queue.
    let room = Broadcast()
    let waitingForRoom = Atomic(0)

    /// Creates the client; the delivery thread starts with the first send.
    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws(KafkaError) {
        self.logger = logger
        client = try RdKafkaClient(
            kind: .producer, properties: configuration.librdkafkaProperties(),
            context: RdKafkaCallbackContext(logger: logger), configure: RdKafkaClient.reportDeliveries)
    }

    /// Records queued or in flight: neither acknowledged by the broker nor failed yet.
    public var unacknowledged: Int { client.outqueueLength }

    /// Produces one message and returns once the broker has it (or throws why it could not be delivered).
    public func send(_ record: KafkaRecord) async throws -> KafkaDelivery {
        try await enqueue(record).delivery()
    }

    /// Queues `record` before returning (waiting while librdkafka's local queue is full), so that records queued
    /// one after another keep their order within a partition, and returns its delivery to await later.
    public func enqueue(_ record: KafkaRecord) async throws -> PendingDelivery {
        startIfNeeded()
        let pending = PendingDelivery()
        while true {
            switch client.produce(record, delivery: pending) {
            case .queued: return pending
            case .refused(let error): throw error
            case .full: break
            }
            // Full until deliveries come back: wait for the delivery thread to serve some, then try again.
            waitingForRoom.add(1, ordering: .relaxed)
            defer { waitingForRoom.subtract(1, ordering: .relaxed) }
            let seen = room.generation
            if client.outqueueLength > 0 { await room.wait(since: seen, atMost: .milliseconds(100)) }
            try Task.checkCancellation()
        }
    }

    private func startIfNeeded() {
        let start = state.withLock { state in
            defer { state.started = true }
            return !state.started
        }
        guard start else { return }
        let thread = Thread { [self] in
            while !state.withLock({ $0.stopping }) {
                let served = client.serveEvents(milliseconds: 50)
                if served > 0, waitingForRoom.load(ordering: .relaxed) > 0 { room.signal() }
            }
        }
        thread.name = "algoqueue-kafka-producer"
        thread.start()
    }

    /// Returns once a broker has answered a metadata request; throws when none did within `timeout` (nothing
    /// listening, a wrong address, a broker that does not answer). A command checks this before it sends anything:
    /// a message for a cluster it cannot reach would only fail after the delivery timeout (30 s).
    public func waitForBrokers(within timeout: Duration) async throws(KafkaError) {
        let client = client
        let milliseconds = Int32(clamping: timeout.milliseconds)
        // A cancelled wait ends at once (a stop); the request itself ends on its timeout, holding the client till then.
        let answered = try await BlockingWork.run(orOnCancel: KafkaError.stoppedWaiting) { () throws(KafkaError) in
            client.brokerAnswers(milliseconds: milliseconds)
        }
        if let refusal = answered {
            throw KafkaError(
                .delivery, "no broker answered within \(timeout.text) (\(refusal.reason))", rdkafkaCode: refusal.code)
        }
    }

    /// How many partitions `topic` has, or nil when it does not exist (yet) or no broker answered within `timeout`.
    public func partitionCount(of topic: String, within timeout: Duration = .seconds(10)) async -> Int? {
        await topics(within: timeout)?[topic]
    }

    /// Every topic on the cluster with its partition count; nil when no broker answered within `timeout`.
    public func topics(within timeout: Duration = .seconds(10)) async -> [String: Int]? {
        let client = client
        let milliseconds = Int32(clamping: timeout.milliseconds)
        return try? await BlockingWork.run(orOnCancel: KafkaError.stoppedWaiting) { () throws(KafkaError) in
            client.partitionCounts(milliseconds: milliseconds).topics
        } ?? nil
    }

    /// The topic's configuration (`retention.ms` and the like) as the broker describes it, asked within `timeout`.
    public func topicConfiguration(_ topic: String, within timeout: Duration = .seconds(5)) async throws(KafkaError)
        -> [String: String]
    {
        let client = client
        let milliseconds = Int32(clamping: timeout.milliseconds)
        return try await BlockingWork.run(orOnCancel: KafkaError.stoppedWaiting) { () throws(KafkaError) in
            try client.topicConfiguration(
                topic, milliseconds: milliseconds, what: "could not read the configuration of topic \(topic)")
        }
    }

    /// How long a producer flushes at a stop: the usual 10 s when a broker answered the consumer's close, 1 s when none
    /// did (its records would only wait out the flush; what they carry is sent again at the next start).
    public static func closeTimeout(brokerAnswered: Bool) -> Duration { brokerAnswered ? .seconds(10) : .seconds(1) }

    /// Waits up to `timeout` for queued messages to be delivered, fails the rest, and stops the delivery thread.
    public func close(timeout: Duration = .seconds(10)) async {
        let client = client
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            state.withLock { $0.stopping = true }
            let thread = Thread {
                client.flushOrPurge(milliseconds: Int32(clamping: timeout.milliseconds))
                done.resume()
            }
            thread.name = "algoqueue-kafka-flush"
            thread.start()
        }
    }
}

/// The delivery of a record queued with ``KafkaProducer/enqueue(_:)``: await it with ``delivery()``.
public final class PendingDelivery: Sendable {
    enum State {
        case waiting(Waiter?)
        case done(Result<KafkaDelivery, KafkaError>)
    }

    let state = Mutex(State.waiting(nil))

    func resolve(_ result: Result<KafkaDelivery, KafkaError>) {
        let waiter = state.withLock { state -> Waiter? in
            guard case .waiting(let waiter) = state else { return nil }
            state = .done(result)
            return waiter
        }
        waiter?.resume(returning: result)
    }

    /// Returns once the broker has the record (or throws why it could not be delivered). Cancelling the task ends
    /// the wait with a `.cancelled` error and leaves the delivery pending: a later call still gets its outcome.
    public func delivery() async throws(KafkaError) -> KafkaDelivery {
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: Waiter) in
                let now = state.withLock { state -> Result<KafkaDelivery, KafkaError>? in
                    switch state {
                    case .done(let result): return result
                    case .waiting where Task.isCancelled: return .failure(Self.notAwaited)
                    case .waiting:
                        state = .waiting(waiter)
                        return nil
                    }
                }
                if let now { waiter.resume(returning: now) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard case .waiting(let waiter?) = state else { return nil }
                state = .waiting(nil)
                return waiter
            }
            waiter?.resume(returning: .failure(Self.notAwaited))
        }
        return try result.get()
    }

    typealias Waiter = CheckedContinuation<Result<KafkaDelivery, KafkaError>, Never>

    static let notAwaited = KafkaError(.cancelled, "stopped waiting for the delivery; the record may still arrive")
}
