/// What the poll loop does next about the messages consumed but not yet released (their rows not yet durable).
///
/// Up to a quarter of the buffer limit it polls. Above a quarter it first *holds*: it leaves new messages in
/// librdkafka's prefetch queue for up to ``holdLimit``, looking again whenever the pipeline hands room back
/// (``HoldWake``). librdkafka stops fetching at `queued.min.messages` and keeps what it has, where a pause drops its prefetch
/// and fetches it again; and held messages wait in librdkafka's compact form, not also as Swift copies. A pipeline
/// that drains the buffer within a hold never pauses. A slower one polls again after the hold, fills the buffer to
/// the limit and is paused there; it is resumed at half, and the next hold starts from there.
/// Commits and closing are served while holding; rebalance callbacks wait for the next poll, at most one hold.
struct ConsumerFlowControl {
    enum Step: Equatable {
        case poll, hold, pause, resume
    }

    /// How long one hold may last before the loop takes messages again.
    static let holdLimit: Duration = .seconds(1)

    let maxMessages: Int
    let maxBytes: Int
    /// When the current hold began (nil: not holding, or below a quarter since the last hold).
    private(set) var holdingSince: ContinuousClock.Instant?

    init(maxMessages: Int, maxBytes: Int) {
        self.maxMessages = max(1, maxMessages)
        self.maxBytes = max(1, maxBytes)
    }

    mutating func step(
        messages: Int, bytes: Int, paused: Bool, assigned: Bool, now: ContinuousClock.Instant
    ) -> Step {
        if paused {
            guard messages <= maxMessages / 2, bytes <= maxBytes / 2 else { return .poll }
            holdingSince = nil
            return .resume
        }
        guard assigned else { return .poll }
        if messages >= maxMessages || bytes >= maxBytes { return .pause }
        guard messages >= max(1, maxMessages / 4) || bytes >= max(1, maxBytes / 4) else {
            holdingSince = nil
            return .poll
        }
        let since = holdingSince ?? now
        holdingSince = since
        return now - since < Self.holdLimit ? .hold : .poll
    }
}
