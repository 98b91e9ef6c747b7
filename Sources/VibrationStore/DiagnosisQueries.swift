import Foundation
import VibrationCore

/// Builds timeline bands from each machine's diagnoses in time order: the range is cut into equal
/// slots, each slot shows its most severe verdict, and neighbouring slots with the same verdict make
/// one band. Both stores feed it rows as they read them.
struct DiagnosisRunBuilder {
    private let from: Int64
    private let span: Int64
    private let slots: Int64
    private(set) var runs: [DiagnosisRun] = []
    private var slot: (index: Int64, run: DiagnosisRun)?

    init(from: Timestamp, to: Timestamp, slots: Int) {
        self.from = from.microseconds
        self.span = max(1, to.microseconds - from.microseconds + 1)
        self.slots = Int64(max(1, slots))
    }

    /// The next diagnosis of the current machine, in time order.
    mutating func add(machine: String, at: Int64, faultType type: FaultType, id: Int64) {
        let index = slot(of: at)
        if var current = slot, current.index == index, current.run.machineName == machine {
            // The slot shows its most severe verdict (the latest of them explains it).
            if type.rawValue >= current.run.faultType.rawValue {
                current.run.faultType = type
                current.run.lastID = id
            }
            current.run.last = Timestamp(microseconds: at)
            current.run.count += 1
            slot = current
        } else {
            finishSlot()
            let t = Timestamp(microseconds: at)
            slot = (index, DiagnosisRun(machineName: machine, faultType: type, first: t, last: t, count: 1, lastID: id))
        }
    }

    /// Closes the open slot; call at the end of each machine and before reading `runs`.
    mutating func finishSlot() {
        guard let finished = slot?.run else { return }
        slot = nil
        append(slot: finished)
    }

    /// A whole slot, summed up elsewhere (by the database), after the slots before it.
    mutating func append(slot finished: DiagnosisRun) {
        if runs.last?.continues(into: finished) == true {
            runs[runs.count - 1].extend(with: finished)
        } else {
            runs.append(finished)
        }
    }

    /// The slot of a time in the range. The product of offset and slot count is taken at double
    /// width: a range of a few centuries times a few thousand slots is more than an Int64 holds.
    func slot(of at: Int64) -> Int64 {
        let product = (at - from).multipliedFullWidth(by: slots)
        return span.dividingFullWidth(product).quotient
    }
}

/// SQL both databases take as it is.
enum StoreSQL {
    /// The distinct machine names of the diagnoses, as `machine(name)`, walked through the
    /// (machine_name, detected_at) index: one probe per machine however many diagnoses there are.
    /// (The last row has a NULL name.)
    static let diagnosedMachines = """
        WITH RECURSIVE machine(name) AS (
            SELECT min(machine_name) FROM vibration_diagnosis
            UNION ALL
            SELECT (SELECT min(machine_name) FROM vibration_diagnosis WHERE machine_name > machine.name)
            FROM machine WHERE machine.name IS NOT NULL
        )
        """
}
