import Foundation
import Logging
import Testing
import VibrationCore

@testable import VibrationServer

@Suite("Demo plant")
struct DemoStreamTests {
    @Test("each second holds every channel; the live signal follows each machine's scenario")
    func scenarios() throws {
        let stream = DemoStream(url: "http://127.0.0.1:1", logger: Logger(label: "test"))
        let start = Timestamp(parsing: "2025-01-01T00:00:00Z")!
        func liveVerdict(machine: String, second: Int) throws -> FaultType {
            var parser = SampleCSVParser(now: start)
            var batch = SampleBatch()
            try stream.csv(second: second, start: start).withUnsafeBytes { try parser.parse($0, into: &batch) }
            try parser.finish(into: &batch)
            #expect(batch.count == DemoStream.machines.count * 2 * 1_000)
            #expect(batch.rejected.isEmpty)
            let keys = parser.streams.keys
            let rows = (0..<batch.count).filter { keys[Int(batch.stream[$0])] == StreamKey(machineName: machine, sensorNo: "sensor1") }
            let shaft = stream.channels.first { $0.machineName == machine }!.shaftHz
            let waveform = Waveform(samples: rows.map { batch.normal[$0] }, sampleRateHz: 1_000)
            return FaultClassifier().diagnose(waveform, profile: MachineProfile(rpm: shaft * 60)).faultType
        }
        #expect(try liveVerdict(machine: "line-a-press", second: 300) == .normal)
        #expect(try liveVerdict(machine: "line-a-pump", second: 100) == .normal)
        #expect(try liveVerdict(machine: "line-a-pump", second: 200) == .massUnbalance)
        #expect(try liveVerdict(machine: "line-a-compressor", second: 250) == .supportLooseness)
        #expect(try liveVerdict(machine: "line-b-fan", second: 300) == .unbalanceAndLooseness)
        #expect(try liveVerdict(machine: "line-b-mixer", second: 10) == .massUnbalance)
        #expect(try liveVerdict(machine: "line-b-mixer", second: 260) == .normal)
    }

    @Test("the history's snapshots show each machine's past episodes; lines come from the names")
    func history() throws {
        let stream = DemoStream(url: "http://127.0.0.1:1", historyHours: 3, logger: Logger(label: "test"))
        let at = Timestamp(parsing: "2025-01-01T00:00:00Z")!
        func verdict(_ machine: String, hoursAgo: Double) throws -> FaultType {
            var parser = SampleCSVParser(now: at)
            var batch = SampleBatch()
            try stream.snapshot(at: at, hoursAgo: hoursAgo).withUnsafeBytes { try parser.parse($0, into: &batch) }
            try parser.finish(into: &batch)
            #expect(batch.rejected.isEmpty)
            let keys = parser.streams.keys
            let rows = (0..<batch.count).filter { keys[Int(batch.stream[$0])] == StreamKey(machineName: machine, sensorNo: "sensor2") }
            #expect(rows.count == 1_000)
            // Each snapshot is its own one-second recording.
            #expect(batch.measuredTime[rows[0]] == 0 && batch.collectedAt[rows[0]] == at.microseconds)
            let shaft = stream.channels.first { $0.machineName == machine }!.shaftHz
            let waveform = Waveform(samples: rows.map { batch.normal[$0] }, sampleRateHz: 1_000)
            return FaultClassifier().diagnose(waveform, profile: MachineProfile(rpm: shaft * 60)).faultType
        }
        #expect(try verdict("line-a-fan", hoursAgo: 2.2) == .supportLooseness)
        #expect(try verdict("line-a-fan", hoursAgo: 1.0) == .normal)
        #expect(try verdict("line-b-mixer", hoursAgo: 1.0) == .massUnbalance)
        #expect(try verdict("line-b-mixer", hoursAgo: 2.0) == .normal)
        #expect(try verdict("line-b-conveyor", hoursAgo: 2.7) == .unbalanceAndLooseness)
        #expect(try verdict("line-c-blower", hoursAgo: 1.0) == .massUnbalance)
        #expect(try verdict("line-a-press", hoursAgo: 2.7) == .normal)
        #expect(DemoStream.line(of: "line-c-chiller") == "Line C" && DemoStream.line(of: "sim-001") == nil)
        #expect(Set(DemoStream.machines.compactMap(DemoStream.line(of:))) == ["Line A", "Line B", "Line C"])
    }
}
