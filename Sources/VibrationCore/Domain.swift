/// The verdict of a diagnosis, with the numbers of the original `vibration_diagnosis.fault_type`.
public enum FaultType: Int, CaseIterable, Sendable, Codable {
    case normal = 0
    case massUnbalance = 1
    case supportLooseness = 2
    case unbalanceAndLooseness = 3

    /// The verdict in an engineer's words.
    public var name: String {
        switch self {
        case .normal: "normal"
        case .massUnbalance: "mass unbalance"
        case .supportLooseness: "support looseness"
        case .unbalanceAndLooseness: "unbalance and looseness"
        }
    }
}

/// One reading of one sensor: a row of `vibration_data`.
///
/// Its identity is (machine name, sensor number, collected at, measured time): the same reading
/// sent twice is stored once.
public struct VibrationSample: Hashable, Sendable {
    public var machineName: String
    public var sensorNo: String
    /// When the recording was collected.
    public var collectedAt: Timestamp
    /// Seconds since the start of the recording.
    public var measuredTime: Double
    /// Acceleration in g of the four conditions the original data set records.
    public var normal: Double
    public var unbalance: Double
    public var looseness: Double
    public var unbalanceLooseness: Double

    public init(
        machineName: String, sensorNo: String, collectedAt: Timestamp, measuredTime: Double,
        normal: Double, unbalance: Double, looseness: Double, unbalanceLooseness: Double
    ) {
        self.machineName = machineName
        self.sensorNo = sensorNo
        self.collectedAt = collectedAt
        self.measuredTime = measuredTime
        self.normal = normal
        self.unbalance = unbalance
        self.looseness = looseness
        self.unbalanceLooseness = unbalanceLooseness
    }

    /// Every field that breaks the data contract; empty when the sample may be stored.
    public func violations() -> [FieldViolation] {
        var found: [FieldViolation] = []
        Validation.checkMachineName(machineName, into: &found)
        Validation.checkSensorNo(sensorNo, into: &found)
        Validation.checkMeasuredTime(measuredTime, into: &found)
        Validation.checkAcceleration(normal, field: "normal", into: &found)
        Validation.checkAcceleration(unbalance, field: "unbalance", into: &found)
        Validation.checkAcceleration(looseness, field: "looseness", into: &found)
        Validation.checkAcceleration(unbalanceLooseness, field: "unbalance_looseness", into: &found)
        return found
    }
}

public struct StoredSample: Hashable, Sendable {
    public var id: Int64
    public var sample: VibrationSample

    public init(id: Int64, sample: VibrationSample) {
        self.id = id
        self.sample = sample
    }
}

/// One verdict on one machine: a row of `vibration_diagnosis`.
public struct Diagnosis: Hashable, Sendable {
    public var machineName: String
    public var detectedAt: Timestamp
    public var faultType: FaultType

    public init(machineName: String, detectedAt: Timestamp, faultType: FaultType) {
        self.machineName = machineName
        self.detectedAt = detectedAt
        self.faultType = faultType
    }

    public func violations() -> [FieldViolation] {
        var found: [FieldViolation] = []
        Validation.checkMachineName(machineName, into: &found)
        return found
    }
}

public struct StoredDiagnosis: Hashable, Sendable {
    public var id: Int64
    public var diagnosis: Diagnosis

    public init(id: Int64, diagnosis: Diagnosis) {
        self.id = id
        self.diagnosis = diagnosis
    }
}

/// What the plant knows of one machine: its sensors, its data range and its newest verdict.
public struct MachineSummary: Hashable, Sendable {
    public var machineName: String
    public var sensors: [String]
    public var sampleCount: Int64
    public var firstCollectedAt: Timestamp?
    public var lastCollectedAt: Timestamp?
    public var latestDiagnosis: StoredDiagnosis?

    public init(
        machineName: String, sensors: [String], sampleCount: Int64, firstCollectedAt: Timestamp?,
        lastCollectedAt: Timestamp?, latestDiagnosis: StoredDiagnosis?
    ) {
        self.machineName = machineName
        self.sensors = sensors
        self.sampleCount = sampleCount
        self.firstCollectedAt = firstCollectedAt
        self.lastCollectedAt = lastCollectedAt
        self.latestDiagnosis = latestDiagnosis
    }
}

/// Consecutive diagnoses of one machine with the same verdict: a band on the fault timeline.
public struct DiagnosisRun: Hashable, Sendable {
    public var machineName: String
    public var faultType: FaultType
    /// The first and the last diagnosis of the run.
    public var first: Timestamp
    public var last: Timestamp
    public var count: Int
    /// The id of the run's last diagnosis, whose evidence explains it.
    public var lastID: Int64

    public init(machineName: String, faultType: FaultType, first: Timestamp, last: Timestamp, count: Int, lastID: Int64) {
        self.machineName = machineName
        self.faultType = faultType
        self.first = first
        self.last = last
        self.count = count
        self.lastID = lastID
    }

    /// Whether a later run of the same machine has the same verdict, so that the two make one band.
    public func continues(into later: DiagnosisRun) -> Bool {
        machineName == later.machineName && faultType == later.faultType
    }

    /// Takes in a later run with the same verdict.
    public mutating func extend(with later: DiagnosisRun) {
        last = later.last
        count += later.count
        lastID = later.lastID
    }
}

/// A key that lets a client write (or, read-only, read) through the API. Only a hash of its secret
/// is stored; the secret is shown once, when the key is made.
public struct APIKey: Hashable, Sendable {
    public var id: Int64
    public var name: String
    public var readOnly: Bool
    public var createdAt: Timestamp
    public var revokedAt: Timestamp?

    public init(id: Int64, name: String, readOnly: Bool, createdAt: Timestamp, revokedAt: Timestamp?) {
        self.id = id
        self.name = name
        self.readOnly = readOnly
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}
