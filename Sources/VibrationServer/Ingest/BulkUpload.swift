import Foundation
import HTTPTypes
import NIOCore
import OpenAPIRuntime
import VibrationCore
import VibrationPipeline
import VibrationStore

/// The bulk upload of samples, shared by the generated handler (CSV, NDJSON) and the JSON fast path.
struct BulkUpload: Sendable {
    let importer: SampleImporter
    /// Where diagnoses posted in bulk go.
    let diagnoses: any DiagnosisStore
    let changes: Changes
    /// The most rows one JSON array may hold.
    let maximumJSONRows: Int
    /// The most rows an atomic upload may hold: it is parsed whole before anything is stored.
    static let maximumAtomicRows = 1_000_000
    /// The zone of times sent without an offset.
    let zone: PlantTimeZone

    init(store: any SampleStore & DiagnosisStore, changes: Changes, maximumJSONRows: Int = 100_000, zone: PlantTimeZone = .utc) {
        importer = SampleImporter(store: store)
        diagnoses = store
        self.changes = changes
        self.maximumJSONRows = maximumJSONRows
        self.zone = zone
    }

    /// The 413 of a JSON array with more rows than allowed; nothing of it is stored.
    func checkJSONRows(_ rows: Int) throws {
        guard rows > maximumJSONRows else { return }
        throw Problem(
            status: .contentTooLarge,
            detail: "The JSON array holds \(rows) rows; at most \(maximumJSONRows) are taken per request. Nothing was stored: send several requests, or CSV or NDJSON, which stream without a limit.")
    }

    /// Stores what the decoder reads from the chunks and reports it; with `atomic`, stores all or nothing.
    func run<Chunks: AsyncSequence & Sendable, Decoder: SampleChunkDecoder>(
        _ chunks: Chunks, decoder: Decoder, atomic: Bool
    ) async throws -> IngestReport where Chunks.Element == ByteBuffer {
        defer { changes.samplesStored() }
        do {
            if atomic { return try await runAtomically(chunks, decoder: decoder) }
            let progress = SampleImporter.Progress()
            do {
                let report = try await importer.importSamples(chunks, decoder: decoder, progress: progress)
                changes.samplesReceived(report)
                return report
            } catch {
                let stored = progress.committedThroughLine
                guard stored > 0, !(error is CSVFormatError) else { throw error }
                // Some batches were committed before the failure: say exactly which rows are in.
                var problem = Problem(from: error)
                problem.detail =
                    (problem.detail.map { $0 + " " } ?? "")
                    + "Rows through line \(stored) were stored (\(progress.inserted) new, \(progress.duplicates) already stored); nothing after it."
                throw problem
            }
        } catch let error as CSVFormatError {
            throw Problem(status: .unprocessableContent, title: "Unreadable CSV", detail: error.description)
        } catch is GzipError {
            throw Problem(status: .badRequest, title: "Malformed request", detail: "The body is not valid gzip.")
        } catch let error as SampleImporter.TooManyRows {
            throw Problem(status: .contentTooLarge, detail: error.description)
        }
    }

    private func runAtomically<Chunks: AsyncSequence & Sendable, Decoder: SampleChunkDecoder>(
        _ chunks: Chunks, decoder: Decoder
    ) async throws -> IngestReport where Chunks.Element == ByteBuffer {
        let clock = ContinuousClock()
        let started = clock.now
        let batches = try await SampleImporter.collect(chunks, decoder: decoder, maximumRows: Self.maximumAtomicRows)
        return try await store(batches, atomic: true, started: started, clock: clock)
    }

    /// Stores parsed batches (all or nothing when atomic) and reports.
    func store(_ batches: [SampleBatch], atomic: Bool, started: ContinuousClock.Instant, clock: ContinuousClock)
        async throws -> IngestReport
    {
        var report = IngestReport()
        for batch in batches {
            report.received += batch.rowsRead
            report.record(batch.rejected)
        }
        if atomic, report.rejected > 0 {
            report.elapsedSeconds = (clock.now - started).inSeconds
            changes.samplesReceived(report)
            throw Self.refusal(report)
        }
        let counts = try await importer.store.ingestAtomically(batches)
        report.inserted = counts.inserted
        report.duplicates = counts.duplicates
        report.elapsedSeconds = (clock.now - started).inSeconds
        changes.samplesReceived(report)
        return report
    }

