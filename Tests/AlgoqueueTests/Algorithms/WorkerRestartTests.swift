import Testing

@testable import AlgoqueueAlgorithms

/// How the pool's state paces restarts of a worker that dies before its first answer, and when it calls the command
/// a configuration problem.
@Suite("Worker restarts")
struct WorkerRestartTests {
    @Test("deaths before a first answer back off 250 ms, doubling to 30 s; the fifth in a row names the stderr")
    func backoff() {
        var state = WorkerPoolState(workers: 1)
        let began = state.begin()
        #expect(began)
        state.stderr("Traceback (most recent call last):", slot: 0)
        state.stderr("FileNotFoundError: model.bin", slot: 0)
        var delays: [Duration] = []
        for death in 1...WorkerPoolState.brokenAfter {
            let action = state.exited(slot: 0, generation: 0, maxResends: 2)
            #expect(action.restart && action.beforeFirstAnswer)
            delays.append(action.delay)
            #expect((action.broke != nil) == (death == WorkerPoolState.brokenAfter))
        }
        #expect(delays == [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(4)])
        let failure = try? #require(state.startFailure)
        #expect(failure?.contains("exited before its first answer 5 times in a row") == true)
        #expect(failure?.hasSuffix("Traceback (most recent call last): | FileNotFoundError: model.bin") == true)
        for _ in 0..<20 { _ = state.exited(slot: 0, generation: 0, maxResends: 2) }
        #expect(state.exited(slot: 0, generation: 0, maxResends: 2).delay == WorkerPoolState.maxRestartDelay)

        // An answer ends it: the next death restarts at once, and the pool works again.
        state.answered(slot: 0)
        #expect(state.startFailure == nil)
        let action = state.exited(slot: 0, generation: 0, maxResends: 2)
        #expect(action.delay == .zero && !action.beforeFirstAnswer)
    }

    @Test("only the last lines of stderr are kept")
    func stderrTail() {
        var state = WorkerPoolState(workers: 2)
        for line in 0..<9 { state.stderr("line \(line)", slot: 1) }
        #expect(state.slots[1].stderrTail == (4..<9).map { "line \($0)" })
        #expect(state.slots[0].stderrTail.isEmpty)
    }
}
