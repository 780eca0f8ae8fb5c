import AlgoqueueKafka
import AlgoqueueSupport
import Logging
import Synchronization

/// With `untilIdle`, an instance in a group is done only when the group is: the partitions of its topics that
/// other members own must be consumed to their ends too. A member killed with -9 keeps its partitions until its
/// session times out; were the others to leave once their own partitions are read, its partitions would stay
/// unread until the next run. The partitions this instance owns are judged by the loop (read to their ends,
/// written); only the others are asked about, at most once a second.
///
/// The question is asked by ``run()``, a child task beside the dispatch loop, and the loop only reads the last
/// answer: a cluster slow to answer (or a call that never returns) must not hold up the loop, which also serves
/// rebalances and the stop.
final class GroupIdleCheck: Sendable {
    struct Behind: Sendable {
        let partition: TopicPartition
        let at: Int64
        let end: Int64
    }

    private struct State {
        var admin: KafkaAdmin?
        /// The assignment the loop last asked about; ``run()`` asks the cluster for it.
        var wanted: Set<TopicPartition>?
        /// A question is in flight (asked at `lastAsked`).
        var asking = false
        var lastAsked: ContinuousClock.Instant?
        /// The last answer: the partitions behind, for the assignment it was asked about.
        var answer: (assignment: Set<TopicPartition>, behind: [Behind])?
        var reported: [TopicPartition] = []
    }

    let kafka: KafkaConsumerConfiguration
    let logger: Logger
    /// Called after each answer, so that the loop judges idle again at once rather than at its next signal (a
    /// heartbeat, up to a second later: every `--until-idle` run ended on one).
    let answered: @Sendable () -> Void
    private let state: Mutex<State>
    /// Signalled when the loop wants a (new) answer.
    private let askNow = WakeSignal()
    /// How long a question may go unanswered before it is given up and asked again with a new client.
    static let patience = Duration.seconds(15)

    /// `kafka.topics` are the topics consumed; `admin` is a client to reuse, if the pipeline has one.
    init(
        kafka: KafkaConsumerConfiguration, admin: KafkaAdmin?, logger: Logger,
        answered: @escaping @Sendable () -> Void = {}
    ) {
        self.kafka = kafka
        self.logger = logger
        self.answered = answered
        state = Mutex(State(admin: admin))
    }

    /// Whether the last answer says the group has committed every partition of the topics outside `assignment`
    /// to its end. Asks again (in the background) when the last question is a second old; false until an
    /// answer for this assignment has come.
    func othersDone(assignment: Set<TopicPartition>) -> Bool {
        let now = ContinuousClock.now
        let ask = state.withLock { state -> Bool in
            state.wanted = assignment
            if state.asking { return false }
            if let last = state.lastAsked, now - last < .seconds(1) { return false }
            return true
        }
        if ask { askNow.signal() }
        guard let answer = state.withLock({ $0.answer }), answer.assignment == assignment else { return false }
        return answer.behind.isEmpty
    }

    /// Asks the cluster whenever ``othersDone(assignment:)`` wants an answer, until cancelled (it runs beside the
    /// dispatch loop and ends with it). A question unanswered for ``patience`` is given up (the admin calls stop
    /// waiting when cancelled) and asked again with a new client.
    func run() async {
        while !Task.isCancelled {
            await askNow.wait(atMost: .seconds(60))
            let question = state.withLock { state -> (Set<TopicPartition>, KafkaAdmin?)? in
                guard let wanted = state.wanted, !state.asking else { return nil }
                state.asking = true
                state.lastAsked = ContinuousClock.now
                return (wanted, state.admin)
            }
            guard let (assignment, admin) = question, !Task.isCancelled else { continue }
            let answered = await withTaskGroup(of: Bool.self) { race in
                race.addTask {
                    await self.ask(assignment: assignment, admin: admin)
                    return true
                }
                race.addTask {
                    try? await Task.sleep(for: Self.patience)
                    return false
                }
                let first = await race.next() ?? true
                race.cancelAll()
                return first
            }
            guard !answered, !Task.isCancelled else { continue }
            logger.warning(
                "the cluster has not said for \(Self.patience) where the group stands; asking again with a new client")
            state.withLock { state in
                state.admin = nil
                state.asking = false
            }
        }
    }

    private func ask(assignment: Set<TopicPartition>, admin existing: KafkaAdmin?) async {
        var behind: [Behind]?
        var admin = existing
        do throws(KafkaError) {
            if admin == nil { admin = try KafkaAdmin(configuration: kafka, timeout: .seconds(3), logger: logger) }
            if let admin { behind = try await partitionsBehind(outside: assignment, admin: admin) }
        } catch {
            logger.debug("cannot read the group's progress yet: \(error)")
        }
        state.withLock { state in
            state.asking = false
            if state.admin == nil { state.admin = admin }
            guard let behind else { return }
            state.answer = (assignment, behind)
            let partitions = behind.map(\.partition)
            if !partitions.isEmpty, partitions != state.reported {
                let shown = behind.prefix(5).map { "\($0.partition) at \($0.at) of \($0.end)" }.joined(separator: ", ")
                logger.info(
                    """
                    idle here; waiting for the group: \(behind.count) partition(s) owned by other members are not \
                    consumed to their end yet (a member that stopped without leaving keeps them until its session \
                    times out)
                    """,
                    metadata: ["partitions": "\(shown)"])
            }
            state.reported = partitions
        }
        if behind != nil { answered() }
    }

    /// The partitions of the consumed topics outside `assignment` whose committed offset (or, never committed,
    /// where a new member would start) is short of the end.
    private func partitionsBehind(outside assignment: Set<TopicPartition>, admin: KafkaAdmin) async throws(KafkaError)
        -> [Behind]
    {
        let counts = try await admin.topics()
        let others = kafka.topics.flatMap { topic in
            (0..<Int32(counts[topic] ?? 0)).map { TopicPartition(topic, $0) }
        }.filter { !assignment.contains($0) }
        guard !others.isEmpty else { return [] }
        let committed = try await admin.committedOffsets(others)
        var behind: [Behind] = []
        for partition in others {
            let (low, high) = try await admin.watermarks(partition)
            let start = committed[partition] ?? (kafka.startPosition == .earliest ? low : high)
            if max(start, low) < high { behind.append(Behind(partition: partition, at: max(start, low), end: high)) }
        }
        return behind
    }
}
