import Foundation
import VibrationCore

// Conversions from the domain to the generated wire types, and the `null`s the wire format promises.

extension Components.Schemas.VibrationData {
    init(_ stored: StoredSample) {
        let s = stored.sample
        self.init(
            id: stored.id, machineName: s.machineName, sensorNo: s.sensorNo, collectedAt: s.collectedAt.date,
            measuredTime: s.measuredTime, normal: s.normal, unbalance: s.unbalance, looseness: s.looseness,
            unbalanceLooseness: s.unbalanceLooseness)
    }
}

extension Components.Schemas.Diagnosis {
    init(_ stored: StoredDiagnosis) {
        let d = stored.diagnosis
        self.init(
            id: stored.id, machineName: d.machineName, detectedAt: d.detectedAt.date,
            faultType: Components.Schemas.FaultType(rawValue: d.faultType.rawValue) ?? ._0,
            faultName: d.faultType.name)
    }
}

extension Components.Schemas.Machine {
    init(_ summary: MachineSummary) {
        self.init(
            machineName: summary.machineName, sensors: summary.sensors, sampleCount: summary.sampleCount,
            firstCollectedAt: summary.firstCollectedAt?.date, lastCollectedAt: summary.lastCollectedAt?.date,
            latestDiagnosis: summary.latestDiagnosis.map(Components.Schemas.Diagnosis.init))
    }
}

// The generator drops a required key whose value is nil (synthesized Codable uses encodeIfPresent);
// the spec promises the key with `null`, so these types encode it explicitly.

extension Components.Schemas.VibrationDataPage {
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

extension Components.Schemas.DiagnosisPage {
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        try container.encode(nextCursor, forKey: .nextCursor)
    }
}

extension Components.Schemas.Machine {
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(machineName, forKey: .machineName)
        try container.encode(sensors, forKey: .sensors)
        try container.encode(sampleCount, forKey: .sampleCount)
        try container.encode(firstCollectedAt, forKey: .firstCollectedAt)
        try container.encode(lastCollectedAt, forKey: .lastCollectedAt)
        try container.encode(latestDiagnosis, forKey: .latestDiagnosis)
    }
}

extension Components.Schemas.BulkReport {
    init(_ report: IngestReport) {
        self.init(
            received: report.received, inserted: report.inserted, duplicates: report.duplicates,
            rejected: report.rejected,
            errors: report.errors.map { .init(line: $0.line, column: $0.column, message: $0.message) },
            elapsedS: report.elapsedSeconds)
    }
}

extension Components.Schemas.DiagnoseResult {
    init(_ verdict: WindowDiagnosis) {
        let t = verdict.time
        let f = verdict.spectral
        self.init(
            faultType: Components.Schemas.FaultType(rawValue: verdict.faultType.rawValue) ?? ._0,
            faultName: verdict.faultType.name, confidence: verdict.confidence,
            severityZone: .init(rawValue: verdict.severityZone.rawValue) ?? .a, velocityRmsMmS: f.velocityRMS,
            shaftHz: f.shaftHz, shaftSource: f.shaftSource == .configured ? .configured : .estimated,
            evidence: verdict.evidence.map {
                .init(feature: $0.feature, value: $0.value, threshold: $0.threshold, unit: $0.unit, exceeded: $0.exceeded, meaning: $0.meaning)
            },
            timeFeatures: .init(
                rms: t.rms, peak: t.peak, peakToPeak: t.peakToPeak, crestFactor: t.crestFactor, kurtosis: t.kurtosis,
                skewness: t.skewness),
            spectralFeatures: .init(
                amplitude05xG: f.halfX, amplitude1xG: f.oneX, amplitudes2xTo10xG: f.orders, harmonics2x10xG: f.harmonics))
    }
}
