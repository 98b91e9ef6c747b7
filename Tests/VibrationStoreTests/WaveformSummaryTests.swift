import Foundation
import GRDB
import Testing
import VibrationCore

@testable import VibrationStore

@Suite("Waveform summary")
struct WaveformSummaryTests {
    static let start = Timestamp(parsing: "2025-01-01T00:00:00Z")!

    /// 100 s of one sensor at 1 kHz with a spike and a dip somewhere inside, as one batch.
    static func batch(seconds: Int = 100) -> SampleBatch {
        var streams = StreamTable()
        var batch = SampleBatch()
        var rng = SplitMix64(seed: 3)
        guard case .success(let stream) = streams.index(of: StreamKey(machineName: "m1", sensorNo: "s1"), into: &batch) else {
            fatalError("the test stream's names are valid")
        }
        for i in 0..<(seconds * 1_000) {
            var value = sin(Double(i) / 7) * 0.2 + rng.uniform(-0.01...0.01)
            if i == 43_210 { value = 4.2 }
            if i == 77_777 { value = -3.3 }
            batch.append(
                stream: stream, collectedAt: start.adding(seconds: Double(i) / 1_000).microseconds, measuredTime: Double(i) / 1_000,
                value, value * 2, -value, 0, line: i + 2)
        }
        return batch
    }

