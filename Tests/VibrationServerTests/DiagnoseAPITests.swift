import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VibrationCore

@Suite("Diagnose API")
struct DiagnoseAPITests {
    func body(_ values: [Double], extra: String) -> String {
        "{\"values\": [\(values.map { String($0) }.joined(separator: ","))], \(extra)}"
    }

    @Test("a generated unbalance window is diagnosed with its evidence, with and without rpm", arguments: Backend.available)
    func unbalance(backend: Backend) async throws {
        let channel = PlantGenerator.Channel(shaftHz: 24, seed: 77, sampleRateHz: 5_120)
        let w = PlantGenerator.window(of: channel, count: 5_120, sampleRateHz: 5_120)
        try await withApp(backend: backend) { client, _ in
            for extra in ["\"sample_rate_hz\": 5120, \"rpm\": 1440, \"iso_group\": 1, \"foundation\": \"flexible\"", "\"sample_rate_hz\": 5120"] {
                let reply = try await client.call(.post, "/diagnose", json: body(w.unbalance, extra: extra))
                #expect(reply.status == .ok, "\(reply.text)")
                #expect(reply["fault_type"] as? Int == 1)
                #expect(reply["fault_name"] as? String == "mass unbalance")
                #expect(abs((reply["shaft_hz"] as? Double ?? 0) - 24) < 1)
                #expect(["A", "B", "C", "D"].contains(reply["severity_zone"] as? String ?? ""))
                let evidence = reply["evidence"] as? [[String: Any]] ?? []
                #expect(evidence.contains { $0["feature"] as? String == "amplitude_1x" && $0["exceeded"] as? Bool == true })
            }
        }
    }

    @Test("uneven measured_time is accepted; looseness is found", arguments: Backend.available)
    func measuredTime(backend: Backend) async throws {
        let channel = PlantGenerator.Channel(shaftHz: 31, seed: 3, sampleRateHz: 1_350)
        let w = PlantGenerator.window(of: channel, count: 1_350, sampleRateHz: 1_350)
        var rng = SplitMix64(seed: 1)
        let times = (0..<1_350).map { Double($0) / 1_350 + (rng.unit() - 0.5) * 0.0001 }
        let json = "{\"values\": [\(w.looseness.map { String($0) }.joined(separator: ","))], \"measured_time\": [\(times.map { String($0) }.joined(separator: ","))], \"rpm\": 1860}"
        try await withApp(backend: backend) { client, _ in
            let reply = try await client.call(.post, "/diagnose", json: json)
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(reply["fault_type"] as? Int == 2)
        }
    }

    @Test(
        "bad waveforms are 422 naming the field",
        arguments: [
            ("{\"values\": [1, 2, 3]}", "values"),
            ("{\"values\": [1, 2, 3, 4, 5]}", "sample_rate_hz"),
            ("{\"values\": [1, 2, 3, 4, 5], \"sample_rate_hz\": 0}", "sample_rate_hz"),
            ("{\"values\": [1, 2, 3, 4, 5], \"sample_rate_hz\": 100, \"rpm\": -5}", "rpm"),
            ("{\"values\": [1, 2, 3, 4], \"measured_time\": [0, 1, 1, 2]}", "measured_time"),
            ("{\"values\": [1, 2, 3, 4], \"measured_time\": [0, 1]}", "measured_time"),
            ("{\"values\": [1, 2, 3, 4], \"sample_rate_hz\": 10, \"measured_time\": [0, 1, 2, 3]}", "measured_time"),
        ])
    func invalid(json: String, field: String) async throws {
        try await withApp { client, _ in
            let reply = try await client.call(.post, "/diagnose", json: json)
            #expect(reply.status == .unprocessableContent, "\(reply.text)")
            #expect(reply.errorFields.contains(field), "\(reply.text)")
        }
    }
}
