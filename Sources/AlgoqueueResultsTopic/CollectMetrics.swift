import Metrics

/// The collector's instruments, through swift-metrics (`collect --metrics-listen` serves them on `/metrics`).
package final class CollectMetrics: Sendable {
    /// Row messages written (a row published twice counts twice, as in the summary line).
    package let rows = Counter(label: "algoqueue_collect_rows_total")
    /// Result messages the broker deleted before they were read: rows that are not in this store.
    package let lost = Counter(label: "algoqueue_collect_lost_messages_total")
    /// Messages that were not result rows, passed over.
    package let malformed = Counter(label: "algoqueue_collect_malformed_messages_total")
    /// Split batches completed here.
    package let completedBatches = Counter(label: "algoqueue_collect_completed_batches_total")
    /// Partitions this collector is assigned.
    package let assignedPartitions = Gauge(label: "algoqueue_collect_assigned_partitions")
}
