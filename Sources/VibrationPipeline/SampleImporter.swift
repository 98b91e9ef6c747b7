import AsyncAlgorithms
import Foundation
import NIOCore
import Synchronization
import VibrationCore
import VibrationStore

/// Loads CSV samples into a store: one task parses while the store writes the previous batch, so
/// parsing (one core) and SQLite (the other) overlap. Memory stays constant: at most two batches
/// are alive at once.
public struct SampleImporter: Sendable {
    /// Rows per batch and per transaction.
    public static let batchRows = 65_536

    /// Where the import stands; read by progress displays while it runs.
    public final class Progress: Sendable {
        struct State {
            var bytes = 0
            var received = 0
            var inserted = 0
            var duplicates = 0
            var rejected = 0
            var committedThroughLine = 0
        }
        let state = Mutex(State())

        public init() {}

        public var bytes: Int { state.withLock { $0.bytes } }
        public var received: Int { state.withLock { $0.received } }
        public var inserted: Int { state.withLock { $0.inserted } }
        public var duplicates: Int { state.withLock { $0.duplicates } }
        public var rejected: Int { state.withLock { $0.rejected } }
        /// The input line of the last row in a committed batch: rows up to it are stored.
        public var committedThroughLine: Int { state.withLock { $0.committedThroughLine } }
    }

    public let store: any SampleStore

    public init(store: any SampleStore) {
        self.store = store
    }

    /// Parses and stores one CSV stream. Every rejected row reaches `rejected` (for an errors file);
    /// the report lists the first hundred. A `CSVFormatError` (no usable header) stops the import
    /// before anything is stored.
    public func importCSV<Chunks: AsyncSequence & Sendable>(
        _ chunks: Chunks, layout: SampleCSVParser.Layout, now: Timestamp = .now, zone: PlantTimeZone = .utc,
        progress: Progress = Progress(), rejected: @escaping @Sendable ([RowError]) -> Void = { _ in }
    ) async throws -> IngestReport where Chunks.Element == ByteBuffer {
        try await importSamples(
            chunks, decoder: SampleCSVParser(layout: layout, now: now, zone: zone), progress: progress, rejected: rejected)
    }

    /// Parses and stores a stream of any format a `SampleChunkDecoder` reads.
    public func importSamples<Chunks: AsyncSequence & Sendable, Decoder: SampleChunkDecoder>(
        _ chunks: Chunks, decoder: Decoder, progress: Progress = Progress(),
        rejected: @escaping @Sendable ([RowError]) -> Void = { _ in }
    ) async throws -> IngestReport where Chunks.Element == ByteBuffer {
        let clock = ContinuousClock()
        let started = clock.now
        let batches = AsyncThrowingChannel<SampleBatch, any Error>()
        let report = Mutex(IngestReport())
        async let parsing: Void = Self.parse(chunks, decoder: decoder, into: batches)
        let counts: IngestCounts
        do {
            counts = try await store.ingest(batches) { batch, counts in
                progress.state.withLock {
                    $0.bytes += batch.bytesRead
                    $0.received += batch.rowsRead
                    $0.inserted += counts.inserted
                    $0.duplicates += counts.duplicates
                    $0.rejected += batch.rejected.count
                    if let last = batch.line.last { $0.committedThroughLine = Int(last) }
                }
                report.withLock {
                    $0.received += batch.rowsRead
                    $0.record(batch.rejected)
                }
                if !batch.rejected.isEmpty { rejected(batch.rejected) }
            }
        } catch {
            batches.fail(error)
            try? await parsing
            throw error
        }
        try await parsing
        var final = report.withLock { $0 }
        final.inserted = counts.inserted
        final.duplicates = counts.duplicates
        final.elapsedSeconds = (clock.now - started).inSeconds
        return final
    }

    static func parse<Chunks: AsyncSequence, Decoder: SampleChunkDecoder>(
        _ chunks: Chunks, decoder: Decoder, into batches: AsyncThrowingChannel<SampleBatch, any Error>
    ) async throws where Chunks.Element == ByteBuffer {
        var parser = decoder
        var batch = SampleBatch()
        batch.reserve(batchRows + 16_384)
        do {
            for try await chunk in chunks {
                try chunk.withUnsafeReadableBytes { raw in try parser.decode(raw, into: &batch) }
                if batch.count >= batchRows || batch.rejected.count >= 10_000 {
                    await batches.send(batch)
                    batch = SampleBatch()
                    batch.reserve(batchRows + 16_384)
                }
            }
            try parser.finish(into: &batch)
            await batches.send(batch)
            batches.finish()
        } catch {
            batches.fail(error)
            throw error
        }
    }
}


extension SampleImporter {
    /// Parses a whole input into batches without storing anything: for uploads that must go in
    /// whole or not at all. Stops with `tooManyRows` past `maximumRows`.
    public static func collect<Chunks: AsyncSequence, Decoder: SampleChunkDecoder>(
        _ chunks: Chunks, decoder: Decoder, maximumRows: Int
    ) async throws -> [SampleBatch] where Chunks.Element == ByteBuffer {
        var parser = decoder
        var batches: [SampleBatch] = []
        var batch = SampleBatch()
        var rows = 0
        for try await chunk in chunks {
            try chunk.withUnsafeReadableBytes { raw in try parser.decode(raw, into: &batch) }
            if batch.count >= batchRows {
                rows += batch.count
                guard rows <= maximumRows else { throw TooManyRows(maximum: maximumRows) }
                batches.append(batch)
                batch = SampleBatch()
            }
        }
        try parser.finish(into: &batch)
        guard rows + batch.count <= maximumRows else { throw TooManyRows(maximum: maximumRows) }
        batches.append(batch)
        return batches
    }

    public struct TooManyRows: Error, CustomStringConvertible {
        public var maximum: Int
        public var description: String {
            "an atomic upload holds at most \(maximum) rows; send more without atomic=true, or in several requests"
        }
    }
}
