import AlgoqueueSupport
import Foundation
import Testing

@Suite("Test support")
struct SupportTests {
    @Test("programs the tests run wait off the concurrency pool: other tasks run meanwhile")
    func programsLeaveThePoolFree() async throws {
        // As many waiting programs as the pool has threads: were their waits on it, nothing else could run
        // until they ended (an endpoint's answer in another test would wait 3 s and meet its timeout).
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let ended = Locked(0)
        let ranWhileWaiting = Locked<Bool?>(nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<cores {
                group.addTask {
                    let result = try await runProgram("/bin/sleep", ["3"])
                    #expect(result.status == 0)
                    ended.withLock { $0 += 1 }
                }
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(100))
                ranWhileWaiting.withLock { $0 = ended.withLock { $0 } == 0 }
            }
            try await group.waitForAll()
        }
        #expect(ranWhileWaiting.withLock { $0 } == true)
    }
}
