import AlgoqueueKafka
import AlgoqueueStore
import Foundation

/// Rows as JSON or CSV for scripts (`results --format json|csv`).
enum RowFormatter {
    static let columns = [
        "topic", "partition", "offset", "item", "algorithm", "algorithm_version", "key", "status", "output", "error",
        "attempts", "duration_ms", "created_at", "updated_at", "output_file", "metadata", "input", "input_bytes",
        "message_timestamp", "cached_from", "traceparent", "http_status",
    ]

    /// The input as the user published it: JSON embedded as JSON, other text as a string, bytes as base64 under
    /// `input_base64` (JSON) or prefixed `base64:` (CSV).
    static func inputText(_ row: ResultRow) -> String? {
        row.input ?? row.rawInput.map { "base64:" + Data($0).base64EncodedString() }
    }

    /// One JSON object per row; `output` is embedded as JSON, not as a string.
    static func object(_ row: ResultRow) -> [String: Any] {
        var object: [String: Any] = [
            "topic": row.topic, "partition": Int(row.partition), "offset": row.offset, "item": row.item,
            "algorithm": row.algorithm, "status": row.status.rawValue, "attempts": row.attempts,
            "duration_ms": milliseconds(row.durationMilliseconds),
        ]
        object["algorithm_version"] = row.algorithmVersion ?? NSNull()
        object["key"] = row.key ?? NSNull()
        object["error"] = row.error ?? NSNull()
        object["created_at"] = row.createdAt ?? NSNull()
        object["updated_at"] = row.updatedAt ?? NSNull()
        object["output_file"] = row.outputFile ?? NSNull()
        object["output"] = embedded(row.output)
        object["metadata"] = embedded(row.metadata)
        object["input_bytes"] = row.inputBytes
        object["message_timestamp"] = row.messageTimestamp ?? NSNull()
        object["cached_from"] = row.cachedFrom ?? NSNull()
        object["traceparent"] = row.traceparent ?? NSNull()
        object["http_status"] = row.httpStatus ?? NSNull()
        if let raw = row.rawInput {
            object["input_base64"] = Data(raw).base64EncodedString()
            object["input"] = NSNull()
        } else if let input = row.input {
            let value = embedded(input)
            object["input"] = value is NSNull ? input : value
        } else {
            object["input"] = NSNull()
        }
        return object
    }

    /// JSON text as a value to embed (null when absent or not JSON).
    static func embedded(_ text: String?) -> Any {
        guard let text,
            let value = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        else {
            return NSNull()
        }
        return value
    }

    static func jsonLine(_ row: ResultRow) -> String {
        let data =
            (try? JSONSerialization.data(
                withJSONObject: object(row), options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes]))
            ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// A JSON array of the rows.
    static func json(_ rows: [ResultRow]) -> String {
        "[" + rows.map(jsonLine).joined(separator: ",\n ") + "]"
    }

    static func csvHeader() -> String { columns.joined(separator: ",") }

    /// A duration in milliseconds to the microsecond (`8.41`, not `8.409692999999999`).
    static func milliseconds(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }

    static func csvLine(_ row: ResultRow) -> String {
        let values: [String?] = [
            row.topic, String(row.partition), String(row.offset), String(row.item), row.algorithm, row.algorithmVersion,
            row.key, row.status.rawValue, row.output, row.error, String(row.attempts),
            String(milliseconds(row.durationMilliseconds)),
            row.createdAt, row.updatedAt, row.outputFile, row.metadata, inputText(row), String(row.inputBytes),
            row.messageTimestamp, row.cachedFrom, row.traceparent, row.httpStatus.map(String.init),
        ]
        return values.map { csvField($0 ?? "") }.joined(separator: ",")
    }

    /// RFC 4180: quoted when it holds a comma, quote or line break; quotes doubled.
    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// `stats` output.
enum StatsReport {
    static func render(_ stats: StoreStatistics, lag: LagReport, database: String, format: OutputFormat) -> String {
        switch format {
        case .json: return json(stats, lag: lag, database: database)
        case .csv: return csv(stats, lag: lag, database: database)
        case .table: break
        }
        var lines = ["rows: \(stats.total)"]
        for count in stats.counts { lines.append("  \(count.algorithm) \(count.status): \(count.rows)") }
        lines.append(String(format: "throughput: %.1f rows/s", stats.rowsPerSecond))
        let p50 = stats.p50Milliseconds.map { String(format: "%.1f ms", $0) } ?? "-"
        let p99 = stats.p99Milliseconds.map { String(format: "%.1f ms", $0) } ?? "-"
        lines.append("latency of ok rows: p50 \(p50), p99 \(p99)")
        if stats.cached > 0 { lines.append("answered from the cache (no call): \(stats.cached)") }
        if let absence = lag.absence(database: database) {
            lines.append("lag (group \(lag.group)): \(absence)")
        } else {
            lines.append("lag (group \(lag.group)): \(lag.total) message(s)")
            for entry in lag.entries { lines.append("  \(entry.partition): \(entry.lag)") }
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ stats: StoreStatistics, lag: LagReport, database: String) -> String {
        var object: [String: Any] = [
            "rows": stats.total,
            "counts": stats.counts.map { ["algorithm": $0.algorithm, "status": $0.status, "rows": $0.rows] },
            "rows_per_second": stats.rowsPerSecond,
            "p50_ms": stats.p50Milliseconds ?? NSNull(), "p99_ms": stats.p99Milliseconds ?? NSNull(),
            "group": lag.group, "cached": stats.cached,
            "lag": lag.entries.map {
                ["topic": $0.partition.topic, "partition": Int($0.partition.partition), "lag": $0.lag]
            },
        ]
        object["lag_note"] = lag.absence(database: database) ?? NSNull()
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// One figure per line: `figure,algorithm,status,topic,partition,value`, empty where a column does not apply; a
    /// `lag_note` line says why there is no lag when there is none.
    static func csv(_ stats: StoreStatistics, lag: LagReport, database: String) -> String {
        var lines = ["figure,algorithm,status,group,topic,partition,value", "rows,,,,,,\(stats.total)"]
        let field = RowFormatter.csvField
        for count in stats.counts {
            lines.append("rows,\(field(count.algorithm)),\(field(count.status)),,,,\(count.rows)")
        }
        lines.append(String(format: "rows_per_second,,,,,,%.3f", stats.rowsPerSecond))
        lines.append("cached,,,,,,\(stats.cached)")
        if let p50 = stats.p50Milliseconds { lines.append(String(format: "p50_ms,,,,,,%.3f", p50)) }
        if let p99 = stats.p99Milliseconds { lines.append(String(format: "p99_ms,,,,,,%.3f", p99)) }
        for entry in lag.entries {
            lines.append(
                "lag,,,\(field(lag.group)),\(field(entry.partition.topic)),\(entry.partition.partition),\(entry.lag)")
        }
        // No lag to show: why, as the table says it (value holds the sentence).
        if let absence = lag.absence(database: database) {
            lines.append("lag_note,,,\(field(lag.group)),,,\(field(absence))")
        }
        return lines.joined(separator: "\n")
    }
}
