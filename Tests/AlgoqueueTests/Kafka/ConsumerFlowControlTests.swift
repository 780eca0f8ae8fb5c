import Testing

@testable import AlgoqueueKafka

@Suite("Consumer flow control")
struct ConsumerFlowControlTests {
    let start = ContinuousClock().now

    @Test("below a quarter of the buffer it polls; above, it holds for at most the hold limit, then polls")
    func holdsThenPolls() {
        var flow = ConsumerFlowControl(maxMessages: 100, maxBytes: 1 << 20)
        #expect(flow.step(messages: 24, bytes: 0, paused: false, assigned: true, now: start) == .poll)
        #expect(flow.step(messages: 25, bytes: 0, paused: false, assigned: true, now: start) == .hold)
        let almost = start + ConsumerFlowControl.holdLimit - .milliseconds(1)
        #expect(flow.step(messages: 60, bytes: 0, paused: false, assigned: true, now: almost) == .hold)
        let over = start + ConsumerFlowControl.holdLimit
        #expect(flow.step(messages: 60, bytes: 0, paused: false, assigned: true, now: over) == .poll)
        // Still above a quarter: the hold is spent, it keeps polling.
        #expect(flow.step(messages: 30, bytes: 0, paused: false, assigned: true, now: over + .seconds(5)) == .poll)
        // Caught up below a quarter: the next rise holds again.
        #expect(flow.step(messages: 10, bytes: 0, paused: false, assigned: true, now: over + .seconds(6)) == .poll)
        #expect(flow.step(messages: 40, bytes: 0, paused: false, assigned: true, now: over + .seconds(7)) == .hold)
    }

    @Test("bytes count like messages: a quarter of the byte limit holds, the whole limit pauses")
    func bytesHoldAndPause() {
        var flow = ConsumerFlowControl(maxMessages: 100_000, maxBytes: 4000)
        #expect(flow.step(messages: 3, bytes: 999, paused: false, assigned: true, now: start) == .poll)
        #expect(flow.step(messages: 3, bytes: 1000, paused: false, assigned: true, now: start) == .hold)
        #expect(flow.step(messages: 3, bytes: 4000, paused: false, assigned: true, now: start) == .pause)
    }

    @Test("at the limit it pauses; it resumes at half, and a new hold starts after the resume")
    func pausesAndResumes() {
        var flow = ConsumerFlowControl(maxMessages: 100, maxBytes: 1 << 20)
        #expect(flow.step(messages: 30, bytes: 0, paused: false, assigned: true, now: start) == .hold)
        let later = start + .seconds(2)
        #expect(flow.step(messages: 100, bytes: 0, paused: false, assigned: true, now: later) == .pause)
        #expect(flow.step(messages: 51, bytes: 0, paused: true, assigned: true, now: later) == .poll)
        #expect(flow.step(messages: 50, bytes: 0, paused: true, assigned: true, now: later) == .resume)
        #expect(flow.step(messages: 50, bytes: 0, paused: false, assigned: true, now: later) == .hold)
    }

    @Test("with no partitions assigned it neither holds nor pauses: rebalance callbacks need the poll")
    func unassignedPolls() {
        var flow = ConsumerFlowControl(maxMessages: 100, maxBytes: 1 << 20)
        #expect(flow.step(messages: 50, bytes: 0, paused: false, assigned: false, now: start) == .poll)
        #expect(flow.step(messages: 500, bytes: 0, paused: false, assigned: false, now: start) == .poll)
    }

    @Test("a buffer of one message still pauses at one and never holds below it")
    func tinyBuffer() {
        var flow = ConsumerFlowControl(maxMessages: 1, maxBytes: 1 << 20)
        #expect(flow.step(messages: 0, bytes: 0, paused: false, assigned: true, now: start) == .poll)
        #expect(flow.step(messages: 1, bytes: 0, paused: false, assigned: true, now: start) == .pause)
    }
}
