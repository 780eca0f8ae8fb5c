import AlgoqueueSupport
import Testing

@Suite("Wake signal")
struct WakeSignalTests {
    @Test("a signal wakes the waiter; a timed-out or cancelled wait leaves the signal usable (no spinning)")
    func wakesAndKeepsWorking() async throws {
        let signal = WakeSignal()
        // A signal before the wait: the wait returns at once.
        signal.signal()
        await signal.wait(atMost: .seconds(600))
        // Waits that time out, many times over: each one really waits.
        let clock = ContinuousClock()
        var returns = 0
        let until = clock.now + .milliseconds(300)
        while clock.now < until {
            await signal.wait(atMost: .milliseconds(50))
            returns += 1
        }
        #expect(returns <= 7, "\(returns) waits in 300 ms of 50 ms each: the signal no longer waits")
        // After all those timeouts, a signal from another task still wakes a long wait.
        let waiter = Task { await signal.wait(atMost: .seconds(600)) }
        try await Task.sleep(for: .milliseconds(50))
        signal.signal()
        await waiter.value
        // A cancelled wait returns.
        let cancelled = Task { await signal.wait(atMost: .seconds(600)) }
        cancelled.cancel()
        await cancelled.value
    }
}
