import Foundation
import Testing
import VibrationCore

@testable import VibrationStore

@Suite("Automatic diagnosis in the store")
struct AutomaticDiagnosisTests {
    /// A plant of 2 machines x 1 sensor, 12 one-second windows each, at 2 kHz.
    func load(_ store: any Store) async throws {
        let generator = PlantGenerator(options: .init(rows: 2 * 2_000 * 12 + 2 * 100, machines: 2, sensors: 1, rateHz: 2_000, jitter: 0, seed: 4, recordingSeconds: 6))
        var bytes: [UInt8] = []
        try generator.writeCSV { bytes += $0 }
        var parser = SampleCSVParser(now: .now)
        var batch = SampleBatch()
        try bytes.withUnsafeBytes { try parser.parse($0, into: &batch) }
        try parser.finish(into: &batch)
        _ = try await store.ingestAtomically([batch])
    }

    /// The engine's loop, as the server runs it, without the server.
    func diagnose(_ store: any Store) async throws -> (windows: Int, alarms: [Alarm]) {
        var windows = 0
        var alarms: [Alarm] = []
        let classifier = FaultClassifier()
        while true {
            let pending = try await store.scan(seconds: 1, limit: 7, channels: nil, machines: nil)
            var results: [WindowResult] = []
            for window in pending.windows {
                let (times, values) = try await store.samples(of: window)
                let profile = try await store.machineStatus(named: window.machineName)!.config.profile
                results.append(WindowResult(window: window, diagnosis: classifier.diagnose(Waveform(values: values, times: times)!, profile: profile)))
            }
            alarms += try await store.record(results, passedOver: [], tracker: MachineStateTracker(), holder: nil)
            windows += results.count
            if pending.windows.isEmpty { break }
        }
        return (windows, alarms)
    }

    @Test("the feature trend lists what the engine measured per window, oldest first, newest when limited", arguments: Backend.available)
    func featureTrend(backend: Backend) async throws {
        let store = try await backend.makeStore()
        _ = try await store.save(MachineConfig(machineName: "g2", channel: .unbalance))
        try await load(store)
        _ = try await diagnose(store)
        let diagnoses = try await store.diagnoses(matching: DiagnosisFilter(machineName: "g2"), after: nil, limit: 100)
        let trend = try await store.featureTrend(machineName: "g2", from: nil, to: nil, limit: 100)
        #expect(trend.map(\.diagnosisID) == diagnoses.map(\.id))
        #expect(trend.allSatisfy { $0.channel == .unbalance && $0.faultType == .massUnbalance && $0.oneX > 0.18 && $0.rms > 0 })
        for point in trend.prefix(3) {
            let evidence = try #require(try await store.engineEvidence(diagnosisID: point.diagnosisID))
            #expect(evidence.velocityRMS == point.velocityRMS && evidence.shaftHz == point.shaftHz)
        }
        let newest = try await store.featureTrend(machineName: "g2", from: nil, to: nil, limit: 4)
        #expect(newest.map(\.diagnosisID) == Array(diagnoses.suffix(4).map(\.id)))
        let ranged = try await store.featureTrend(machineName: "g2", from: diagnoses[2].diagnosis.detectedAt, to: diagnoses[5].diagnosis.detectedAt, limit: 100)
        #expect(ranged.map(\.diagnosisID) == diagnoses[2...5].map(\.id))
        #expect(try await store.featureTrend(machineName: "nobody", from: nil, to: nil, limit: 10).isEmpty)
    }

