/// One window of one sensor's recording that the engine has not diagnosed yet.
///
/// Its identity is (sensor, channel, recording start, index): window k covers the recording's
/// measured_time in [k·seconds, (k+1)·seconds), and its instants are the recording's start plus
/// measured_time. `collectedSpan` is where its rows' stored `collected_at` lie (which may be anything
/// the sender had: see `RecordingTracker`); it tells a store where to read them, and is not part of
/// the identity.
public struct AnalysisWindow: Sendable, Hashable {
    public var machineName: String
    public var sensorNo: String
    public var sensorID: Int64
    public var channel: SignalChannel
    /// The recording's start (see `RecordingTracker`).
    public var recordingStart: Timestamp
    /// Window k covers measured_time in [k·seconds, (k+1)·seconds).
    public var index: Int
    public var seconds: Double
    /// The lowest and highest collected_at (µs) of the window's rows seen so far; nil means the
    /// rows' collected_at is their instant (start ... end).
    public var collectedSpan: ClosedRange<Int64>?

    public init(
        machineName: String, sensorNo: String, sensorID: Int64, channel: SignalChannel, recordingStart: Timestamp,
        index: Int, seconds: Double, collectedSpan: ClosedRange<Int64>? = nil
    ) {
        self.machineName = machineName
        self.sensorNo = sensorNo
        self.sensorID = sensorID
        self.channel = channel
        self.recordingStart = recordingStart
        self.index = index
        self.seconds = seconds
        self.collectedSpan = collectedSpan
    }

    public var start: Timestamp { recordingStart.adding(seconds: Double(index) * seconds) }
    public var end: Timestamp { recordingStart.adding(seconds: Double(index + 1) * seconds) }

    /// Where the window's rows' collected_at lie.
    public var rowSpan: ClosedRange<Int64> { collectedSpan ?? start.microseconds...end.microseconds }

    /// Whether a sample's measured_time falls in the window.
    @inline(__always)
    public func holds(measuredTime t: Double) -> Bool {
        t >= Double(index) * seconds && t < Double(index + 1) * seconds
    }

    /// The same window with `other`'s rows' span added.
    public func widened(by other: ClosedRange<Int64>?) -> AnalysisWindow {
        guard let other else { return self }
        var copy = self
        copy.collectedSpan = collectedSpan.map { min($0.lowerBound, other.lowerBound)...max($0.upperBound, other.upperBound) } ?? other
        return copy
    }

    public static func == (a: AnalysisWindow, b: AnalysisWindow) -> Bool {
        a.sensorID == b.sensorID && a.channel == b.channel && a.recordingStart == b.recordingStart && a.index == b.index
            && a.seconds == b.seconds && a.machineName == b.machineName && a.sensorNo == b.sensorNo
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(sensorID)
        hasher.combine(channel)
        hasher.combine(recordingStart)
        hasher.combine(index)
    }
}

/// The engine's verdict on a window, ready to be stored.
public struct WindowResult: Sendable {
    public var window: AnalysisWindow
    public var diagnosis: WindowDiagnosis

    public init(window: AnalysisWindow, diagnosis: WindowDiagnosis) {
        self.window = window
        self.diagnosis = diagnosis
    }
}

/// A raised alarm: a machine confirmed in a fault, or in ISO zone C or D.
public struct Alarm: Sendable, Hashable {
    public var id: Int64
    public var machineName: String
    public var faultType: FaultType
    public var severityZone: ISO10816.Zone?
    public var message: String
    public var openedAt: Timestamp
    public var closedAt: Timestamp?
    public var acknowledgedAt: Timestamp?
    public var acknowledgedBy: String?

    public init(
        id: Int64, machineName: String, faultType: FaultType, severityZone: ISO10816.Zone?, message: String,
        openedAt: Timestamp, closedAt: Timestamp? = nil, acknowledgedAt: Timestamp? = nil, acknowledgedBy: String? = nil
    ) {
        self.id = id
        self.machineName = machineName
        self.faultType = faultType
        self.severityZone = severityZone
        self.message = message
        self.openedAt = openedAt
        self.closedAt = closedAt
        self.acknowledgedAt = acknowledgedAt
        self.acknowledgedBy = acknowledgedBy
    }

    public var isOpen: Bool { closedAt == nil }
}

/// A machine's registry entry with its confirmed state, for the API and the status board.
public struct MachineStatus: Sendable, Hashable {
    public var config: MachineConfig
    public var state: MachineState

    public init(config: MachineConfig, state: MachineState) {
        self.config = config
        self.state = state
    }
}

/// What the built-in engine recorded behind one of its diagnoses.
public struct EngineEvidence: Sendable {
    public var sensorNo: String
    public var channel: SignalChannel
    public var windowStart: Timestamp
    public var windowSeconds: Double
    public var confidence: Double
    public var severityZone: ISO10816.Zone
    public var velocityRMS: Double
    public var shaftHz: Double
    public var evidence: [Evidence]

    public init(
        sensorNo: String, channel: SignalChannel, windowStart: Timestamp, windowSeconds: Double, confidence: Double,
        severityZone: ISO10816.Zone, velocityRMS: Double, shaftHz: Double, evidence: [Evidence]
    ) {
        self.sensorNo = sensorNo
        self.channel = channel
        self.windowStart = windowStart
        self.windowSeconds = windowSeconds
        self.confidence = confidence
        self.severityZone = severityZone
        self.velocityRMS = velocityRMS
        self.shaftHz = shaftHz
        self.evidence = evidence
    }
}

/// What the engine measured in one diagnosed window, for trends over time.
public struct FeaturePoint: Hashable, Sendable {
    public var diagnosisID: Int64
    /// The end of the window (the diagnosis' detected_at).
    public var time: Timestamp
    public var faultType: FaultType
    public var severityZone: ISO10816.Zone
    public var sensorNo: String
    public var channel: SignalChannel
    public var rms: Double
    public var crestFactor: Double
    public var kurtosis: Double
    /// Velocity RMS 10-1000 Hz, mm/s.
    public var velocityRMS: Double
    public var oneX: Double
    public var harmonics: Double
    public var shaftHz: Double

    public init(
        diagnosisID: Int64, time: Timestamp, faultType: FaultType, severityZone: ISO10816.Zone, sensorNo: String,
        channel: SignalChannel, rms: Double, crestFactor: Double, kurtosis: Double, velocityRMS: Double, oneX: Double,
        harmonics: Double, shaftHz: Double
    ) {
        self.diagnosisID = diagnosisID
        self.time = time
        self.faultType = faultType
        self.severityZone = severityZone
        self.sensorNo = sensorNo
        self.channel = channel
        self.rms = rms
        self.crestFactor = crestFactor
        self.kurtosis = kurtosis
        self.velocityRMS = velocityRMS
        self.oneX = oneX
        self.harmonics = harmonics
        self.shaftHz = shaftHz
    }
}