    /// The 422 of an atomic upload with bad rows: nothing was stored, and the report says why.
    static func refusal(_ report: IngestReport) -> Problem {
        Problem(
            status: .unprocessableContent, title: "Upload refused",
            detail: "\(report.rejected) of \(report.received) rows are invalid and atomic=true: nothing was stored.",
            report: report)
    }

    /// Diagnoses, read whole: all of them, or with `atomic` none when any is bad.
    func runDiagnoses(_ body: ByteBuffer, format: DiagnosisFormat, atomic: Bool) async throws -> IngestReport {
        let clock = ContinuousClock()
        let started = clock.now
        let data = Data(buffer: body)
        let read: DiagnosisRows
        do {
            switch format {
            case .json: read = try DiagnosisReader.jsonArray(data, now: .now, zone: zone)
            case .ndjson: read = DiagnosisReader.ndjson(data, now: .now, zone: zone)
            case .csv: read = try DiagnosisReader.csv(data, now: .now, zone: zone)
            }
        } catch let error as JSONFormatError {
            throw Problem(status: .badRequest, title: "Malformed request", detail: "The body is not a JSON array of diagnoses: \(error.message).")
        } catch let error as CSVFormatError {
            throw Problem(status: .unprocessableContent, title: "Unreadable CSV", detail: error.description)
        }
        if format == .json { try checkJSONRows(read.received) }
        var report = IngestReport()
        report.received = read.received
        report.record(read.rejected)
        if atomic, report.rejected > 0 {
            report.elapsedSeconds = (clock.now - started).inSeconds
            changes.diagnosesStored([], rejected: report.rejected)
            throw Self.refusal(report)
        }
        report.inserted = try await diagnoses.insert(read.rows)
        report.elapsedSeconds = (clock.now - started).inSeconds
        changes.diagnosesStored(read.rows.map(\.faultType), rejected: report.rejected)
        return report
    }

    enum DiagnosisFormat { case json, ndjson, csv }

    /// A whole body, up to the size limit, inflated when gzip.
    static func collect(_ body: HTTPBody?, gzip: Bool, maximumBytes: Int) async throws -> ByteBuffer {
        var bytes = ByteBuffer()
        guard let body else { return bytes }
        let tooLarge = Problem(
            status: .contentTooLarge,
            detail: "The body is larger than \(maximumBytes) bytes (inflated, when gzip); send CSV or NDJSON samples, or several requests.")
        var chunks = MaybeGunzipped(base: BodyChunks(body: body), gzip: gzip, limit: maximumBytes).makeAsyncIterator()
        do {
            while let chunk = try await chunks.next() {
                guard bytes.readableBytes + chunk.readableBytes <= maximumBytes else { throw tooLarge }
                var chunk = chunk
                bytes.writeBuffer(&chunk)
            }
        } catch is ExpansionLimitError {
            throw tooLarge
        } catch is GzipError {
            throw Problem(status: .badRequest, title: "Malformed request", detail: "The body is not valid gzip.")
        }
        return bytes
    }

    /// A JSON array body, already in memory: parsed whole first, so that malformed JSON stores nothing.
    func runJSONArray(_ body: ByteBuffer, atomic: Bool) async throws -> IngestReport {
        defer { changes.samplesStored() }
        let clock = ContinuousClock()
        let started = clock.now
        var reader = SampleJSONReader(now: .now, zone: zone)
        var batch = SampleBatch()
        do {
            try body.withUnsafeReadableBytes { raw throws(JSONFormatError) in try reader.parseArray(raw, into: &batch) }
        } catch {
            throw Problem(status: .badRequest, title: "Malformed request", detail: "The body is not a JSON array of samples: \(error).")
        }
        try checkJSONRows(batch.rowsRead)
        return try await store([batch], atomic: atomic, started: started, clock: clock)
    }
}

