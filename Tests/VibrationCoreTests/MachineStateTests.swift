import Foundation
import Testing

@testable import VibrationCore

@Suite("Machine state and alarms")
struct MachineStateTests {
    func run(_ verdicts: [(FaultType, ISO10816.Zone)], confirmations: Int = 3) -> (MachineState, [[AlarmEvent]]) {
        let tracker = MachineStateTracker(confirmations: confirmations)
        var state = MachineState()
        var events: [[AlarmEvent]] = []
        for (i, (fault, zone)) in verdicts.enumerated() {
            events.append(tracker.apply(verdict: fault, zone: zone, at: Timestamp(microseconds: Int64(i)), to: &state, machineName: "m"))
        }
        return (state, events)
    }

    @Test("a fault is confirmed only by enough consecutive windows, and opens one alarm")
    func hysteresis() {
        let u = FaultType.massUnbalance
        let (state, events) = run([(.normal, .a), (u, .b), (u, .b), (.normal, .a), (u, .b), (u, .b), (u, .b), (u, .b)])
        #expect(state.faultType == .massUnbalance)
        #expect(state.since == Timestamp(microseconds: 6))
        let opened = events.enumerated().filter { !$0.element.isEmpty }
        #expect(opened.map(\.offset) == [6])
        if case .open(_, _, let fault, _, _)? = opened.first?.element.first { #expect(fault == u) } else { Issue.record("no open event") }
    }

    @Test("returning to normal in zone A or B closes the alarm after the same confirmation")
    func recovery() {
        let l = FaultType.supportLooseness
        let (state, events) = run([(l, .b), (l, .b), (l, .b), (.normal, .a), (.normal, .a), (.normal, .a)])
        #expect(state.faultType == .normal)
        #expect(events[2].count == 1)
        #expect(events[5] == [.close(machineName: "m", at: Timestamp(microseconds: 5))])
    }

    @Test("a normal machine in zone C or D raises an alarm too")
    func severity() {
        let (_, events) = run([(.normal, .b), (.normal, .c)])
        #expect(events[0].isEmpty)
        guard case .open(_, _, .normal, .c?, _)? = events[1].first else {
            Issue.record("expected a severity alarm, got \(events[1])")
            return
        }
    }

    @Test("a change from one fault to another closes the old alarm and opens a new one")
    func faultChange() {
        let (state, events) = run([(.massUnbalance, .b), (.massUnbalance, .b), (.unbalanceAndLooseness, .c), (.unbalanceAndLooseness, .c)], confirmations: 2)
        #expect(state.faultType == .unbalanceAndLooseness)
        #expect(events[3].count == 2)
        if case .close = events[3][0] {} else { Issue.record("expected close first") }
    }
}

@Suite("Machine state: passing verdicts")
struct PassingVerdictTests {
    @Test("windows that disagree with the state do not move its zone or raise a severity alarm")
    func passing() {
        let tracker = MachineStateTracker(confirmations: 3)
        var state = MachineState()
        var events: [AlarmEvent] = []
        for (i, verdict) in [FaultType.massUnbalance, .massUnbalance, .massUnbalance].enumerated() {
            events += tracker.apply(verdict: verdict, zone: .d, at: Timestamp(microseconds: Int64(i)), to: &state, machineName: "m")
        }
        #expect(events.count == 1)
        #expect(state.faultType == .massUnbalance && state.zone == .d)
    }
}

@Suite("Recording a round of verdicts (VerdictPlan)")
struct VerdictPlanTests {
    static let classifier = FaultClassifier()

    /// A verdict of the classifier itself: an unbalance-like 1X sine, or broadband noise.
    static func verdict(fault: Bool) -> WindowDiagnosis {
        var rng = SplitMix64(seed: fault ? 1 : 2)
        var values: [Double] = []
        for i in 0..<4_096 {
            let noise: Double = (Double(rng.next() % 2_000) / 1_000 - 1) * 0.02
            let line: Double = fault ? 0.8 * sin(2 * Double.pi * 25 * Double(i) / 4_096) : 0
            values.append(line + noise)
        }
        return classifier.diagnose(Waveform(samples: values, sampleRateHz: 4_096), profile: MachineProfile(rpm: 1_500))
    }

