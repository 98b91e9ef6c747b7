import VibrationCore

/// One sensor's figures for a machine summary.
struct SensorFigures {
    var machineName: String
    var sensorNo: String
    var count: Int64
    var first: Timestamp?
    var last: Timestamp?
}

extension MachineSummary {
    /// Machine summaries from their sensors' figures and the latest diagnoses, ordered by name.
    static func assemble(sensors: [SensorFigures], latest: [StoredDiagnosis]) -> [MachineSummary] {
        var byName: [String: MachineSummary] = [:]
        func entry(_ name: String) -> MachineSummary {
            byName[name]
                ?? MachineSummary(
                    machineName: name, sensors: [], sampleCount: 0, firstCollectedAt: nil, lastCollectedAt: nil,
                    latestDiagnosis: nil)
        }
        for sensor in sensors {
            var summary = entry(sensor.machineName)
            summary.sensors.append(sensor.sensorNo)
            summary.sampleCount += sensor.count
            if let first = sensor.first { summary.firstCollectedAt = min(summary.firstCollectedAt ?? first, first) }
            if let last = sensor.last { summary.lastCollectedAt = max(summary.lastCollectedAt ?? last, last) }
            byName[sensor.machineName] = summary
        }
        for diagnosis in latest {
            var summary = entry(diagnosis.diagnosis.machineName)
            summary.latestDiagnosis = diagnosis
            byName[diagnosis.diagnosis.machineName] = summary
        }
        return byName.values.sorted { $0.machineName < $1.machineName }
    }
}
