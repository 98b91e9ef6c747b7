import GRDB
import GRDBSQLite
import VibrationCore

extension SQLiteStore {
    public func ingest<Batches: AsyncSequence>(
        _ batches: Batches, committed: @Sendable (SampleBatch, IngestCounts) -> Void
    ) async throws -> IngestCounts where Batches.Element == SampleBatch {
        var sensorIDs: [Int64] = []
        var total = IngestCounts()
        let fresh = self.fresh
        for try await batch in batches {
            let known = sensorIDs
            let (ids, counts) = try await pool.write { db in
                let ids = try Self.resolveStreams(batch, known: known, db)
                return (ids, try Self.insertRows(of: batch, sensorIDs: ids, db, handingTo: fresh))
            }
            sensorIDs = ids
            total += counts
            committed(batch, counts)
        }
        return total
    }

    public func ingestAtomically(_ batches: [SampleBatch]) async throws -> IngestCounts {
        let fresh = self.fresh
        return try await pool.write { db in
            var ids: [Int64] = []
            var total = IngestCounts()
            for batch in batches {
                ids = try Self.resolveStreams(batch, known: ids, db)
                total += try Self.insertRows(of: batch, sensorIDs: ids, db, handingTo: fresh)
            }
            return total
        }
    }

    /// The sensor ids of the parser's streams so far: the known ones plus the batch's new ones.
    static func resolveStreams(_ batch: SampleBatch, known: [Int64], _ db: Database) throws -> [Int64] {
        var ids = known
        for key in batch.newStreams {
            ids.append(try sensorID(db, machineName: key.machineName, sensorNo: key.sensorNo))
        }
        return ids
    }

    static let insertSampleSQL = """
        INSERT INTO vibration_samples
            (sensor_id, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness)
        VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
        """

    /// One prepared statement, bound and stepped per row through the C API: no allocation per row.
    /// With `fresh` recording, the rows stored are handed to it when the transaction commits.
    static func insertRows(
        of batch: SampleBatch, sensorIDs: [Int64], _ db: Database, handingTo fresh: FreshSamples? = nil
    ) throws -> IngestCounts {
        let statement = try db.cachedStatement(sql: insertSampleSQL)
        let stmt = statement.sqliteStatement
        let connection = db.sqliteConnection
        var inserted = 0
        let recording = fresh?.enabled ?? false
        var firstID: Int64 = 0
        var consecutive = true
        var skipped: [Int32] = []
        var summary = WaveformSummary.Accumulator()
        try sensorIDs.withUnsafeBufferPointer { ids in
            try batch.stream.withUnsafeBufferPointer { stream in
                try batch.collectedAt.withUnsafeBufferPointer { collectedAt in
                    try batch.measuredTime.withUnsafeBufferPointer { measuredTime in
                        try batch.normal.withUnsafeBufferPointer { normal in
                            try batch.unbalance.withUnsafeBufferPointer { unbalance in
                                try batch.looseness.withUnsafeBufferPointer { looseness in
                                    try batch.unbalanceLooseness.withUnsafeBufferPointer { both in
                                        for i in 0..<stream.count {
                                            sqlite3_bind_int64(stmt, 1, ids[Int(stream[i])])
                                            sqlite3_bind_int64(stmt, 2, collectedAt[i])
                                            sqlite3_bind_double(stmt, 3, measuredTime[i])
                                            sqlite3_bind_double(stmt, 4, normal[i])
                                            sqlite3_bind_double(stmt, 5, unbalance[i])
                                            sqlite3_bind_double(stmt, 6, looseness[i])
                                            sqlite3_bind_double(stmt, 7, both[i])
                                            let code = sqlite3_step(stmt)
                                            sqlite3_reset(stmt)
                                            guard code == SQLITE_DONE else { throw stepError(code, db, sql: insertSampleSQL) }
                                            if sqlite3_changes(connection) == 1 {
                                                if recording {
                                                    let id = sqlite3_last_insert_rowid(connection)
                                                    if inserted == 0 {
                                                        firstID = id
                                                    } else if id != firstID + Int64(inserted) {
                                                        consecutive = false
                                                    }
                                                }
                                                inserted += 1
                                                summary.add(
                                                    sensor: ids[Int(stream[i])], at: collectedAt[i],
                                                    SIMD4(normal[i], unbalance[i], looseness[i], both[i]))
                                            } else if recording {
                                                skipped.append(Int32(i))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        try summary.write(db)
        // Rows numbered other than one after another are not handed over: the engine reads them.
        if let fresh, recording, consecutive, inserted > 0 {
            let run = FreshSamples.Run(firstID: firstID, count: inserted, batch: batch, sensorIDs: sensorIDs, skipped: skipped)
            db.afterNextTransaction(onCommit: { _ in fresh.publish(run) })
        }
        return IngestCounts(inserted: inserted, duplicates: batch.count - inserted)
    }
}
