import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import VibrationCore

extension PostgresStore {
    public func machines() async throws -> [MachineSummary] {
        try await machines(named: nil)
    }

    public func machine(named name: String) async throws -> MachineSummary? {
        try await machines(named: name).first
    }

    func machines(named name: String?) async throws -> [MachineSummary] {
        // The count from the coarsest level of the waveform summary rather than the samples; first
        // and last are each one probe of the identity key per partition.
        let sensors = try await all(
            """
            SELECT s.machine_name, s.sensor_no,
                   (SELECT coalesce(sum(n), 0)::bigint FROM waveform_summary w WHERE w.sensor_id = s.id AND w.level = \(WaveformSummary.levels.count - 1)),
                   (SELECT min(collected_at) FROM vibration_data v WHERE v.sensor_id = s.id),
                   (SELECT max(collected_at) FROM vibration_data v WHERE v.sensor_id = s.id)
            FROM sensors s WHERE \(name)::text IS NULL OR s.machine_name = \(name)
            ORDER BY s.machine_name, s.sensor_no
            """, (String, String, Int64, Timestamp?, Timestamp?).self)
        let latest = try await latestDiagnoses(machineName: name)
        return MachineSummary.assemble(
            sensors: sensors.map { SensorFigures(machineName: $0.0, sensorNo: $0.1, count: $0.2, first: $0.3, last: $0.4) },
            latest: latest)
    }

    public func diagnosisRuns(machineName: String?, from: Timestamp, to: Timestamp, slots: Int) async throws -> [DiagnosisRun] {
        // The database sums each (machine, slot, verdict) up, so that a range of a hundred thousand
        // diagnoses comes back as a few rows per slot; the worst verdict of each slot is chosen here.
        let span = max(1, to.microseconds - from.microseconds + 1)
        let slots = Int64(max(1, slots))
        let rows = try await query(
            """
            SELECT machine_name, slot, fault_type, min(detected_at), max(detected_at), count(*), max(id)
            FROM (SELECT machine_name, fault_type, detected_at, id,
                         div((round(date_part('epoch', detected_at) * 1000000)::bigint - \(from.microseconds))::numeric * \(slots), \(span))::bigint AS slot
                  FROM vibration_diagnosis
                  WHERE (\(machineName)::text IS NULL OR machine_name = \(machineName)) AND detected_at BETWEEN \(from) AND \(to)) AS d
            GROUP BY machine_name, slot, fault_type
            ORDER BY machine_name, slot, fault_type
            """)
        var builder = DiagnosisRunBuilder(from: from, to: to, slots: Int(slots))
        var open: (slot: Int64, run: DiagnosisRun)?
        for try await (machine, slot, type, first, last, count, id) in rows.decode((String, Int64, Int, Timestamp, Timestamp, Int64, Int64).self) {
            let verdict = FaultType(rawValue: type) ?? .normal
            if var current = open, current.slot == slot, current.run.machineName == machine {
                // Verdicts come in rising order within a slot: the last is the worst.
                current.run.faultType = verdict
                current.run.lastID = id
                current.run.first = min(current.run.first, first)
                current.run.last = max(current.run.last, last)
                current.run.count += Int(count)
                open = current
            } else {
                if let finished = open?.run { builder.append(slot: finished) }
                open = (slot, DiagnosisRun(machineName: machine, faultType: verdict, first: first, last: last, count: Int(count), lastID: id))
            }
        }
        if let finished = open?.run { builder.append(slot: finished) }
        return builder.runs
    }
}
