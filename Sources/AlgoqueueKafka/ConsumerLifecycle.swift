/// Where a ``KafkaConsumer`` is in its life: created, subscribing, polling, closing, closed.
///
/// Each method is called under the consumer's lock and returns what the caller must do once it has unlocked:
/// resume waiters, start the poll thread, finish the event stream. Nothing here blocks or resumes anything.
struct ConsumerLifecycle {
    typealias Waiter = CheckedContinuation<Void, Never>

    enum State {
        /// Created; nothing subscribed, no thread.
        case idle
        /// `start()` is subscribing. `closeWaiters` are those who called `close()` meanwhile.
        case subscribing(closeWaiters: [Waiter])
        /// The poll thread runs.
        case polling
        /// The poll thread has been asked to close; it resumes these when the consumer has left the group.
        case closing(closeWaiters: [Waiter])
        /// Done: the event stream is finished.
        case closed
    }

    private(set) var state = State.idle
    /// A close without a waiter (``close(_:)`` with nil) came while subscribing.
    private(set) var closeRequested = false

    enum StartAction: Equatable {
        /// Subscribe, then report with ``subscribed()`` or ``subscribeFailed()``.
        case subscribe
        /// Already started: nothing to do.
        case none
        /// Closed (or closing) before it started: refuse.
        case refuseClosed
    }

    mutating func start() -> StartAction {
        switch state {
        case .idle:
            state = .subscribing(closeWaiters: [])
            return .subscribe
        case .subscribing, .polling: return .none
        case .closing, .closed: return .refuseClosed
        }
    }

    enum SubscribedAction: Equatable {
        /// Start the poll thread.
        case startPolling
        /// `close()` came while subscribing: start the poll thread all the same, so that it leaves the group
        /// cleanly (it sees the close at once).
        case startPollingToClose
    }

    mutating func subscribed() -> SubscribedAction {
        guard case .subscribing(let waiters) = state else {
            preconditionFailure("subscribed() outside subscribing: \(state)")
        }
        if waiters.isEmpty, !closeRequested {
            state = .polling
            return .startPolling
        }
        state = .closing(closeWaiters: waiters)
        return .startPollingToClose
    }

    /// Subscribing failed: the consumer is closed. Finish the event stream, then resume the returned waiters.
    mutating func subscribeFailed() -> [Waiter] {
        guard case .subscribing(let waiters) = state else {
            preconditionFailure("subscribeFailed() outside subscribing: \(state)")
        }
        state = .closed
        return waiters
    }

    enum CloseAction {
        /// Never started (or already closed): finish the event stream if `finishEvents`, resume the waiter now.
        case resumeNow(finishEvents: Bool)
        /// The poll thread or `start()` will resume the waiter.
        case wait
    }

    /// Closes, with `waiter` to resume once closed; nil asks for the close without waiting for it (a graceful
    /// shutdown handler, which cannot wait).
    mutating func close(_ waiter: Waiter?) -> CloseAction {
        switch state {
        case .idle:
            state = .closed
            return .resumeNow(finishEvents: true)
        case .subscribing(var waiters):
            if let waiter { waiters.append(waiter) } else { closeRequested = true }
            state = .subscribing(closeWaiters: waiters)
            return .wait
        case .polling:
            state = .closing(closeWaiters: waiter.map { [$0] } ?? [])
            return .wait
        case .closing(var waiters):
            if let waiter { waiters.append(waiter) }
            state = .closing(closeWaiters: waiters)
            return .wait
        case .closed:
            return .resumeNow(finishEvents: false)
        }
    }

    /// Whether the poll thread should close now.
    var isClosing: Bool {
        if case .closing = state { true } else { false }
    }

    /// The poll thread has left the group: the consumer is closed. Finish the event stream, then resume these.
    mutating func pollingEnded() -> [Waiter] {
        switch state {
        case .closing(let waiters):
            state = .closed
            return waiters
        case .polling:
            state = .closed
            return []
        case .idle, .subscribing, .closed:
            preconditionFailure("pollingEnded() without a poll thread: \(state)")
        }
    }
}
