import Foundation
import Testing
import VibrationCore

@testable import VibrationStore

@Suite("Bulk ingest")
struct IngestTests {
    /// The generator's CSV, parsed into batches of `rowsPerBatch`.
    func batches(rows: Int, rowsPerBatch: Int, seed: UInt64 = 1) throws -> [SampleBatch] {
        let generator = PlantGenerator(options: .init(rows: rows, machines: 2, sensors: 2, seed: seed, recordingSeconds: 1))
        var bytes: [UInt8] = []
        try generator.writeCSV { bytes += $0 }
        var parser = SampleCSVParser(now: .now)
        var result: [SampleBatch] = []
        var batch = SampleBatch()
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            try (Array(line) + [0x0A]).withUnsafeBytes { try parser.parse($0, into: &batch) }
            if batch.count >= rowsPerBatch {
                result.append(batch)
                batch = SampleBatch()
            }
        }
        try parser.finish(into: &batch)
        result.append(batch)
        return result
    }

    struct Stream: AsyncSequence, Sendable {
        typealias Element = SampleBatch
        let items: [SampleBatch]
        struct AsyncIterator: AsyncIteratorProtocol {
            var rest: ArraySlice<SampleBatch>
            mutating func next() async throws -> SampleBatch? { rest.popFirst() }
        }
        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: items[...]) }
    }

    @Test("every row goes in once; loading the same data again inserts nothing", arguments: Backend.available)
    func idempotent(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let input = try batches(rows: 5_000, rowsPerBatch: 1_000)
        let committed = Counter()
        let first = try await store.ingest(Stream(items: input)) { batch, counts in committed.add(batch.count) }
        #expect(first == IngestCounts(inserted: 5_000, duplicates: 0))
        #expect(committed.value == 5_000)
        let second = try await store.ingest(Stream(items: input)) { _, _ in }
        #expect(second == IngestCounts(inserted: 0, duplicates: 5_000))
        let machines = try await store.machines()
        #expect(machines.map(\.sampleCount) == [2_500, 2_500])
        #expect(machines.map(\.sensors) == [["sensor1", "sensor2"], ["sensor1", "sensor2"]])
    }

    @Test("a row repeated within one batch is stored once, and the summary counts it once", arguments: Backend.available)
    func repeatedWithinBatch(backend: Backend) async throws {
        let store = try await backend.makeStore()
        var parser = SampleCSVParser(now: .now)
        var batch = SampleBatch()
        let text = """
            machine_name,sensor_no,collected_at,measured_time,normal,unbalance,looseness,unbalance_looseness
            fan,s1,2025-03-01T00:00:00Z,0.001,1,2,3,4
            fan,s1,2025-03-01T00:00:00Z,0.002,1,2,3,4
            fan,s1,2025-03-01T00:00:00Z,0.001,9,9,9,9
            fan,s2,2025-03-01T00:00:00Z,0.001,1,2,3,4

            """
        try Array(text.utf8).withUnsafeBytes { try parser.parse($0, into: &batch) }
        try parser.finish(into: &batch)
        let counts = try await store.ingest(Stream(items: [batch])) { _, _ in }
        #expect(counts == IngestCounts(inserted: 3, duplicates: 1))
        let stored = try await store.samples(matching: SampleFilter(), after: nil, limit: 10)
        #expect(stored.count == 3)
        // The first of the two is the one kept.
        #expect(stored.first { $0.sample.sensorNo == "s1" && $0.sample.measuredTime == 0.001 }?.sample.normal == 1)
        #expect(try await store.sampleCount() == 3)
    }

    @Test("a partial overlap stores only the new rows", arguments: Backend.available)
    func overlap(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let input = try batches(rows: 4_000, rowsPerBatch: 1_000)
        _ = try await store.ingest(Stream(items: Array(input.prefix(2)))) { _, _ in }
        let counts = try await store.ingest(Stream(items: input)) { _, _ in }
        #expect(counts == IngestCounts(inserted: 2_000, duplicates: 2_000))
    }

    @Test("ingested rows read back equal to the parsed ones, across pages", arguments: Backend.available)
    func readBack(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let input = try batches(rows: 1_200, rowsPerBatch: 500)
        _ = try await store.ingest(Stream(items: input)) { _, _ in }
        var streams: [StreamKey] = []
        var expected: [VibrationSample] = []
        for batch in input {
            streams += batch.newStreams
            expected += (0..<batch.count).map { batch.sample(at: $0, streams: streams) }
        }
        var got: [VibrationSample] = []
        var cursor: SampleCursor?
        repeat {
            let page = try await store.samples(matching: SampleFilter(), after: cursor, limit: 256)
            got += page.map(\.sample)
            cursor = page.count == 256 ? SampleCursor(after: page.last!) : nil
        } while cursor != nil
        let order: (VibrationSample, VibrationSample) -> Bool = {
            ($0.collectedAt, $0.measuredTime, $0.machineName, $0.sensorNo) < ($1.collectedAt, $1.measuredTime, $1.machineName, $1.sensorNo)
        }
        #expect(got.count == expected.count)
        #expect(got.sorted(by: order) == expected.sorted(by: order))
        // The merged list is in (collected_at, measured_time) order.
        #expect(zip(got, got.dropFirst()).allSatisfy { ($0.collectedAt, $0.measuredTime) <= ($1.collectedAt, $1.measuredTime) })
    }

    @Test("an atomic load stores all of its rows in one transaction", arguments: Backend.available)
    func atomic(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let input = try batches(rows: 3_000, rowsPerBatch: 1_000)
        #expect(try await store.ingestAtomically(input) == IngestCounts(inserted: 3_000, duplicates: 0))
        #expect(try await store.ingestAtomically(input) == IngestCounts(inserted: 0, duplicates: 3_000))
    }
}

final class Counter: Sendable {
    let storage = Mutex(0)
    func add(_ n: Int) { storage.withLock { $0 += n } }
    var value: Int { storage.withLock { $0 } }
}

import Synchronization
