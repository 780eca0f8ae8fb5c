/// When to wake librdkafka's fetcher, asleep with messages still to fetch.
///
/// librdkafka 2.0.2 stops fetching once `queued.min.messages` (by default 100 000) wait in the consumer's queue, all
/// partitions together, and the broker thread that fetches then sleeps until a request or an answer of its own wakes
/// it, up to a second (librdkafka 2.1 made that wait a setting, `fetch.queue.backoff.ms`). A pipeline that takes
/// those messages in less than a second waited out the rest with nothing to do: micro-batches of a 400 000-message
/// backlog were held near 125 000 messages/s, with a gap of 0.4-0.5 s in every second. When the queue was seen
/// that full and a poll then finds it empty, the poll loop asks each assigned partition's leader for its offsets:
/// the request wakes that broker's thread, which then sees the queue empty and fetches at once. (Pausing and
/// resuming does not: librdkafka serves those on another thread, and drops what is queued.)
///
/// The fetcher stops as well once the queue holds `queued.max.messages.kbytes`: with messages of 700 bytes (a
/// results topic's rows) that comes at about 48 000 messages, long before the count. librdkafka tells the queue's
/// length in messages only, so the byte limit is turned into messages with the average size of the messages
/// delivered so far.
struct FetcherWake {
    /// librdkafka's `queued.min.messages`: where its fetcher stops.
    let limit: Int
    /// librdkafka's `queued.max.messages.kbytes`, in bytes: where its fetcher stops too.
    let byteLimit: Int
    /// The queue was seen within one hand-over of its limit since the last wake-up: the fetcher may have stopped.
    private(set) var mayHaveStopped = false
    /// Messages delivered so far, and their bytes: their average size turns `byteLimit` into messages.
    private var delivered = (messages: 0, bytes: 0)

    /// `kilobytes`: `queued.max.messages.kbytes` as algoqueue sets it, unless `properties` sets it.
    init(properties: [String: String], kilobytes: Int) {
        limit = properties["queued.min.messages"].flatMap { Int($0) } ?? 100_000
        byteLimit = (properties["queued.max.messages.kbytes"].flatMap { Int($0) } ?? kilobytes) * 1024
    }

    /// The queue length, in messages, at which the fetcher stops: the count, or the bytes at the average size seen.
    var effectiveLimit: Int {
        guard delivered.messages > 0 else { return limit }
        return max(1, min(limit, byteLimit / max(1, delivered.bytes / delivered.messages)))
    }

    /// Counts messages handed over, with their bytes.
    mutating func delivered(messages: Int, bytes: Int) {
        delivered.messages += messages
        delivered.bytes += bytes
    }

    /// Notes the length of the consumer's queue, read between two hand-overs of up to `handOver` messages (so
    /// it may have been that much longer just before). A stop is always seen for a limit of two hand-overs or more
    /// (1 000 messages); below that one may go unseen, and the fetcher then sleeps as it would have.
    mutating func saw(queued: Int, handOver: Int) {
        let limit = effectiveLimit
        if queued >= limit - min(handOver, limit / 2) { mayHaveStopped = true }
    }

    /// Whether a poll that found nothing should wake the fetcher (then not again until the queue fills again).
    mutating func shouldWake(paused: Bool, assigned: Bool) -> Bool {
        guard mayHaveStopped, !paused, assigned else { return false }
        mayHaveStopped = false
        return true
    }
}
