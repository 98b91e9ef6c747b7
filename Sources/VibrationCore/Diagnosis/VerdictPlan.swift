/// What storing a round of the engine's verdicts changes, worked out without a database: which
/// verdicts are new, how each machine's confirmed state moves, which alarms open and close. A store
/// reads what the plan needs (the windows recorded before, the machines' monitored channels and
/// states) and writes the plan in one transaction, so that both backends record the same way.
public struct VerdictPlan: Sendable {
    /// The verdicts to store, ordered by window end and machine: each window once, none recorded before.
    public private(set) var fresh: [WindowResult] = []
    /// The alarms to open and close, in the order the verdicts raised them.
    public private(set) var alarmEvents: [AlarmEvent] = []
    /// The new state of each machine a verdict on its monitored channel moved.
    public private(set) var states: [String: MachineState] = [:]

    /// What the plan needs to know of a machine.
    public struct Machine: Sendable {
        public var channel: SignalChannel
        public var state: MachineState

        public init(channel: SignalChannel, state: MachineState) {
            self.channel = channel
            self.state = state
        }
    }

    /// Plans the results. `recorded` says which windows were diagnosed before (by an earlier run or
    /// another server); `machines` holds every machine `machineNames(of:)` names that is in the
    /// registry. A verdict on another channel than its machine's monitored one is stored but moves
    /// no state.
    public init(
        results: [WindowResult], recorded: (AnalysisWindow) throws -> Bool, machines: [String: Machine], tracker: MachineStateTracker
    ) rethrows {
        var seen = Set<AnalysisWindow>()
        for result in Self.ordered(results) where try !recorded(result.window) && seen.insert(result.window).inserted {
            fresh.append(result)
        }
        for result in fresh {
            let w = result.window
            guard let machine = machines[w.machineName], machine.channel == w.channel else { continue }
            var state = states[w.machineName] ?? machine.state
            alarmEvents += tracker.apply(
                verdict: result.diagnosis.faultType, zone: result.diagnosis.severityZone, at: w.end, to: &state, machineName: w.machineName)
            states[w.machineName] = state
        }
    }

    /// The results in the order they are recorded: by window end, then machine.
    public static func ordered(_ results: [WindowResult]) -> [WindowResult] {
        results.sorted { ($0.window.end, $0.window.machineName) < ($1.window.end, $1.window.machineName) }
    }

    /// The machines whose registry entries a plan of these results reads.
    public static func machineNames(of results: [WindowResult]) -> [String] {
        Array(Set(results.map(\.window.machineName))).sorted()
    }

    /// The alarms the plan opened that are still open at its end, given the id the store gave each
    /// opened alarm, in order.
    public func opened(ids: [Int64]) -> [Alarm] {
        var opened: [Alarm] = []
        var next = ids.makeIterator()
        for event in alarmEvents {
            switch event {
            case .open(let machine, let at, let fault, let zone, let message):
                guard let id = next.next() else { continue }
                opened.append(Alarm(id: id, machineName: machine, faultType: fault, severityZone: zone, message: message, openedAt: at))
            case .close(let machine, _):
                opened.removeAll { $0.machineName == machine }
            }
        }
        return opened
    }
}