extension BulkUpload {
    /// Rows the generated code already decoded: validated one by one into a batch.
    func runDecoded(_ rows: [Components.Schemas.VibrationDataInput], atomic: Bool) async throws -> IngestReport {
        try checkJSONRows(rows.count)
        let clock = ContinuousClock()
        let started = clock.now
        var streams = StreamTable()
        var batch = SampleBatch()
        let now = Timestamp.now
        for (index, row) in rows.enumerated() {
            let element = index + 1
            batch.rowsRead += 1
            var collectedAt = now
            if let text = row.collectedAt {
                guard let parsed = Timestamp(parsing: text, zone: zone) else {
                    batch.rejected.append(RowError(line: element, column: "collected_at", message: "'\(text)' is not an RFC 3339 time"))
                    continue
                }
                collectedAt = parsed
            }
            let sample = VibrationSample(
                machineName: row.machineName, sensorNo: row.sensorNo, collectedAt: collectedAt,
                measuredTime: row.measuredTime, normal: row.normal, unbalance: row.unbalance, looseness: row.looseness,
                unbalanceLooseness: row.unbalanceLooseness)
            if let violation = sample.violations().first {
                batch.rejected.append(RowError(line: element, column: violation.field, message: violation.message))
                continue
            }
            guard case .success(let stream) = streams.index(of: StreamKey(machineName: row.machineName, sensorNo: row.sensorNo), into: &batch)
            else { continue }
            batch.append(
                stream: stream, collectedAt: collectedAt.microseconds, measuredTime: row.measuredTime, row.normal,
                row.unbalance, row.looseness, row.unbalanceLooseness, line: element)
        }
        return try await store([batch], atomic: atomic, started: started, clock: clock)
    }
}

/// An HTTP body as ByteBuffers, for the importer.
struct BodyChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let body: HTTPBody

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: HTTPBody.AsyncIterator
        mutating func next() async throws -> ByteBuffer? {
            guard let chunk = try await base.next() else { return nil }
            return ByteBuffer(bytes: chunk)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: body.makeAsyncIterator()) }
}

/// Bodies of `Content-Encoding: gzip` are inflated as they stream, a window at a time, up to
/// `limit` inflated bytes when there is one.
struct MaybeGunzipped: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: BodyChunks
    let gzip: Bool
    var limit: Int? = nil

    struct AsyncIterator: AsyncIteratorProtocol {
        var plain: BodyChunks.AsyncIterator?
        var inflated: GunzippedChunks<BodyChunks>.AsyncIterator?
        mutating func next() async throws -> ByteBuffer? {
            if plain != nil { return try await plain!.next() }
            return try await inflated!.next()
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        gzip
            ? AsyncIterator(plain: nil, inflated: GunzippedChunks(base, limit: limit).makeAsyncIterator())
            : AsyncIterator(plain: base.makeAsyncIterator(), inflated: nil)
    }
}

/// Reads JSON array uploads with the hand-written reader instead of the generated Codable path.
///
/// The generated code would decode the array with Foundation's JSONDecoder (about 200k rows/s);
/// the spec still documents the body's schema, and this middleware takes the request before the
/// generated deserializer runs. Every other request passes through untouched.
struct BulkJSONFastPath: ServerMiddleware {
    let upload: BulkUpload
    let maximumBytes: Int

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        guard operationID == "bulkCreateVibrationData" || operationID == "bulkCreateDiagnoses",
            request.headerFields[.contentType].map({ $0.lowercased().hasPrefix("application/json") }) ?? true
        else { return try await next(request, body, metadata) }
        let atomic = try Self.queryFlag("atomic", in: request.path ?? "")
        let bytes = try await BulkUpload.collect(
            body, gzip: request.headerFields[.contentEncoding]?.lowercased() == "gzip", maximumBytes: maximumBytes)
        let report =
            operationID == "bulkCreateDiagnoses"
            ? try await upload.runDiagnoses(bytes, format: .json, atomic: atomic)
            : try await upload.runJSONArray(bytes, atomic: atomic)
        return (HTTPResponse(status: .ok, headerFields: [.contentType: "application/json; charset=utf-8"]), HTTPBody(report.json))
    }

    /// Whether `name=true` (or `1`) is in the query; the generated parser has not run yet here.
    static func queryFlag(_ name: String, in path: String) throws -> Bool {
        guard let query = path.split(separator: "?", maxSplits: 1).dropFirst().first else { return false }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.first == Substring(name) {
                let value = parts.count > 1 ? parts[1].lowercased() : "true"
                if value == "true" || value == "1" { return true }
                if value == "false" || value == "0" { return false }
                throw ValidationError(field: name, message: "must be true or false, got '\(parts[1])'")
            }
        }
        return false
    }
}

extension IngestReport {
    /// The report as the API answers it.
    var json: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(self)) ?? Data())
    }
}
