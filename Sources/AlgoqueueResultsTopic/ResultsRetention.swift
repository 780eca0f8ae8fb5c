import AlgoqueueSupport

/// Whether a results topic keeps its messages long enough to be collected: a broker deletes what is older than the
/// topic's `retention.ms` (or beyond its `retention.bytes` per partition), collected or not, and `collect` can then
/// only count what it lost.
public enum ResultsRetention {
    /// The default of `results.min_retention`: a week, Kafka's own default retention.
    public static let defaultMinimum = Duration.seconds(7 * 86_400)

    /// What to warn about in `topic`'s configuration (as the broker describes it): a time retention shorter than
    /// `minimum`, and a size retention, which deletes whatever the age. Nothing for an unlimited retention (`-1`).
    public static func warnings(topic: String, configuration: [String: String], minimum: Duration) -> [String] {
        var warnings: [String] = []
        if let text = configuration["retention.ms"], let milliseconds = Int64(text), milliseconds >= 0,
            milliseconds < minimum.milliseconds
        {
            let kept = Duration.milliseconds(milliseconds)
            warnings.append(
                "the results topic \(topic) keeps messages for \(kept.text) (retention.ms=\(milliseconds)), less than "
                    + "results.min_retention (\(minimum.text)): rows not collected within that are deleted, and "
                    + "collect can only count them as lost. Raise the topic's retention.ms, or lower "
                    + "results.min_retention if collect runs more often than that")
        }
        if let text = configuration["retention.bytes"], let bytes = Int64(text), bytes >= 0 {
            warnings.append(
                "the results topic \(topic) deletes its oldest messages beyond \(bytes) bytes per partition "
                    + "(retention.bytes), whatever their age: collect before a partition holds that much, or set "
                    + "retention.bytes=-1")
        }
        return warnings
    }
}
