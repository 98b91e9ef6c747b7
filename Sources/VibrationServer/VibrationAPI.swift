import Foundation
import NIOCore
import OpenAPIRuntime
import VibrationCore
import VibrationPipeline
import VibrationStore

/// The handlers of the operations in `openapi.yaml`. Each reads its typed input, asks the store
/// and returns a typed answer; errors are thrown and turned into problems by `Problem.init(from:)`.
struct VibrationAPI<S: Store>: APIProtocol {
    let store: S
    let bulk: BulkUpload
    /// The largest diagnosis upload read whole (they are small beside sample uploads).
    let maximumBodyBytes: Int
    /// Told of what was stored: the built-in engine (when on) and open dashboard pages.
    let changes: Changes
    /// The engine's settings, used when a window is diagnosed on request.
    let diagnosis: DiagnosisService.Options
    /// The plant's zone: times sent without an offset are its local times.
    let zone: PlantTimeZone

    init(
        store: S, maximumBodyBytes: Int, changes: Changes, diagnosis: DiagnosisService.Options = .init(),
        maximumJSONRows: Int = 100_000, zone: PlantTimeZone = .utc
    ) {
        self.store = store
        self.diagnosis = diagnosis
        self.zone = zone
        self.bulk = BulkUpload(store: store, changes: changes, maximumJSONRows: maximumJSONRows, zone: zone)
        self.maximumBodyBytes = maximumBodyBytes
        self.changes = changes
    }