    @Test("each machine's monitored channel is diagnosed once per complete window; states and alarms follow", arguments: Backend.available)
    func monitoredChannels(backend: Backend) async throws {
        let store = try await backend.makeStore()
        _ = try await store.save(MachineConfig(machineName: "g2", channel: .unbalance))
        try await load(store)
        let first = try await diagnose(store)
        // 12 complete windows per machine; the 13th (the last 0.05 s) waits for more data.
        #expect(first.windows == 24)
        let g1 = try await store.diagnoses(matching: DiagnosisFilter(machineName: "g1"), after: nil, limit: 100)
        let g2 = try await store.diagnoses(matching: DiagnosisFilter(machineName: "g2"), after: nil, limit: 100)
        #expect(g1.count == 12 && g1.allSatisfy { $0.diagnosis.faultType == .normal })
        #expect(g2.count == 12 && g2.allSatisfy { $0.diagnosis.faultType == .massUnbalance })
        // Verdicts are stamped with the end of their window, in order.
        #expect(g2.map(\.diagnosis.detectedAt) == g2.map(\.diagnosis.detectedAt).sorted())
        #expect(try await store.machineStatus(named: "g2")?.state.faultType == .massUnbalance)
        #expect(try await store.machineStatus(named: "g1")?.state.faultType == .normal)
        #expect(first.alarms.map(\.machineName) == ["g2"])
        #expect(try await store.alarms(openOnly: true, machineName: nil, limit: 10).map(\.machineName) == ["g2"])
        // Nothing new: nothing more. Loading the same data again: nothing more either.
        #expect(try await diagnose(store).windows == 0)
        try await load(store)
        #expect(try await diagnose(store).windows == 0)
        #expect(try await store.diagnoses(matching: DiagnosisFilter(), after: nil, limit: 1_000).count == 24)
    }

    @Test("alarms are acknowledged once; baselines are learned from a healthy period", arguments: Backend.available)
    func alarmsAndBaseline(backend: Backend) async throws {
        let store = try await backend.makeStore()
        _ = try await store.save(MachineConfig(machineName: "g2", channel: .unbalance))
        try await load(store)
        let alarm = try #require(try await diagnose(store).alarms.first)
        let acknowledged = try await store.acknowledgeAlarm(id: alarm.id, by: "kim")
        #expect(acknowledged?.acknowledgedBy == "kim")
        #expect(try await store.acknowledgeAlarm(id: alarm.id, by: "lee")?.acknowledgedBy == "kim")
        #expect(try await store.acknowledgeAlarm(id: 9_999, by: nil) == nil)
        let baseline = try #require(try await store.learnBaseline(machineName: "g1", from: Timestamp(microseconds: 0), to: .now))
        #expect(baseline.oneX > 0 && baseline.oneX < 0.1)
        #expect(try await store.machineStatus(named: "g1")?.config.baseline == baseline)
        #expect(try await store.learnBaseline(machineName: "g1", from: .now, to: .now) == nil)
    }

    @Test("forgetting the engine's verdicts makes it diagnose the windows again", arguments: Backend.available)
    func rediagnose(backend: Backend) async throws {
        let store = try await backend.makeStore()
        try await load(store)
        #expect(try await diagnose(store).windows == 24)
        _ = try await store.insert(Diagnosis(machineName: "g1", detectedAt: .now, faultType: .supportLooseness))
        #expect(try await store.forgetEngineDiagnoses(machineName: "g1", from: nil, to: nil) == 12)
        // The verdict posted from outside is kept.
        #expect(try await store.diagnoses(matching: DiagnosisFilter(machineName: "g1"), after: nil, limit: 100).count == 1)
        #expect(try await diagnose(store).windows == 12)
    }

    @Test("windows that can never complete do not pile up: beyond the cap the oldest are given up", arguments: Backend.available)
    func openWindowsAreCapped(backend: Backend) async throws {
        let store = try await backend.makeStore()
        // One sample on each of many sensors: each opens a window that would need data after it, which
        // never comes.
        var batch = SampleBatch()
        var streams = StreamTable()
        let cap = PendingWindows.maximumOpenWindows
        for i in 0..<(cap + 50) {
            guard case .success(let stream) = streams.index(of: StreamKey(machineName: "stuck", sensorNo: "s\(i)"), into: &batch) else {
                Issue.record("no stream")
                return
            }
            batch.append(stream: stream, collectedAt: 1_700_000_000_000_000 + Int64(i) * 1_000_000, measuredTime: 0, 0, 0, 0, 0, line: i + 2)
        }
        _ = try await store.ingestAtomically([batch])
        let first = try await store.scan(seconds: 1, limit: 500, channels: nil, machines: nil)
        #expect(first.windows.isEmpty)
        #expect(first.open.count == cap)
        #expect(first.abandoned == 50)
        // The newest are kept: the latest window ends last.
        _ = try await store.record([], passedOver: [], tracker: MachineStateTracker(), holder: nil)
        let again = try await store.scan(seconds: 1, limit: 500, channels: nil, machines: nil)
        #expect(again.open.count == cap && again.abandoned == 0)
    }
}