    static func result(_ machine: String, window index: Int, fault: Bool, channel: SignalChannel = .normal) -> WindowResult {
        WindowResult(
            window: AnalysisWindow(
                machineName: machine, sensorNo: "s1", sensorID: ["A": 1, "B": 2, "C": 3][machine] ?? 0, channel: channel,
                recordingStart: Timestamp(microseconds: 1_000_000_000), index: index, seconds: 1),
            diagnosis: fault ? faultVerdict : normalVerdict)
    }

    static let faultVerdict = verdict(fault: true)
    static let normalVerdict = verdict(fault: false)

    /// A: three faulty windows then three normal ones (an alarm opens and closes); B: three faulty
    /// (an alarm stays open); C: not in the registry; A's unbalance column: not its monitored channel.
    static let round: [WindowResult] =
        (0..<3).map { result("A", window: $0, fault: true) } + (3..<6).map { result("A", window: $0, fault: false) }
        + (0..<3).map { result("B", window: $0, fault: true) } + (0..<2).map { result("C", window: $0, fault: true) }
        + [result("A", window: 0, fault: true, channel: .unbalance)]

    static let machines: [String: VerdictPlan.Machine] = [
        "A": .init(channel: .normal, state: MachineState()), "B": .init(channel: .normal, state: MachineState()),
    ]

    @Test("each window once, none recorded before; states and alarms only from the monitored channel; an alarm closed in the round is not reported open")
    func plan() throws {
        try #require(Self.faultVerdict.faultType != .normal && Self.normalVerdict.faultType == .normal)
        let recordedBefore = Self.round[7].window  // B's second window
        let plan = VerdictPlan(
            results: Self.round + [Self.round[0], Self.round[4]], recorded: { $0 == recordedBefore }, machines: Self.machines,
            tracker: MachineStateTracker(confirmations: 3))
        #expect(plan.fresh.count == Self.round.count - 1)
        #expect(Set(plan.fresh.map(\.window)).count == plan.fresh.count)
        #expect(!plan.fresh.map(\.window).contains(recordedBefore))
        // The results come out by window end, then machine.
        #expect(zip(plan.fresh, plan.fresh.dropFirst()).allSatisfy { a, b in
            (a.window.end, a.window.machineName) <= (b.window.end, b.window.machineName)
        })
        #expect(Set(plan.states.keys) == ["A", "B"])
        #expect(plan.states["A"]?.faultType == .normal)
        // B's recorded window is not counted again: two faulty windows do not confirm the fault.
        #expect(plan.states["B"]?.faultType == .normal && plan.states["B"]?.pendingCount == 2)
        let opens = plan.alarmEvents.filter { if case .open = $0 { true } else { false } }
        #expect(opens.count == 1)
        #expect(plan.opened(ids: [41]).isEmpty, "A's alarm closed in the same round")
    }

    @Test("the order the results arrive in changes nothing")
    func orderIndependent() {
        let tracker = MachineStateTracker(confirmations: 3)
        let reference = VerdictPlan(results: Self.round, recorded: { _ in false }, machines: Self.machines, tracker: tracker)
        // A opens and closes, B opens and stays open.
        #expect(reference.alarmEvents.count == 3)
        #expect(reference.opened(ids: [7, 8]).map(\.id) == [8])
        #expect(reference.opened(ids: [7, 8]).map(\.machineName) == ["B"])
        var rng = SplitMix64(seed: 5)
        for _ in 0..<20 {
            var shuffled = Self.round
            for i in stride(from: shuffled.count - 1, to: 0, by: -1) { shuffled.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            let plan = VerdictPlan(results: shuffled, recorded: { _ in false }, machines: Self.machines, tracker: tracker)
            #expect(Set(plan.fresh.map(\.window)) == Set(reference.fresh.map(\.window)))
            #expect(plan.fresh.map(\.window.end) == reference.fresh.map(\.window.end))
            #expect(plan.alarmEvents == reference.alarmEvents)
            #expect(plan.states == reference.states)
        }
    }
}
