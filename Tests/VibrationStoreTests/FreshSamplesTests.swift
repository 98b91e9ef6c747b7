import Foundation
import Logging
import Testing
import VibrationCore

@testable import VibrationStore

/// The rows a SQLite store hands its engine in memory must be exactly what the database would
/// return, and anything it cannot vouch for must be read from the database.
@Suite("Fresh samples handed to the engine")
struct FreshSamplesTests {
    static let recording = Timestamp(parsing: "2025-01-01T00:00:00Z")!.microseconds

    /// Rows of one recording at 200 Hz: sample k at measured_time k/200, collected_at recording + k·5 ms.
    static func batch(_ samples: [Int], machine: String = "m1", sensor: String = "s1", recording: Int64 = recording) -> SampleBatch {
        var table = StreamTable()
        var batch = SampleBatch()
        for (line, k) in samples.enumerated() {
            let stream = try! table.index(of: StreamKey(machineName: machine, sensorNo: sensor), into: &batch).get()
            let t = Double(k) / 200
            let v = sin(2 * .pi * 12 * t) + 0.001 * Double(k % 7)
            batch.append(stream: stream, collectedAt: recording + Int64(k) * 5_000, measuredTime: t, v, 2 * v, 3 * v, 4 * v, line: line + 2)
        }
        return batch
    }

    static func makeStore(at path: String) throws -> SQLiteStore {
        var logger = Logger(label: "himmes.store")
        logger.logLevel = .warning
        return try SQLiteStore(path: path, logger: logger)
    }

    /// A ready window's samples as the engine got them, and as the database holds them.
    struct Served {
        var engine: (times: [Double], values: [Double])
        var database: (times: [Double], values: [Double])
    }

    /// One engine round: the ready windows as served, then the verdicts recorded.
    static func round(_ store: SQLiteStore) async throws -> [Served] {
        let pending = try await store.scan(seconds: 1, limit: 500, channels: nil, machines: nil)
        let served = try await store.samples(of: pending.windows)
        var out: [Served] = []
        var results: [WindowResult] = []
        for (window, (times, values)) in zip(pending.windows, served) {
            let stored = try await store.pool.read { db in try SQLiteStore.samples(db, of: window) }
            out.append(Served(engine: (times, values), database: stored))
            results.append(WindowResult(window: window, diagnosis: FaultClassifier().diagnose(Waveform(values: values, times: times)!)))
        }
        _ = try await store.record(results, passedOver: [], tracker: MachineStateTracker(), holder: nil)
        return out
    }

    /// `count` windows, each a whole second at 200 Hz, served exactly as the database holds them.
    static func expectWhole(_ windows: [Served], count: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(windows.count == count, sourceLocation: sourceLocation)
        for w in windows {
            #expect(w.engine.values == w.database.values, sourceLocation: sourceLocation)
            #expect(w.engine.times == w.database.times, sourceLocation: sourceLocation)
            #expect(w.engine.values.count == 200, sourceLocation: sourceLocation)
        }
    }

    @Test("windows served from memory hold exactly the rows the database holds: out of order, duplicates, two sensors")
    func memoryEqualsDatabase() async throws {
        let store = try Self.makeStore(at: TemporaryDirectory.make().appendingPathComponent("f.sqlite").path)
        _ = try await Self.round(store)  // the engine's first scan: from now on the writer hands rows over
        // Second 0 and half of second 1 in one write; the rest of second 1 backwards with a repeat of
        // rows already stored; a second sensor; then data past second 2 so that seconds 0-1 are complete.
        _ = try await store.ingestAtomically([Self.batch(Array(0..<300))])
        _ = try await store.ingestAtomically([Self.batch(Array((250..<400).reversed()))])
        _ = try await store.ingestAtomically([Self.batch(Array(0..<410), sensor: "s2")])
        _ = try await store.ingestAtomically([Self.batch(Array(400..<420))])
        Self.expectWhole(try await Self.round(store), count: 4)
        #expect(store.fresh.counts.memory == 4)
        #expect(store.fresh.counts.database == 0)
    }

