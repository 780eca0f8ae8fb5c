import GRDB

/// Offsets of one partition, consumed again after a restart, that may already have rows.
public struct WrittenRange: Sendable, Equatable {
    /// The partition's topic.
    public var topic: String
    /// The partition.
    public var partition: Int32
    /// The group's stored next offset: where consuming resumes.
    public var from: Int64
    /// The last offset at or after `from` that has rows.
    public var through: Int64

    /// Creates a range.
    public init(topic: String, partition: Int32, from: Int64, through: Int64) {
        self.topic = topic
        self.partition = partition
        self.from = from
        self.through = through
    }
}

extension ResultsStore {
    /// For each partition the group has an offset for, the offsets from there up to the last one with rows.
    /// Rows beyond a stored offset were written for messages that finished while an earlier one had not (ordered
    /// lanes, a stop in the middle of a batch message); a restart consumes those messages again.
    public func writtenRanges(group: String) async throws(StoreError) -> [WrittenRange] {
        do {
            return try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT o.topic, o."partition", o.next_offset,
                            (SELECT MAX(r."offset") FROM results r
                             WHERE r.topic = o.topic AND r."partition" = o."partition" AND r."offset" >= o.next_offset)
                        FROM consumer_offsets o WHERE o.group_id = ?
                        """,
                    arguments: [group]
                ).compactMap { row in
                    guard let through: Int64 = row[3] else { return nil }
                    return WrittenRange(topic: row[0], partition: row[1], from: row[2], through: through)
                }
            }
        } catch {
            throw StoreError(.read, "cannot read written rows from \(configuration.path): \(Self.describe(error))")
        }
    }

    /// The (item, algorithm) pairs that have rows for the message at these coordinates.
    public func writtenRows(topic: String, partition: Int32, offset: Int64) async throws(StoreError)
        -> [(item: Int, algorithm: String)]
    {
        do {
            return try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: "SELECT item, algorithm FROM results WHERE topic = ? AND \"partition\" = ? AND \"offset\" = ?",
                    arguments: [topic, partition, offset]
                ).map { (item: $0[0], algorithm: $0[1]) }
            }
        } catch {
            throw StoreError(.read, "cannot read written rows from \(configuration.path): \(Self.describe(error))")
        }
    }

    /// Sets the group's stored offsets to `offsets` exactly, lower or higher (`algoqueue group reset`); the offsets
    /// of other partitions stay. Rows stay too: an input that has a row is not called again when it is read again.
    public func setOffsets(group: String, _ offsets: [StoredOffset]) throws(StoreError) {
        do {
            try pool.write { db in
                let now = Timestamp.now()
                for stored in offsets {
                    try db.execute(
                        sql: """
                            INSERT INTO consumer_offsets (group_id, topic, "partition", next_offset, updated_at)
                            VALUES (?, ?, ?, ?, ?)
                            ON CONFLICT (group_id, topic, "partition") DO UPDATE SET
                                next_offset = excluded.next_offset, updated_at = excluded.updated_at
                            """,
                        arguments: [group, stored.topic, stored.partition, stored.nextOffset, now])
                }
            }
        } catch {
            throw StoreError(.write, "cannot set stored offsets in \(configuration.path): \(Self.describe(error))")
        }
    }
}
