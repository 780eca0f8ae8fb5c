import Testing

@testable import AlgoqueueFlowControl
@testable import AlgoqueuePipeline

@Suite("Stop state: the call limiter and the intake")
struct StopStateTests {
    @Test("A closed limiter refuses new and waiting acquirers; held slots stay counted until released")
    func limiterClose() async {
        let limiter = ConcurrencyLimiter(capacity: 2)
        #expect(await limiter.acquire())
        #expect(await limiter.acquire())
        #expect(limiter.inFlight == 2)
        async let waiter = limiter.acquire()
        // The waiter is queued behind the two held slots; closing must answer it with false, not hand it a slot.
        while limiter.state.withLock({ $0.waiters.count - $0.waiterHead }) == 0 { await Task.yield() }
        limiter.close()
        #expect(await waiter == false)
        #expect(await limiter.acquire() == false)
        #expect(limiter.inFlight == 2)
        limiter.release()
        limiter.release()
        #expect(limiter.inFlight == 0)
        #expect(await limiter.acquire() == false)
    }

    @Test("Release hands the slot to the first waiter in order")
    func limiterOrder() async {
        let limiter = ConcurrencyLimiter(capacity: 1)
        #expect(await limiter.acquire())
        async let first = limiter.acquire()
        while limiter.state.withLock({ $0.waiters.count }) == 0 { await Task.yield() }
        limiter.release()
        #expect(await first)
        #expect(limiter.inFlight == 1)
    }

    @Test("Closing the intake wakes sleepers early and closes registered limiters, also those registered after")
    func intakeClose() async {
        let intake = Intake()
        let before = ConcurrencyLimiter(capacity: 1)
        intake.register(before)
        async let slept = intake.sleep(for: .seconds(3600))
        while intake.state.withLock({ $0.sleepers.isEmpty }) { await Task.yield() }
        intake.close()
        #expect(await slept == false)
        #expect(intake.isClosed)
        #expect(await before.acquire() == false)
        let after = ConcurrencyLimiter(capacity: 1)
        intake.register(after)
        #expect(await after.acquire() == false)
        #expect(await intake.sleep(for: .seconds(3600)) == false)
    }

    @Test("An open intake sleeps the whole time; a cancelled sleep ends early and leaves nothing registered")
    func intakeSleep() async {
        let intake = Intake()
        #expect(await intake.sleep(for: .milliseconds(20)))
        let task = Task { await intake.sleep(for: .seconds(3600)) }
        task.cancel()
        #expect(await task.value == false)
        #expect(intake.state.withLock { $0.sleepers.isEmpty })
        intake.close()
    }
}