    @Test("rows another connection wrote into a window send that window to the database")
    func foreignRows() async throws {
        let path = try TemporaryDirectory.make().appendingPathComponent("f.sqlite").path
        let store = try Self.makeStore(at: path)
        let other = try Self.makeStore(at: path)
        _ = try await Self.round(store)
        _ = try await store.ingestAtomically([Self.batch(Array(0..<120))])
        _ = try await other.ingestAtomically([Self.batch(Array(120..<180))])  // as another process would
        _ = try await store.ingestAtomically([Self.batch(Array(180..<260))])
        Self.expectWhole(try await Self.round(store), count: 1)
        #expect(store.fresh.counts.database == 1)
        // The next window starts after the foreign rows: memory serves it again.
        _ = try await store.ingestAtomically([Self.batch(Array(260..<420))])
        Self.expectWhole(try await Self.round(store), count: 1)
        #expect(store.fresh.counts.memory == 1)
    }

    @Test("rows scanned before a restart are not forgotten: the window is read from the database")
    func rowsBeforeRestart() async throws {
        let path = try TemporaryDirectory.make().appendingPathComponent("f.sqlite").path
        do {
            let before = try Self.makeStore(at: path)
            _ = try await before.ingestAtomically([Self.batch(Array(0..<150))])
            #expect(try await Self.round(before).isEmpty)  // second 0 open, its rows scanned
            before.close()
        }
        let store = try Self.makeStore(at: path)
        _ = try await Self.round(store)
        _ = try await store.ingestAtomically([Self.batch(Array(150..<260))])
        Self.expectWhole(try await Self.round(store), count: 1)
        #expect(store.fresh.counts.memory == 0)
    }

    @Test("memory serves a window only after a scan that reached the newest row, and only on the channel it kept")
    func caughtUp() {
        let fresh = FreshSamples()
        fresh.enable()
        let window = AnalysisWindow(
            machineName: "m1", sensorNo: "s1", sensorID: 1, channel: .normal, recordingStart: Timestamp(microseconds: Self.recording),
            index: 0, seconds: 1)
        #expect(fresh.beginScan(seconds: 1, caughtUp: true))
        fresh.setFloor([:])
        var scan = WindowScan(tracker: RecordingTracker(), seconds: 1)
        fresh.absorb([.init(firstID: 1, count: 200, batch: Self.batch(Array(0..<200)), sensorIDs: [1])], scan: &scan) { _ in .normal }
        _ = scan.finish()
        #expect(Set(scan.windowRows.keys) == [WindowKey(sensor: 1, recording: Self.recording, index: 0)])
        #expect(fresh.samples(of: window)?.values.count == 200)
        var other = window
        other.channel = .looseness
        #expect(fresh.samples(of: other) == nil)
        #expect(!fresh.beginScan(seconds: 1, caughtUp: false))
        #expect(fresh.samples(of: window) == nil)
        #expect(fresh.counts == (memory: 1, database: 2))
    }

    @Test("runs are cut at the scanned range with the duplicates they skipped; reused ids replace old runs")
    func runs() {
        let fresh = FreshSamples(capacity: 100)
        fresh.enable()
        // Ten rows, the third and sixth duplicates: ids 100...107.
        fresh.publish(.init(firstID: 100, count: 8, batch: Self.batch(Array(0..<10)), sensorIDs: [1], skipped: [2, 5]))
        func rows(_ runs: [FreshSamples.Run]) -> [[Int]] {
            runs.map { run in
                var ids: [Int] = []
                run.forEachRow { index, id in ids.append(index * 1000 + Int(id)) }
                return ids
            }
        }
        #expect(rows(fresh.take(after: 101, through: 104)) == [[3102, 4103, 6104]])
        #expect(rows(fresh.take(after: 104, through: 200)) == [[7105, 8106, 9107]])
        #expect(fresh.take(after: 0, through: 200).isEmpty)
        // Ids given out again (the newest rows were deleted) replace what was held for them.
        fresh.publish(.init(firstID: 300, count: 5, batch: Self.batch(Array(0..<5)), sensorIDs: [1]))
        fresh.publish(.init(firstID: 302, count: 2, batch: Self.batch(Array(0..<2)), sensorIDs: [1]))
        #expect(rows(fresh.take(after: 0, through: 400)) == [[302, 1303]])
        // Beyond capacity a run is not kept (its rows are read from the database).
        fresh.publish(.init(firstID: 500, count: 101, batch: Self.batch(Array(0..<101)), sensorIDs: [1]))
        #expect(fresh.take(after: 0, through: 1000).isEmpty)
    }
}
