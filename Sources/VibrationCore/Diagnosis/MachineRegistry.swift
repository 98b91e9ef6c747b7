/// Which of the four signal columns carries a machine's live signal.
public enum SignalChannel: String, Sendable, Codable, CaseIterable, Hashable {
    case normal
    case unbalance
    case looseness
    case unbalanceLooseness = "unbalance_looseness"
}

/// What the plant knows about a machine beyond its data: where it is, how fast it turns, how it
/// is mounted, which column to watch, and its healthy baseline once learned.
public struct MachineConfig: Sendable, Hashable, Codable {
    public var machineName: String
    /// Line or area of the plant.
    public var line: String?
    public var rpm: Double?
    public var isoGroup: ISO10816.MachineGroup
    public var foundation: ISO10816.Foundation
    public var channel: SignalChannel
    public var baseline: HealthyBaseline?

    public init(
        machineName: String, line: String? = nil, rpm: Double? = nil, isoGroup: ISO10816.MachineGroup = .medium,
        foundation: ISO10816.Foundation = .rigid, channel: SignalChannel = .normal, baseline: HealthyBaseline? = nil
    ) {
        self.machineName = machineName
        self.line = line
        self.rpm = rpm
        self.isoGroup = isoGroup
        self.foundation = foundation
        self.channel = channel
        self.baseline = baseline
    }

    public var profile: MachineProfile {
        MachineProfile(rpm: rpm, group: isoGroup, foundation: foundation, baseline: baseline)
    }

    public func violations() -> [FieldViolation] {
        var found: [FieldViolation] = []
        Validation.checkMachineName(machineName, into: &found)
        if let line, line.count > 100 {
            found.append(FieldViolation(field: "line", message: "must be at most 100 characters"))
        }
        if let rpm, !(rpm > 0 && rpm <= 1_000_000) {
            found.append(FieldViolation(field: "rpm", message: "must be above 0 and at most 1,000,000, got \(rpm)"))
        }
        return found
    }
}

/// A machine's confirmed condition: it changes only when enough consecutive windows agree.
public struct MachineState: Sendable, Hashable {
    public var faultType: FaultType
    public var zone: ISO10816.Zone?
    public var since: Timestamp?
    /// A different verdict seen in the latest windows, and how many in a row.
    public var pending: FaultType?
    public var pendingCount: Int
    public var lastWindowAt: Timestamp?

    public init(
        faultType: FaultType = .normal, zone: ISO10816.Zone? = nil, since: Timestamp? = nil, pending: FaultType? = nil,
        pendingCount: Int = 0, lastWindowAt: Timestamp? = nil
    ) {
        self.faultType = faultType
        self.zone = zone
        self.since = since
        self.pending = pending
        self.pendingCount = pendingCount
        self.lastWindowAt = lastWindowAt
    }
}

/// What happened to a machine's alarm as windows came in.
public enum AlarmEvent: Sendable, Hashable {
    /// A fault, or zone C or D, was confirmed.
    case open(machineName: String, at: Timestamp, faultType: FaultType, zone: ISO10816.Zone?, message: String)
    /// The machine returned to normal in zone A or B.
    case close(machineName: String, at: Timestamp)
}

/// Applies window verdicts to a machine's state with hysteresis and says when alarms open and close.
public struct MachineStateTracker: Sendable {
    /// Consecutive windows that must agree before the state changes.
    public var confirmations: Int

    public init(confirmations: Int = 3) {
        self.confirmations = max(1, confirmations)
    }

    public func apply(
        verdict: FaultType, zone: ISO10816.Zone, at time: Timestamp, to state: inout MachineState, machineName: String
    ) -> [AlarmEvent] {
        let wasAlarming = Self.alarming(state.faultType, state.zone)
        state.lastWindowAt = time
        if verdict == state.faultType {
            state.pending = nil
            state.pendingCount = 0
        } else if verdict == state.pending {
            state.pendingCount += 1
        } else {
            state.pending = verdict
            state.pendingCount = 1
        }
        var changed = false
        if let pending = state.pending, state.pendingCount >= confirmations {
            state.faultType = pending
            state.since = time
            state.pending = nil
            state.pendingCount = 0
            changed = true
        }
        // The zone follows the windows that agree with the confirmed state, so that a passing
        // verdict does not raise a severity alarm of its own.
        if verdict == state.faultType { state.zone = zone }
        let isAlarming = Self.alarming(state.faultType, state.zone)
        if !wasAlarming && isAlarming || (changed && isAlarming) {
            let message =
                state.faultType == .normal
                ? "vibration severity in ISO 10816-3 zone \(state.zone?.rawValue ?? "?")"
                : "\(state.faultType.name) confirmed by \(confirmations) consecutive windows"
            return (wasAlarming ? [.close(machineName: machineName, at: time)] : [])
                + [.open(machineName: machineName, at: time, faultType: state.faultType, zone: state.zone, message: message)]
        }
        if wasAlarming && !isAlarming { return [.close(machineName: machineName, at: time)] }
        return []
    }

    static func alarming(_ fault: FaultType, _ zone: ISO10816.Zone?) -> Bool {
        fault != .normal || zone == .c || zone == .d
    }
}
