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
            #expect(batch.count == DemoStream.machines.count * 2 * 2_000)
            #expect(batch.rejected.isEmpty)
            let keys = parser.streams.keys
            let rows = (0..<batch.count).filter { keys[Int(batch.stream[$0])] == StreamKey(machineName: machine, sensorNo: "sensor1") }
            let shaft = stream.channels.first { $0.machineName == machine }!.shaftHz
            let waveform = Waveform(samples: rows.map { batch.normal[$0] }, sampleRateHz: 2_000)
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
}
