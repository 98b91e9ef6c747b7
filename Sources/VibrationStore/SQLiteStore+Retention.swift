import GRDB
import VibrationCore

extension SQLiteStore {
    /// Rows deleted per write transaction: short enough that uploads waiting for the writer wait
    /// milliseconds, not seconds. Readers never wait (WAL).
    static let pruneBatchRows = 20_000

    public func prune(before requested: Timestamp) async throws -> PruneReport {
        let cutoff = PruneReport.effectiveCutoff(requested)
        let sensors = try await pool.read { db in try Int64.fetchAll(db, sql: "SELECT id FROM sensors") }
        var deleted = 0
        for sensor in sensors {
            while true {
                // Each sensor's old rows are the head of its run in the identity index.
                let n = try await pool.write { db in
                    try db.execute(
                        sql: """
                            DELETE FROM vibration_samples WHERE id IN (
                                SELECT id FROM vibration_samples WHERE sensor_id = ? AND collected_at < ? LIMIT ?)
                            """,
                        arguments: [sensor, cutoff.microseconds, Self.pruneBatchRows])
                    let n = db.changesCount
                    if n < Self.pruneBatchRows {
                        try db.execute(
                            sql: "DELETE FROM waveform_summary WHERE sensor_id = ? AND bucket < ?", arguments: [sensor, cutoff.microseconds])
                        try db.execute(
                            sql: "DELETE FROM recording_extents WHERE sensor_id = ? AND collected_high < ?",
                            arguments: [sensor, cutoff.microseconds])
                    }
                    return n
                }
                deleted += n
                if n < Self.pruneBatchRows { break }
            }
        }
        return PruneReport(cutoff: cutoff, samplesDeleted: deleted)
    }
}
