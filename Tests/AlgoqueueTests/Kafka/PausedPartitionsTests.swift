import Testing

@testable import AlgoqueueKafka

@Suite("Paused partitions: only what was paused is resumed")
struct PausedPartitionsTests {
    let a = TopicPartition("t", 0)
    let b = TopicPartition("t", 1)
    let c = TopicPartition("t", 2)

    @Test("a partition never paused is never resumed, across rebalances (librdkafka 4636: stale offsets)")
    func neverResumesUnpaused() {
        var pauses = PausedPartitions()
        // A fresh assignment with nothing paused: nothing to resume (the old code resumed every new assignment).
        #expect(pauses.assigned([a, b]) == ([], []))
        #expect(pauses.pause([a, b]) == [a, b])
        // b is revoked while paused and comes back later: librdkafka kept it paused.
        #expect(pauses.resume([a]) == [a])
        #expect(pauses.paused == [b])
        // c is new: not resumed; b comes back paused from before: resumed.
        #expect(pauses.assigned([b, c]) == ([], [b]))
        #expect(pauses.paused.isEmpty)
        #expect(pauses.resume([a, b, c]).isEmpty)
    }

    @Test("partitions assigned while flow control holds the rest paused are paused too, and resumed with them")
    func assignedWhilePaused() {
        var pauses = PausedPartitions()
        _ = pauses.assigned([a])
        #expect(pauses.pause([a]) == [a])
        // Cooperative rebalance: b joins a paused assignment.
        #expect(pauses.assigned([b]) == ([b], []))
        #expect(pauses.isPaused)
        #expect(pauses.resume([a, b]) == [a, b])
        #expect(!pauses.isPaused)
    }
}
