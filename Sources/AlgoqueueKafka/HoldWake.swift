import AlgoqueueSupport
import Foundation

/// Wakes the consumer's poll thread from a hold (``ConsumerFlowControl``) when the pipeline hands buffer room back
/// or the consumer is asked to close, instead of the thread looking again and again.
///
/// `@unchecked Sendable`: `signalled` is read and written under `condition`'s lock only.
final class HoldWake: @unchecked Sendable {
    private let condition = NSCondition()
    private var signalled = false

    /// Wakes a thread waiting in ``wait(atMost:)``, or the next one to wait.
    func signal() {
        condition.lock()
        signalled = true
        condition.signal()
        condition.unlock()
    }

    /// Waits until signalled since the last wait, or until `limit` has passed.
    func wait(atMost limit: Duration) {
        condition.lock()
        defer {
            signalled = false
            condition.unlock()
        }
        if signalled { return }
        _ = condition.wait(until: Date(timeIntervalSinceNow: limit.seconds))
    }
}
