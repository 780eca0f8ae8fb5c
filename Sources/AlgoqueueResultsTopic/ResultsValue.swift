/// What a results-topic message's value holds.
public enum ResultsValue: String, Sendable, CaseIterable {
    /// The whole row as one JSON object (what `algoqueue collect` reads).
    case row
    /// The algorithm's output alone (`{"error": "..."}` for an error row), for any Kafka consumer that wants
    /// predictions; the row's coordinates, status and algorithm are in the headers.
    case output
}
