import Foundation
import NIOCore
import OpenAPIRuntime
import VibrationCore
import VibrationStore

/// The handlers of the operations in `openapi.yaml`. Each reads its typed input, asks the store
/// and returns a typed answer; errors are thrown and turned into problems by `Problem.init(from:)`.
struct VibrationAPI<S: Store>: APIProtocol {
    let store: S
    let bulk: BulkUpload
    /// The largest diagnosis upload read whole (they are small beside sample uploads).
    let maximumBodyBytes: Int

    init(store: S, maximumBodyBytes: Int) {
        self.store = store
        self.bulk = BulkUpload(store: store)
        self.maximumBodyBytes = maximumBodyBytes
    }

    func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        do {
            try await store.ping()
        } catch {
            throw Problem(status: .serviceUnavailable, detail: "The database does not answer: \(error)")
        }
        return .ok(.init(body: .json(.init(status: "ok"))))
    }

    // MARK: Vibration data

    func listVibrationData(_ input: Operations.ListVibrationData.Input) async throws
        -> Operations.ListVibrationData.Output
    {
        let query = input.query
        let filter = try SampleFilter(
            machineName: query.machineName, sensorNo: query.sensorNo,
            from: try Timestamp.bound("from", query.from, upper: false),
            to: try Timestamp.bound("to", query.to, upper: true)
        ).validated()
        let limit = try Page.limit(query.limit)
        let cursor = try query.cursor.map { token throws(ValidationError) in try SampleCursor(token: token) }
        let rows = try await store.samples(matching: filter, after: cursor, limit: limit + 1)
        let page = rows.prefix(limit)
        let next = rows.count > limit ? page.last.map { SampleCursor(after: $0).token } : nil
        return .ok(.init(body: .json(.init(items: page.map(Components.Schemas.VibrationData.init), nextCursor: next))))
    }

    func createVibrationData(_ input: Operations.CreateVibrationData.Input) async throws
        -> Operations.CreateVibrationData.Output
    {
        guard case .json(let body) = input.body else { throw Problem(status: .unsupportedMediaType) }
        var violations: [FieldViolation] = []
        let collectedAt = Self.collect(&violations) { () throws(ValidationError) in
            try Timestamp.field("collected_at", body.collectedAt)
        }
        let sample = VibrationSample(
            machineName: body.machineName, sensorNo: body.sensorNo, collectedAt: collectedAt ?? .now,
            measuredTime: body.measuredTime, normal: body.normal, unbalance: body.unbalance,
            looseness: body.looseness, unbalanceLooseness: body.unbalanceLooseness)
        violations += sample.violations()
        guard violations.isEmpty else { throw ValidationError(violations) }
        let stored = try await store.insert(sample)
        return .created(.init(body: .json(.init(stored))))
    }

    func bulkCreateVibrationData(_ input: Operations.BulkCreateVibrationData.Input) async throws
        -> Operations.BulkCreateVibrationData.Output
    {
        let atomic = input.query.atomic ?? false
        let gzip = input.headers.contentEncoding == .gzip
        let report: IngestReport
        switch input.body {
        case .csv(let body):
            report = try await bulk.run(
                MaybeGunzipped(base: BodyChunks(body: body), gzip: gzip),
                decoder: SampleCSVParser(layout: .product, now: .now), atomic: atomic)
        case .applicationXNdjson(let body):
            report = try await bulk.run(
                MaybeGunzipped(base: BodyChunks(body: body), gzip: gzip), decoder: SampleJSONReader(now: .now),
                atomic: atomic)
        case .json(let rows):
            // Only reached without the JSON fast path (see BulkJSONFastPath): the rows arrive decoded.
            report = try await bulk.runDecoded(rows, atomic: atomic)
        }
        return .ok(.init(body: .json(.init(report))))
    }

    func exportVibrationData(_ input: Operations.ExportVibrationData.Input) async throws
        -> Operations.ExportVibrationData.Output
    {
        let query = input.query
        let filter = try SampleFilter(
            machineName: query.machineName, sensorNo: query.sensorNo,
            from: try Timestamp.bound("from", query.from, upper: false),
            to: try Timestamp.bound("to", query.to, upper: true)
        ).validated()
        let chunks = SampleCSVExport(store: store, filter: filter).map { $0[...] }
        return .ok(.init(body: .csv(HTTPBody(chunks, length: .unknown, iterationBehavior: .single))))
    }

    func getVibrationData(_ input: Operations.GetVibrationData.Input) async throws
        -> Operations.GetVibrationData.Output
    {
        guard let stored = try await store.sample(id: input.path.id) else {
            throw Problem(status: .notFound, detail: "No sample has id \(input.path.id).")
        }
        return .ok(.init(body: .json(.init(stored))))
    }

    // MARK: Diagnoses

    func listDiagnoses(_ input: Operations.ListDiagnoses.Input) async throws -> Operations.ListDiagnoses.Output {
        let query = input.query
        let filter = try DiagnosisFilter(
            machineName: query.machineName,
            faultType: query.faultType.map { code throws(ValidationError) in try Validation.faultType(code) },
            from: try Timestamp.bound("from", query.from, upper: false),
            to: try Timestamp.bound("to", query.to, upper: true)
        ).validated()
        let limit = try Page.limit(query.limit)
        let cursor = try query.cursor.map { token throws(ValidationError) in try DiagnosisCursor(token: token) }
        let rows = try await store.diagnoses(matching: filter, after: cursor, limit: limit + 1)
        let page = rows.prefix(limit)
        let next = rows.count > limit ? page.last.map { DiagnosisCursor(after: $0).token } : nil
        return .ok(.init(body: .json(.init(items: page.map(Components.Schemas.Diagnosis.init), nextCursor: next))))
    }

    func createDiagnosis(_ input: Operations.CreateDiagnosis.Input) async throws -> Operations.CreateDiagnosis.Output {
        guard case .json(let body) = input.body else { throw Problem(status: .unsupportedMediaType) }
        var violations: [FieldViolation] = []
        let detectedAt = Self.collect(&violations) { () throws(ValidationError) in
            try Timestamp.field("detected_at", body.detectedAt)
        }
        let faultType = Self.collect(&violations) { () throws(ValidationError) in
            try Validation.faultType(body.faultType)
        }
        Validation.checkMachineName(body.machineName, into: &violations)
        guard violations.isEmpty, let faultType else { throw ValidationError(violations) }
        let diagnosis = Diagnosis(machineName: body.machineName, detectedAt: detectedAt ?? .now, faultType: faultType)
        let stored = try await store.insert(diagnosis)
        return .created(.init(body: .json(.init(stored))))
    }

    func bulkCreateDiagnoses(_ input: Operations.BulkCreateDiagnoses.Input) async throws
        -> Operations.BulkCreateDiagnoses.Output
    {
        let atomic = input.query.atomic ?? false
        let gzip = input.headers.contentEncoding == .gzip
        let report: IngestReport
        switch input.body {
        case .csv(let body):
            let bytes = try await BulkUpload.collect(body, gzip: gzip, maximumBytes: maximumBodyBytes)
            report = try await bulk.runDiagnoses(bytes, format: .csv, atomic: atomic)
        case .applicationXNdjson(let body):
            let bytes = try await BulkUpload.collect(body, gzip: gzip, maximumBytes: maximumBodyBytes)
            report = try await bulk.runDiagnoses(bytes, format: .ndjson, atomic: atomic)
        case .json(let rows):
            // Only reached without the JSON fast path: re-encode the decoded rows for the reader.
            let encoder = JSONEncoder()
            report = try await bulk.runDiagnoses(ByteBuffer(bytes: try encoder.encode(rows)), format: .json, atomic: atomic)
        }
        return .ok(.init(body: .json(.init(report))))
    }

    func listLatestDiagnoses(_ input: Operations.ListLatestDiagnoses.Input) async throws
        -> Operations.ListLatestDiagnoses.Output
    {
        let rows = try await store.latestDiagnoses(machineName: input.query.machineName)
        return .ok(.init(body: .json(.init(items: rows.map(Components.Schemas.Diagnosis.init)))))
    }

    func getDiagnosis(_ input: Operations.GetDiagnosis.Input) async throws -> Operations.GetDiagnosis.Output {
        guard let stored = try await store.diagnosis(id: input.path.id) else {
            throw Problem(status: .notFound, detail: "No diagnosis has id \(input.path.id).")
        }
        return .ok(.init(body: .json(.init(stored))))
    }

    // MARK: Diagnose

    func diagnoseWaveform(_ input: Operations.DiagnoseWaveform.Input) async throws -> Operations.DiagnoseWaveform.Output {
        guard case .json(let body) = input.body else { throw Problem(status: .unsupportedMediaType) }
        var violations: [FieldViolation] = []
        let values = body.values
        if !(4...1_000_000).contains(values.count) {
            violations.append(FieldViolation(field: "values", message: "must hold 4 to 1,000,000 samples, got \(values.count)"))
        }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            violations.append(FieldViolation(field: "values/\(bad)", message: "must be a finite number"))
        }
        if let rpm = body.rpm, !(rpm > 0 && rpm <= 1_000_000) {
            violations.append(FieldViolation(field: "rpm", message: "must be above 0 and at most 1,000,000, got \(rpm)"))
        }
        var waveform: Waveform?
        switch (body.sampleRateHz, body.measuredTime) {
        case (let rate?, nil):
            if rate > 0 && rate <= 10_000_000 {
                waveform = Waveform(samples: values, sampleRateHz: rate)
            } else {
                violations.append(FieldViolation(field: "sample_rate_hz", message: "must be above 0 and at most 10,000,000, got \(rate)"))
            }
        case (nil, let times?):
            if times.count != values.count {
                violations.append(FieldViolation(field: "measured_time", message: "must have one time per value (\(values.count)), got \(times.count)"))
            } else if let resampled = Waveform(values: values, times: times) {
                waveform = resampled
            } else {
                violations.append(FieldViolation(field: "measured_time", message: "must be finite and strictly increasing"))
            }
        case (nil, nil):
            violations.append(FieldViolation(field: "sample_rate_hz", message: "give sample_rate_hz or measured_time"))
        case (_?, _?):
            violations.append(FieldViolation(field: "measured_time", message: "give sample_rate_hz or measured_time, not both"))
        }
        guard violations.isEmpty, let waveform else { throw ValidationError(violations) }
        let profile = MachineProfile(
            rpm: body.rpm, group: body.isoGroup == ._1 ? .large : .medium,
            foundation: body.foundation == .flexible ? .flexible : .rigid)
        let verdict = FaultClassifier().diagnose(waveform, profile: profile)
        return .ok(.init(body: .json(.init(verdict))))
    }

    // MARK: Machines

    func listMachines(_ input: Operations.ListMachines.Input) async throws -> Operations.ListMachines.Output {
        let machines = try await store.machines()
        return .ok(.init(body: .json(.init(items: machines.map(Components.Schemas.Machine.init)))))
    }

    /// Runs one check, adding its complaint to the list instead of stopping, so that a client
    /// hears about every bad field at once.
    static func collect<T>(_ violations: inout [FieldViolation], _ check: () throws(ValidationError) -> T?) -> T? {
        do {
            return try check()
        } catch {
            violations += error.violations
            return nil
        }
    }
}