    /// The answer drawn from every sample, to compare the summary's with.
    func fromSamples(_ store: SQLiteStore, channel: SignalChannel, from: Timestamp, to: Timestamp, buckets: Int) async throws
        -> [Downsampling.Bucket]
    {
        let series = try #require(
            try await store.series(machineName: "m1", sensorNo: "s1", channel: channel, from: from, to: to, limit: 10_000_000))
        return Downsampling.minMax(times: series.times, values: series.values, from: from.microseconds, to: to.microseconds + 1, buckets: buckets)
    }

    @Test("wide ranges come from the summary and equal the answer drawn from every sample")
    func matchesSamples() async throws {
        let store = try SQLiteStore(path: TemporaryDirectory.make().appendingPathComponent("summary.sqlite").path)
        _ = try await store.ingestAtomically([Self.batch()])
        // 100 s in 100 buckets of 1 s, 10 buckets of 10 s, 1000 of 100 ms: each a summary level, aligned.
        let to = Self.start.adding(seconds: 100 - 1e-6)
        for (buckets, width) in [(100, Int64(1_000_000)), (10, 10_000_000), (1_000, 100_000)] {
            for channel in [SignalChannel.normal, .unbalance, .looseness] {
                let reduced = try #require(
                    try await store.waveform(machineName: "m1", sensorNo: "s1", channel: channel, from: Self.start, to: to, buckets: buckets))
                #expect(reduced.summaryMicroseconds == width)
                #expect(reduced.samples == 100_000)
                let expected = try await fromSamples(store, channel: channel, from: Self.start, to: to, buckets: buckets)
                #expect(reduced.buckets == expected, "\(channel) in \(buckets) buckets")
            }
        }
        let peaks = try #require(
            try await store.waveform(machineName: "m1", sensorNo: "s1", channel: .normal, from: Self.start, to: to, buckets: 10))
        #expect(peaks.buckets.map(\.max).max() == 4.2 && peaks.buckets.map(\.min).min() == -3.3)
        // Narrow ranges are drawn from the samples themselves.
        let narrow = try #require(
            try await store.waveform(
                machineName: "m1", sensorNo: "s1", channel: .normal, from: Self.start, to: Self.start.adding(seconds: 5), buckets: 2_000))
        #expect(narrow.summaryMicroseconds == nil && narrow.samples == 5_001)
        #expect(try await store.waveform(machineName: "m1", sensorNo: "s9", channel: .normal, from: Self.start, to: to, buckets: 10) == nil)
    }

    @Test("a fine range holding more samples than the budget is drawn from the 10 ms level, peaks kept")
    func rawBudget() async throws {
        let store = try SQLiteStore(path: TemporaryDirectory.make().appendingPathComponent("summary.sqlite").path)
        _ = try await store.ingestAtomically([Self.batch()])
        // At 1 kHz: a range 5 s longer than the budget's worth, in buckets narrower than 10 ms.
        let seconds = WaveformSummary.rawSampleBudget / 1_000 + 5
        let from = Self.start.adding(seconds: 30)
        let to = from.adding(seconds: Double(seconds) - 1e-6)
        let over = try #require(
            try await store.waveform(machineName: "m1", sensorNo: "s1", channel: .normal, from: from, to: to, buckets: 4_000))
        #expect(over.summaryMicroseconds == 10_000)
        #expect(over.samples == seconds * 1_000)
        // The spike at 43.21 s is in it, and every 10 ms bucket is as the samples have it.
        #expect(over.buckets.map(\.max).max() == 4.2)
        let perTenMilliseconds = try await fromSamples(store, channel: .normal, from: from, to: to, buckets: seconds * 100)
        #expect(over.buckets.map(\.max).sorted() == perTenMilliseconds.map(\.max).sorted())
        #expect(over.buckets.map(\.min).sorted() == perTenMilliseconds.map(\.min).sorted())
        // Within the budget the same fine drawing reads every sample.
        let within = try #require(
            try await store.waveform(
                machineName: "m1", sensorNo: "s1", channel: .normal, from: from,
                to: from.adding(seconds: Double(WaveformSummary.rawSampleBudget / 1_000 - 1) - 1e-6), buckets: 4_000))
        #expect(within.summaryMicroseconds == nil && within.samples == WaveformSummary.rawSampleBudget - 1_000)
    }

    @Test("every way of writing keeps the summary exact: bulk, one by one, through the view, duplicates ignored")
    func everyWrite() async throws {
        let store = try SQLiteStore(path: TemporaryDirectory.make().appendingPathComponent("summary.sqlite").path)
        let batch = Self.batch(seconds: 20)
        _ = try await store.ingestAtomically([batch])
        // The same rows again: all duplicates, nothing added.
        _ = try await store.ingestAtomically([batch])
        _ = try await store.insert(
            VibrationSample(
                machineName: "m1", sensorNo: "s1", collectedAt: Self.start.adding(seconds: 20.5), measuredTime: 20.5, normal: 9,
                unbalance: 0, looseness: 0, unbalanceLooseness: 0))
        try await store.pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO vibration_data (machine_name, sensor_no, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness)
                    VALUES ('m1', 's1', ?, 21.5, -9, 0, 0, 0)
                    """, arguments: [Self.start.adding(seconds: 21.5).microseconds])
        }
        let to = Self.start.adding(seconds: 30 - 1e-6)
        let reduced = try #require(
            try await store.waveform(machineName: "m1", sensorNo: "s1", channel: .normal, from: Self.start, to: to, buckets: 30))
        #expect(reduced.summaryMicroseconds == 1_000_000)
        #expect(reduced.samples == 20_002)
        #expect(reduced.buckets == (try await fromSamples(store, channel: .normal, from: Self.start, to: to, buckets: 30)))
        #expect(reduced.buckets.first { $0.time == Self.start.adding(seconds: 20).microseconds }?.max == 9)
        #expect(reduced.buckets.first { $0.time == Self.start.adding(seconds: 21).microseconds }?.min == -9)
    }

    @Test("a database written before the summary existed gets it built on upgrade")
    func upgrade() async throws {
        let path = try TemporaryDirectory.make().appendingPathComponent("old.sqlite").path
        do {
            let queue = try DatabaseQueue(path: path)
            try SQLiteSchema.migrator.migrate(queue, upTo: "0002 machine registry, diagnosis evidence, alarms")
            try await queue.write { db in
                let ids = try SQLiteStore.resolveStreams(Self.batch(seconds: 10), known: [], db)
                // Rows written the way the previous version wrote them: no summary.
                for i in 0..<10_000 {
                    try db.execute(
                        sql: """
                            INSERT INTO vibration_samples (sensor_id, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness)
                            VALUES (?, ?, ?, ?, 0, 0, 0)
                            """,
                        arguments: [ids[0], Self.start.adding(seconds: Double(i) / 1_000).microseconds, Double(i) / 1_000, sin(Double(i))])
                }
            }
        }
        let store = try SQLiteStore(path: path)
        let to = Self.start.adding(seconds: 10 - 1e-6)
        let reduced = try #require(
            try await store.waveform(machineName: "m1", sensorNo: "s1", channel: .normal, from: Self.start, to: to, buckets: 10))
        #expect(reduced.summaryMicroseconds == 1_000_000 && reduced.samples == 10_000)
        #expect(reduced.buckets == (try await fromSamples(store, channel: .normal, from: Self.start, to: to, buckets: 10)))
    }
}
