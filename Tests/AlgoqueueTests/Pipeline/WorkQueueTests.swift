import AlgoqueueKafka
import Testing

@testable import AlgoqueuePipeline

@Suite("The queue call workers take messages from")
struct WorkQueueTests {
    func work(_ offset: Int64) -> OrderingLanes.Work {
        OrderingLanes.Work(message: KafkaMessage(topic: "t", partition: 0, offset: offset, value: []), generation: 1)
    }

    @Test("in order; a full queue holds the producer until workers have taken half; a waiting worker gets the next put")
    func orderAndRoom() async throws {
        let queue = WorkQueue(bound: 4)
        for offset in 0..<4 { await queue.put(work(Int64(offset))) }
        let fifth = Task { await queue.put(work(4)) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(queue.state.withLock { $0.count } == 4, "the fifth waits for room")
        #expect(await queue.next()?.message.offset == 0)
        #expect(await queue.next()?.message.offset == 1)
        await fifth.value
        var taken: [Int64] = []
        for _ in 0..<3 { taken.append(await queue.next()?.message.offset ?? -1) }
        #expect(taken == [2, 3, 4])
        // An empty queue: the worker waits, and the next message goes straight to it.
        let waiting = Task { await queue.next()?.message.offset }
        while queue.state.withLock({ $0.takers.isEmpty }) { await Task.yield() }
        await queue.put(work(5))
        #expect(await waiting.value == 5)
    }

    @Test("closing wakes waiting workers and a waiting producer, drops what waits, and refuses what comes after")
    func close() async throws {
        let full = WorkQueue(bound: 4)
        for offset in 0..<4 { await full.put(work(Int64(offset))) }
        let producer = Task { await full.put(work(4)) }
        while full.state.withLock({ $0.producer == nil }) { await Task.yield() }
        full.close()
        await producer.value
        #expect(await full.next() == nil)

        let empty = WorkQueue(bound: 4)
        let workers = (0..<3).map { _ in Task { await empty.next() } }
        while empty.state.withLock({ $0.takers.count < 3 }) { await Task.yield() }
        empty.close()
        for worker in workers { #expect(await worker.value == nil) }
        await empty.put(work(9))
        #expect(await empty.next() == nil)
    }
}
