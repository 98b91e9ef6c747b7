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

extension Components.Schemas.Machine.LatestDiagnosisPayload {
    init(_ stored: StoredDiagnosis) {
        let d = stored.diagnosis
        self.init(
            id: stored.id, machineName: d.machineName, detectedAt: d.detectedAt.date,
            faultType: Components.Schemas.FaultType(rawValue: d.faultType.rawValue) ?? ._0, faultName: d.faultType.name)
    }
}

extension Components.Schemas.Machine {
    init(summary: MachineSummary, status: MachineStatus?, openAlarms: Int) {
        let config = status?.config ?? MachineConfig(machineName: summary.machineName)
        let state = status?.state ?? MachineState()
        self.init(
            machineName: summary.machineName, sensors: summary.sensors, sampleCount: summary.sampleCount,
            firstCollectedAt: summary.firstCollectedAt?.date, lastCollectedAt: summary.lastCollectedAt?.date,
            latestDiagnosis: summary.latestDiagnosis.map(LatestDiagnosisPayload.init), line: config.line,
            rpm: config.rpm, isoGroup: config.isoGroup == .large ? ._1 : ._2,
            foundation: config.foundation == .flexible ? .flexible : .rigid,
            channel: .init(rawValue: config.channel.rawValue) ?? .normal, baseline1xG: config.baseline?.oneX,
            state: .init(
                faultType: Components.Schemas.FaultType(rawValue: state.faultType.rawValue) ?? ._0,
                faultName: state.faultType.name, severityZone: state.zone?.rawValue, since: state.since?.date,
                lastWindowAt: state.lastWindowAt?.date),
            openAlarms: openAlarms)
    }
}

extension Components.Schemas.Alarm {
    init(_ alarm: Alarm) {
        self.init(
            id: alarm.id, machineName: alarm.machineName,
            faultType: Components.Schemas.FaultType(rawValue: alarm.faultType.rawValue) ?? ._0,
            faultName: alarm.faultType.name, severityZone: alarm.severityZone?.rawValue, message: alarm.message,
            openedAt: alarm.openedAt.date, closedAt: alarm.closedAt?.date, acknowledgedAt: alarm.acknowledgedAt?.date,
            acknowledgedBy: alarm.acknowledgedBy)
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

extension Components.Schemas.Waveform {
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(machineName, forKey: .machineName)
        try container.encode(sensorNo, forKey: .sensorNo)
        try container.encode(channel, forKey: .channel)
        try container.encode(samples, forKey: .samples)
        try container.encode(truncated, forKey: .truncated)
        try container.encode(summarySeconds, forKey: .summarySeconds)
        try container.encode(dataFrom, forKey: .dataFrom)
        try container.encode(dataTo, forKey: .dataTo)
        try container.encode(buckets, forKey: .buckets)
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
        try container.encode(line, forKey: .line)
        try container.encode(rpm, forKey: .rpm)
        try container.encode(isoGroup, forKey: .isoGroup)
        try container.encode(foundation, forKey: .foundation)
        try container.encode(channel, forKey: .channel)
        try container.encode(baseline1xG, forKey: .baseline1xG)
        try container.encode(state, forKey: .state)
        try container.encode(openAlarms, forKey: .openAlarms)
    }
}

extension Components.Schemas.MachineState {
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(faultType, forKey: .faultType)
        try container.encode(faultName, forKey: .faultName)
        try container.encode(severityZone, forKey: .severityZone)
        try container.encode(since, forKey: .since)
        try container.encode(lastWindowAt, forKey: .lastWindowAt)
    }
}

extension Components.Schemas.Alarm {
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(machineName, forKey: .machineName)
        try container.encode(faultType, forKey: .faultType)
        try container.encode(faultName, forKey: .faultName)
        try container.encode(severityZone, forKey: .severityZone)
        try container.encode(message, forKey: .message)
        try container.encode(openedAt, forKey: .openedAt)
        try container.encode(closedAt, forKey: .closedAt)
        try container.encode(acknowledgedAt, forKey: .acknowledgedAt)
        try container.encode(acknowledgedBy, forKey: .acknowledgedBy)
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

extension Components.Schemas.Waveform {
    init(
        machineName: String, sensorNo: String, channel: SignalChannel, _ reduced: Downsampling.Reduced, span: ClosedRange<Timestamp>?
    ) {
        self.init(
            machineName: machineName, sensorNo: sensorNo, channel: channel.rawValue, samples: reduced.samples,
            truncated: reduced.truncated, summarySeconds: reduced.summaryMicroseconds.map { Double($0) / 1e6 },
            dataFrom: span?.lowerBound.date, dataTo: span?.upperBound.date,
            buckets: reduced.buckets.map { .init(t: Timestamp(microseconds: $0.time).date, min: $0.min, max: $0.max, n: $0.count) })
    }
}
