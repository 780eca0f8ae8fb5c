import AlgoqueueKafka
import AlgoqueueResultsTopic
import AlgoqueueStore
import AlgoqueueSupport
import Logging
import Synchronization

/// The single writer of the results store, with group commit: whatever completed while the previous
/// transaction was being written goes into the next one, together with the offsets it makes durable.
package final class ResultWriter: Sendable {
    package struct State {
        package var pending: [CompletedMessage] = []
        package var closed = false
    }

    package let store: ResultsStore
    package let group: String
    /// Which offsets each transaction stores (and, once durable, commits to Kafka).
    package let committer: OffsetCommitter
    package let maxRows: Int
    /// The least time between two transactions while fewer than `maxRows` rows wait: rows arriving meanwhile join
    /// the next one (fewer, larger commits, each one fsync). The pause ends early once `maxRows` rows wait, and is
    /// not taken after a transaction of half `maxRows` or more (the writer is then what the rows wait for).
    package let commitInterval: Duration
    /// Told how long each transaction took (the pipeline's commit-duration metric).
    package let recordCommit: @Sendable (Duration) -> Void
    package let logger: Logger
    package let state = Mutex(State())
    /// The rows of `state.pending`, readable without the lock (asked before every call).
    package let pendingRows = Atomic(0)
    /// Where written rows are also queued for the results topic (nil: no results topic).
    package let publisher: ResultsPublisher?
    package let wake: AsyncStream<Void>.Continuation
    package let wakes: AsyncStream<Void>
    /// Signalled when the rows waiting reach `maxRows`: a pause between transactions ends.
    package let full = WakeSignal()
    /// Signalled when a transaction's rows leave the queue (and at ``close()``): calls waiting while the writer
    /// ``isBehind`` look again.
    package let caughtUp = Broadcast()

    package init(
        store: ResultsStore, group: String, committer: OffsetCommitter, maxRows: Int,
        commitInterval: Duration = .zero, recordCommit: @escaping @Sendable (Duration) -> Void = { _ in },
        publisher: ResultsPublisher? = nil, logger: Logger
    ) {
        self.publisher = publisher
        self.commitInterval = commitInterval
        self.recordCommit = recordCommit
        self.store = store
        self.group = group
        self.committer = committer
        self.maxRows = max(1, maxRows)
        self.logger = logger
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues one message's rows for the next transaction.
    package func submit(_ message: CompletedMessage) {
        state.withLock { $0.pending.append(message) }
        added(message.rows.count)
    }

    /// Queues several messages' rows at once.
    package func submit(contentsOf messages: [CompletedMessage]) {
        state.withLock { $0.pending.append(contentsOf: messages) }
        added(messages.reduce(0) { $0 + $1.rows.count })
    }

    private func added(_ rows: Int) {
        let (before, after) = pendingRows.add(rows, ordering: .relaxed)
        wake.yield()
        if before < maxRows, after >= maxRows { full.signal() }
    }

    /// Rows waiting for a transaction reach ``transactionsAhead`` transactions' worth: the store is what holds the
    /// pipeline back. New calls then wait (see `Pipeline.waitForWriter`), so that inputs wait as compact messages,
    /// and the writer still has its next transaction ready, instead of as rows (several times their size) here.
    package var isBehind: Bool { pendingRows.load(ordering: .relaxed) >= Self.transactionsAhead * maxRows }

    /// How many transactions' worth of rows may wait before new calls wait. Two rather than four took the peak
    /// resident set of a 200 000-message backlog from 101-106 MB to 96-99 MB at the same rate (within noise).
    package static let transactionsAhead = 2

    /// Writes until ``close()`` and the queue is empty, reporting each durable batch, in order.
    /// Throws the first write failure; nothing after it is written and no offset moves past it.
    ///
    /// `onDurable` runs in a task of its own, beside the next transaction: the writer is the pipeline's one serial
    /// stage, and committing offsets, counting rows and freeing them need not hold it. Returns once every durable
    /// batch has been reported.
    package func run(onDurable: @escaping @Sendable (DurableBatch) -> Void) async throws(StoreError) {
        let (durable, reported) = AsyncStream.makeStream(of: DurableBatch.self)
        let written = await withTaskGroup(of: Void.self) { reporter -> Result<Void, StoreError> in
            reporter.addTask {
                for await batch in durable { onDurable(batch) }
            }
            let written: Result<Void, StoreError>
            do throws(StoreError) {
                try await write { reported.yield($0) }
                written = .success(())
            } catch {
                written = .failure(error)
            }
            reported.finish()
            await reporter.waitForAll()
            return written
        }
        try written.get()
    }

    private func write(_ durable: (DurableBatch) -> Void) async throws(StoreError) {
        let clock = ContinuousClock()
        var lastWrite = clock.now - commitInterval
        var lastRows = 0
        for await _ in wakes {
            while true {
                guard state.withLock({ !$0.pending.isEmpty }) else { break }
                // Few rows wait after a small transaction: give others up to the commit interval to join them, until
                // a full transaction waits (or the writer is closed). After a transaction of half maxRows or more, rows
                // come as fast as the writer writes: a pause would leave it idle with rows waiting, for a few percent
                // less work per row, and hold the last rows of a burst for the whole interval.
                let due = lastWrite + commitInterval
                while lastRows * 2 < maxRows, pendingRows.load(ordering: .relaxed) < maxRows, clock.now < due,
                    !isClosed
                {
                    await full.wait(atMost: due - clock.now)
                }
                // A full results outbox holds writes back: messages stay unreleased and the consumer pauses.
                await publisher?.waitForRoom { self.isClosed }
                guard let batch = takeBatch() else { break }
                caughtUp.signal()
                lastWrite = clock.now
                let offsets = committer.offsetsToStore(batch)
                let outbox =
                    publisher == nil
                    ? nil : batch.flatMap { message in Array(repeating: message.splitInfo, count: message.rows.count) }
                // Each message's rows as they are (an array shared, not a row copied or moved).
                let rows = batch.map(\.rows)
                lastRows = rows.reduce(0) { $0 + $1.count }
                let started = ContinuousClock.now
                let (completed, queued) = try await store.write(
                    rowGroups: rows,
                    offsets: offsets.map {
                        StoredOffset(topic: $0.key.topic, partition: $0.key.partition, nextOffset: $0.value)
                    },
                    group: group, splits: batch.compactMap(\.split), writtenChunks: batch.compactMap(\.chunk),
                    queueing: outbox)
                publisher?.written(queued)
                recordCommit(ContinuousClock.now - started)
                durable(
                    DurableBatch(
                        messages: batch.count, bytes: batch.reduce(0) { $0 + $1.byteCount }, rows: rows,
                        offsets: offsets,
                        completed: completed))
            }
            if state.withLock({ $0.closed && $0.pending.isEmpty }) { return }
        }
    }

    /// Takes up to `maxRows` rows' worth of completed messages (at least one message).
    private func takeBatch() -> [CompletedMessage]? {
        state.withLock { state in
            guard !state.pending.isEmpty else { return nil }
            var rows = 0
            var count = 0
            while count < state.pending.count, count == 0 || rows + state.pending[count].rows.count <= maxRows {
                rows += state.pending[count].rows.count
                count += 1
            }
            pendingRows.subtract(rows, ordering: .relaxed)
            // All of it: the queue's storage is handed over as it is, no message copied.
            if count == state.pending.count {
                var all: [CompletedMessage] = []
                swap(&all, &state.pending)
                return all
            }
            let batch = Array(state.pending.prefix(count))
            state.pending.removeFirst(count)
            return batch
        }
    }

    private var isClosed: Bool { state.withLock { $0.closed } }

    /// Lets ``run(onDurable:)`` return once everything queued is written.
    package func close() {
        state.withLock { $0.closed = true }
        wake.yield()
        wake.finish()
        full.signal()
        caughtUp.signal()
        publisher?.room.signal()
    }
}
