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