    func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        do {
            try await store.ping()
        } catch {
            throw Problem(status: .serviceUnavailable, detail: "The database does not answer: \(error)")
        }
        var health = Components.Schemas.Health(status: "ok")
        if let reads = store as? StandbyReads {
            switch reads.condition {
            case .streaming(let lag): health.standby = .init(state: .streaming, lagSeconds: lag)
            case .down: health.standby = .init(state: .down)
            case .unknown: health.standby = .init(state: .unknown)
            }
        }
        return .ok(.init(body: .json(health)))
    }

    func getReady(_ input: Operations.GetReady.Input) async throws -> Operations.GetReady.Output {
        let migrations: [(name: String, applied: Bool)]
        do {
            try await store.ping()
            migrations = try await store.migrationStatus()
        } catch {
            throw Problem(status: .serviceUnavailable, detail: "The database does not answer: \(error)")
        }
        let pending = migrations.filter { !$0.applied }.map(\.name)
        guard pending.isEmpty else {
            throw Problem(
                status: .serviceUnavailable, detail: "The database schema lacks migrations: \(pending.joined(separator: ", ")).")
        }
        return .ok(.init(body: .json(.init(status: "ready", migrations: migrations.map(\.name)))))
    }

    // MARK: Vibration data

    func listVibrationData(_ input: Operations.ListVibrationData.Input) async throws
        -> Operations.ListVibrationData.Output
    {
        let query = input.query
        var filter = try SampleFilter(query: (query.machineName, query.sensorNo, query.from, query.to), zone: zone)
        filter.order = query.order == .desc ? .newestFirst : .oldestFirst
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
            try Timestamp.field("collected_at", body.collectedAt, zone: zone)
        }
        let sample = VibrationSample(
            machineName: body.machineName, sensorNo: body.sensorNo, collectedAt: collectedAt ?? .now,
            measuredTime: body.measuredTime, normal: body.normal, unbalance: body.unbalance,
            looseness: body.looseness, unbalanceLooseness: body.unbalanceLooseness)
        violations += sample.violations()
        guard violations.isEmpty else { throw ValidationError(violations) }
        let stored = try await store.insert(sample)
        changes.metrics.ingested(table: "vibration_data", inserted: 1, duplicates: 0, rejected: 0)
        changes.samplesStored()
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
                decoder: SampleCSVParser(layout: .product, now: .now, zone: zone), atomic: atomic)
        case .applicationXNdjson(let body):
            report = try await bulk.run(
                MaybeGunzipped(base: BodyChunks(body: body), gzip: gzip), decoder: SampleJSONReader(now: .now, zone: zone),
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
        let filter = try SampleFilter(query: (query.machineName, query.sensorNo, query.from, query.to), zone: zone)
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
            from: try Timestamp.bound("from", query.from, upper: false, zone: zone),
            to: try Timestamp.bound("to", query.to, upper: true, zone: zone),
            order: query.order == .desc ? .newestFirst : .oldestFirst
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
            try Timestamp.field("detected_at", body.detectedAt, zone: zone)
        }
        let faultType = Self.collect(&violations) { () throws(ValidationError) in
            try Validation.faultType(body.faultType)
        }
        Validation.checkMachineName(body.machineName, into: &violations)
        guard violations.isEmpty, let faultType else { throw ValidationError(violations) }
        let diagnosis = Diagnosis(machineName: body.machineName, detectedAt: detectedAt ?? .now, faultType: faultType)
        let stored = try await store.insert(diagnosis)
        changes.diagnosesStored([faultType])
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
        var diagnosis = Components.Schemas.Diagnosis(stored)
        if let e = try await store.engineEvidence(diagnosisID: stored.id) {
            diagnosis.engine = .init(
                sensorNo: e.sensorNo, channel: e.channel.rawValue, windowStart: e.windowStart.date, windowSeconds: e.windowSeconds,
                confidence: e.confidence, severityZone: e.severityZone.rawValue, velocityRmsMmS: e.velocityRMS, shaftHz: e.shaftHz,
                evidence: e.evidence.map {
                    .init(feature: $0.feature, value: $0.value, threshold: $0.threshold, unit: $0.unit, exceeded: $0.exceeded, meaning: $0.meaning)
                })
        }
        return .ok(.init(body: .json(diagnosis)))
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
        } else if let bad = values.firstIndex(where: { !Validation.isAcceleration($0) }) {
            violations.append(FieldViolation(field: "values/\(bad)", message: Validation.accelerationMessage))
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
        guard verdict.isFinite else {
            throw ValidationError(field: "values", message: "cannot be analysed: the window gives features that are not finite")
        }
        return .ok(.init(body: .json(.init(verdict))))
    }

    // MARK: Machines

    func listMachines(_ input: Operations.ListMachines.Input) async throws -> Operations.ListMachines.Output {
        let summaries = try await store.machines()
        let statuses = try await store.machineStatuses()
        let open = try await store.alarms(openOnly: true, machineName: nil, limit: 100_000)
        var byName = Dictionary(uniqueKeysWithValues: summaries.map { ($0.machineName, $0) })
        for status in statuses where byName[status.config.machineName] == nil {
            byName[status.config.machineName] = MachineSummary(
                machineName: status.config.machineName, sensors: [], sampleCount: 0, firstCollectedAt: nil,
                lastCollectedAt: nil, latestDiagnosis: nil)
        }
        let statusByName = Dictionary(uniqueKeysWithValues: statuses.map { ($0.config.machineName, $0) })
        let openByName = Dictionary(grouping: open, by: \.machineName)
        let items = byName.values.sorted { $0.machineName < $1.machineName }.map {
            Components.Schemas.Machine(
                summary: $0, status: statusByName[$0.machineName], openAlarms: openByName[$0.machineName]?.count ?? 0)
        }
        return .ok(.init(body: .json(.init(items: items))))
    }

    /// One machine as the list shows it; nil when unknown.
    func machine(named name: String) async throws -> Components.Schemas.Machine? {
        guard let status = try await store.machineStatus(named: name) else { return nil }
        let summary =
            try await store.machine(named: name)
            ?? MachineSummary(machineName: name, sensors: [], sampleCount: 0, firstCollectedAt: nil, lastCollectedAt: nil, latestDiagnosis: nil)
        let open = try await store.alarms(openOnly: true, machineName: name, limit: 10_000).count
        return Components.Schemas.Machine(summary: summary, status: status, openAlarms: open)
    }

    func getMachine(_ input: Operations.GetMachine.Input) async throws -> Operations.GetMachine.Output {
        guard let machine = try await machine(named: input.path.name) else {
            throw Problem(status: .notFound, detail: "No machine is named '\(input.path.name)'.")
        }
        return .ok(.init(body: .json(machine)))
    }

    func putMachine(_ input: Operations.PutMachine.Input) async throws -> Operations.PutMachine.Output {
        guard case .json(let body) = input.body else { throw Problem(status: .unsupportedMediaType) }
        let existing = try await store.machineStatus(named: input.path.name)
        let config = MachineConfig(
            machineName: input.path.name, line: body.line, rpm: body.rpm,
            isoGroup: body.isoGroup == ._1 ? .large : .medium, foundation: body.foundation == .flexible ? .flexible : .rigid,
            channel: body.channel.flatMap { SignalChannel(rawValue: $0.rawValue) } ?? .normal,
            baseline: existing?.config.baseline)
        let violations = config.violations()
        guard violations.isEmpty else { throw ValidationError(violations) }
        _ = try await store.save(config)
        return .ok(.init(body: .json(try await machine(named: config.machineName)!)))
    }

    func learnBaseline(_ input: Operations.LearnBaseline.Input) async throws -> Operations.LearnBaseline.Output {
        guard case .json(let body) = input.body else { throw Problem(status: .unsupportedMediaType) }
        let from = try Timestamp.bound("from", body.from, upper: false, zone: zone)!
        let to = try Timestamp.bound("to", body.to, upper: true, zone: zone)!
        _ = try SampleFilter(from: from, to: to).validated()
        guard try await store.machineStatus(named: input.path.name) != nil else {
            throw Problem(status: .notFound, detail: "No machine is named '\(input.path.name)'.")
        }
        guard try await store.learnBaseline(machineName: input.path.name, from: from, to: to) != nil else {
            throw Problem(status: .notFound, detail: "No window of '\(input.path.name)' was diagnosed between \(from) and \(to).")
        }
        return .ok(.init(body: .json(try await machine(named: input.path.name)!)))
    }

    func getWaveform(_ input: Operations.GetWaveform.Input) async throws -> Operations.GetWaveform.Output {
        let q = input.query
        let (channel, reduced, span) = try await waveform(
            machineName: input.path.name, sensorNo: q.sensorNo, channel: q.channel.flatMap { SignalChannel(rawValue: $0.rawValue) },
            from: q.from, to: q.to, points: q.points)
        return .ok(
            .init(
                body: .json(
                    Components.Schemas.Waveform(machineName: input.path.name, sensorNo: q.sensorNo, channel: channel, reduced, span: span))))
    }

    /// A sensor's waveform over a range, reduced to at most `points` buckets (2,000 unless given),
    /// on `channel` or the machine's monitored one: what `getWaveform` answers, and what
    /// `WaveformFastPath` writes without the generated encoder.
    func waveform(
        machineName: String, sensorNo: String, channel requested: SignalChannel?, from fromText: String?, to toText: String?,
        points: Int?
    ) async throws -> (channel: SignalChannel, reduced: Downsampling.Reduced, span: ClosedRange<Timestamp>?) {
        var violations: [FieldViolation] = []
        let from = Self.collect(&violations) { () throws(ValidationError) in try Timestamp.bound("from", fromText, upper: false, zone: zone) }
        let to = Self.collect(&violations) { () throws(ValidationError) in try Timestamp.bound("to", toText, upper: true, zone: zone) }
        let points = points ?? 2_000
        if !(10...4_000).contains(points) {
            violations.append(FieldViolation(field: "points", message: "must be between 10 and 4000, got \(points)"))
        }
        guard violations.isEmpty, let from, let to else { throw ValidationError(violations) }
        _ = try SampleFilter(from: from, to: to).validated()
        guard let status = try await store.machineStatus(named: machineName) else {
            throw Problem(status: .notFound, detail: "No machine is named '\(machineName)'.")
        }
        let channel = requested ?? status.config.channel
        guard
            let reduced = try await store.waveform(
                machineName: machineName, sensorNo: sensorNo, channel: channel, from: from, to: to, buckets: points)
        else {
            throw Problem(status: .notFound, detail: "Machine '\(machineName)' has no sensor '\(sensorNo)'.")
        }
        return (channel, reduced, try await store.sensorSpan(machineName: machineName, sensorNo: sensorNo))
    }

    func getSpectrum(_ input: Operations.GetSpectrum.Input) async throws -> Operations.GetSpectrum.Output {
        let q = input.query
        var violations: [FieldViolation] = []
        let start = Self.collect(&violations) { () throws(ValidationError) in try Timestamp.field("at", q.at, zone: zone) }
        let seconds = q.seconds ?? diagnosis.windowSeconds
        if !(0.05...60).contains(seconds) {
            violations.append(FieldViolation(field: "seconds", message: "must be between 0.05 and 60, got \(seconds)"))
        }
        if let maxHz = q.maxHz, !(maxHz > 0 && maxHz.isFinite) {
            violations.append(FieldViolation(field: "max_hz", message: "must be above 0, got \(maxHz)"))
        }
        let points = q.points ?? 2_000
        if !(10...4_000).contains(points) {
            violations.append(FieldViolation(field: "points", message: "must be between 10 and 4000, got \(points)"))
        }
        guard violations.isEmpty, let start else { throw ValidationError(violations) }
        guard let status = try await store.machineStatus(named: input.path.name) else {
            throw Problem(status: .notFound, detail: "No machine is named '\(input.path.name)'.")
        }
        let channel = q.channel.flatMap { SignalChannel(rawValue: $0.rawValue) } ?? status.config.channel
        // The window is [at, at + seconds): the sample at its end belongs to the next one.
        let end = Timestamp(microseconds: start.microseconds + Int64((seconds * 1e6).rounded()) - 1)
        guard
            let series = try await store.series(
                machineName: input.path.name, sensorNo: q.sensorNo, channel: channel, from: start, to: end, limit: 2_000_000)
        else {
            throw Problem(status: .notFound, detail: "Machine '\(input.path.name)' has no sensor '\(q.sensorNo)'.")
        }
        guard series.times.count >= 16, let first = series.times.first else {
            throw ValidationError([
                FieldViolation(field: "at", message: "the window holds \(series.times.count) samples; a spectrum needs at least 16")
            ])
        }
        let times = series.times.map { Double($0 - first) / 1e6 }
        guard let waveform = Waveform(values: series.values, times: times) else {
            throw ValidationError([
                FieldViolation(field: "at", message: "the window's samples share collected_at values; its times must increase")
            ])
        }
        let unanalysable = FieldViolation(
            field: "at", message: "the window's samples cannot be analysed: they exceed ±\(Int(Validation.accelerationLimit)) g or give no finite spectrum")
        guard waveform.isAnalysable else { throw ValidationError([unanalysable]) }
        let verdict = FaultClassifier(thresholds: diagnosis.thresholds).diagnose(waveform, profile: status.config.profile)
        let spectrum = AmplitudeSpectrum(samples: waveform.samples, sampleRateHz: waveform.sampleRateHz)
        guard verdict.isFinite, spectrum.amplitudes.allSatisfy(\.isFinite) else { throw ValidationError([unanalysable]) }
        let maxHz = min(q.maxHz ?? spectrum.nyquistHz, spectrum.nyquistHz)
        let lastBin = min(spectrum.amplitudes.count - 1, spectrum.bin(maxHz, .down))
        let shaft = verdict.spectral.shaftHz
        let markers = [("0.5X", 0.5), ("1X", 1), ("2X", 2), ("3X", 3)].map { label, order in
            Components.Schemas.Spectrum.MarkersPayloadPayload(
                label: label, hz: order * shaft, amplitude: spectrum.amplitude(at: order * shaft))
        }
        return .ok(
            .init(
                body: .json(
                    .init(
                        machineName: input.path.name, sensorNo: q.sensorNo, channel: channel.rawValue, windowStart: start.date,
                        windowEnd: Timestamp(microseconds: series.times.last!).date, samples: series.times.count,
                        sampleRateHz: waveform.sampleRateHz, binHz: spectrum.binHz, maxHz: Double(lastBin) * spectrum.binHz,
                        markers: markers,
                        bins: Downsampling.peaks(spectrum.amplitudes[0...lastBin], buckets: points).map {
                            .init(hz: Double($0.index) * spectrum.binHz, amplitude: $0.value)
                        },
                        diagnosis: .init(verdict)))))
    }

    func getFeatureTrend(_ input: Operations.GetFeatureTrend.Input) async throws -> Operations.GetFeatureTrend.Output {
        let q = input.query
        var violations: [FieldViolation] = []
        let from = Self.collect(&violations) { () throws(ValidationError) in try Timestamp.bound("from", q.from, upper: false, zone: zone) }
        let to = Self.collect(&violations) { () throws(ValidationError) in try Timestamp.bound("to", q.to, upper: true, zone: zone) }
        let limit = q.limit ?? 1_000
        if !(1...4_000).contains(limit) {
            violations.append(FieldViolation(field: "limit", message: "must be between 1 and 4000, got \(limit)"))
        }
        guard violations.isEmpty else { throw ValidationError(violations) }
        _ = try SampleFilter(from: from ?? nil, to: to ?? nil).validated()
        guard try await store.machineStatus(named: input.path.name) != nil else {
            throw Problem(status: .notFound, detail: "No machine is named '\(input.path.name)'.")
        }
        let points = try await store.featureTrend(machineName: input.path.name, from: from ?? nil, to: to ?? nil, limit: limit)
        return .ok(
            .init(
                body: .json(
                    .init(
                        machineName: input.path.name,
                        items: points.map {
                            .init(
                                diagnosisId: $0.diagnosisID, t: $0.time.date,
                                faultType: Components.Schemas.FaultType(rawValue: $0.faultType.rawValue) ?? ._0,
                                severityZone: Components.Schemas.FeatureTrend.ItemsPayloadPayload.SeverityZonePayload(rawValue: $0.severityZone.rawValue) ?? .a, sensorNo: $0.sensorNo,
                                channel: $0.channel.rawValue, rms: $0.rms, crestFactor: $0.crestFactor, kurtosis: $0.kurtosis,
                                velocityRmsMmS: $0.velocityRMS, amplitude1x: $0.oneX, harmonics: $0.harmonics, shaftHz: $0.shaftHz)
                        }))))
    }

    // MARK: Alarms

    func listAlarms(_ input: Operations.ListAlarms.Input) async throws -> Operations.ListAlarms.Output {
        let limit = try Page.limit(input.query.limit)
        let alarms = try await store.alarms(openOnly: input.query.open ?? false, machineName: input.query.machineName, limit: limit)
        return .ok(.init(body: .json(.init(items: alarms.map(Components.Schemas.Alarm.init)))))
    }

    func acknowledgeAlarm(_ input: Operations.AcknowledgeAlarm.Input) async throws -> Operations.AcknowledgeAlarm.Output {
        var by: String?
        if case .json(let body)? = input.body { by = body.by }
        if let by, by.count > 100 { throw ValidationError(field: "by", message: "must be at most 100 characters") }
        guard let alarm = try await store.acknowledgeAlarm(id: input.path.id, by: by) else {
            throw Problem(status: .notFound, detail: "No alarm has id \(input.path.id).")
        }
        changes.alarmsChanged()
        return .ok(.init(body: .json(.init(alarm))))
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

extension SampleFilter {
    /// The filters of a sample list or export as the query gives them: `from` and `to` as times or dates.
    init(query: (machineName: String?, sensorNo: String?, from: String?, to: String?), zone: PlantTimeZone) throws(ValidationError) {
        self = try SampleFilter(
            machineName: query.machineName, sensorNo: query.sensorNo,
            from: try Timestamp.bound("from", query.from, upper: false, zone: zone),
            to: try Timestamp.bound("to", query.to, upper: true, zone: zone)
        ).validated()
    }
}
