import Foundation
import PostgresNIO
import VibrationCore

extension PostgresStore {
    /// Whole months before the cutoff go as partitions (no row is visited); the rest of the month
    /// the cutoff falls in is deleted row by row.
    public func prune(before requested: Timestamp) async throws -> PruneReport {
        let cutoff = PruneReport.effectiveCutoff(requested)
        return try await writing { connection in
            var partitions: [(name: String, end: Timestamp)] = []
            let rows = try await connection.query(
                """
                SELECT c.relname::text,
                       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz
                FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'vibration_data'::regclass
                """, logger: logger)
            for try await (name, end) in rows.decode((String, Timestamp?).self) {
                if let end { partitions.append((name, end)) }
            }
            // The summary counts every sample by 100-second bucket, and the cutoff is on a bucket
            // edge: the count of what goes is read there, not from the rows.
            let deleted = try await connection.query(
                """
                SELECT coalesce(sum(n), 0)::bigint FROM waveform_summary
                WHERE level = \(WaveformSummary.levels.count - 1) AND bucket < \(cutoff.microseconds)
                """, logger: logger
            ).first(Int64.self).map { Int($0) } ?? 0
            var dropped: [String] = []
            for partition in partitions.sorted(by: { $0.end < $1.end }) where partition.end <= cutoff {
                try await connection.query("DROP TABLE \(unescaped: "\"\(partition.name)\"")", logger: logger)
                dropped.append(partition.name)
            }
            try await connection.query("DELETE FROM vibration_data WHERE collected_at < \(cutoff)", logger: logger)
            try await connection.query("DELETE FROM waveform_summary WHERE bucket < \(cutoff.microseconds)", logger: logger)
            try await connection.query("DELETE FROM recording_extents WHERE collected_high < \(cutoff.microseconds)", logger: logger)
            return PruneReport(cutoff: cutoff, samplesDeleted: deleted, partitionsDropped: dropped)
        }
    }
}
