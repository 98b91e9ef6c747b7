import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VibrationCore
import VibrationStore

@testable import VibrationServer

@Suite("Machine registry and alarms API")
struct MachineAPITests {
    @Test("PUT sets the registry entry, GET reads it back with its state; unknown is 404", arguments: Backend.available)
    func registry(backend: Backend) async throws {
        try await withApp(backend: backend) { client, _ in
            #expect(try await client.call(.get, "/machines/pump-1").status == .notFound)
            let put = try await client.call(
                .put, "/machines/pump-1", json: "{\"line\": \"Line A\", \"rpm\": 1780, \"iso_group\": 1, \"foundation\": \"flexible\", \"channel\": \"looseness\"}")
            #expect(put.status == .ok, "\(put.text)")
            let got = try await client.call(.get, "/machines/pump-1")
            #expect(got["line"] as? String == "Line A")
            #expect(got["rpm"] as? Double == 1780)
            #expect(got["iso_group"] as? Int == 1)
            #expect(got["foundation"] as? String == "flexible")
            #expect(got["channel"] as? String == "looseness")
            #expect((got["state"] as? [String: Any])?["fault_name"] as? String == "normal")
            #expect((got["state"] as? [String: Any])?["since"] is NSNull)
            #expect(got["open_alarms"] as? Int == 0)
            let list = try await client.call(.get, "/machines")
            #expect(list.items.map { $0["machine_name"] as? String } == ["pump-1"])
            let bad = try await client.call(.put, "/machines/pump-1", json: "{\"rpm\": -3, \"channel\": \"sideways\"}")
            #expect(bad.status.code == 422 || bad.status.code == 400)
            #expect(bad.isProblem)
            let negative = try await client.call(.put, "/machines/pump-1", json: "{\"rpm\": -3}")
            #expect(negative.errorFields == ["rpm"])
        }
    }

    @Test("samples posted over HTTP are diagnosed by the engine, which raises an alarm that can be acknowledged", arguments: Backend.available)
    func automatic(backend: Backend) async throws {
        let generator = PlantGenerator(options: .init(rows: 2_000 * 8, machines: 1, sensors: 1, rateHz: 2_000, jitter: 0, seed: 9, recordingSeconds: 20))
        var bytes: [UInt8] = []
        try generator.writeCSV { bytes += $0 }
        let csv = ByteBuffer(bytes: bytes)
        try await withApp(backend: backend, automaticDiagnosis: true) { client, store in
            _ = try await client.call(.put, "/machines/g1", json: "{\"channel\": \"unbalance_looseness\"}")
            let upload = try await client.call(.post, "/vibration-data/bulk", contentType: "text/csv", bytes: csv)
            #expect(upload["inserted"] as? Int == 16_000)
            var alarms: [[String: Any]] = []
            // The engine runs beside the rest of the suite: allow it 30 s.
            for _ in 0..<300 where alarms.isEmpty {
                try await Task.sleep(for: .milliseconds(100))
                alarms = try await client.call(.get, "/alarms?open=true").items
            }
            #expect(alarms.count == 1)
            #expect(alarms.first?["fault_name"] as? String == "unbalance and looseness")
            let machine = try await client.call(.get, "/machines/g1")
            #expect((machine["state"] as? [String: Any])?["fault_type"] as? Int == 3)
            #expect(machine["open_alarms"] as? Int == 1)
            let latest = try await client.call(.get, "/vibration-diagnosis/latest?machine_name=g1")
            #expect(latest.items.first?["fault_type"] as? Int == 3)
            let id = try #require(alarms.first?["id"] as? Int)
            let ack = try await client.call(.post, "/alarms/\(id)/ack", json: "{\"by\": \"operator 7\"}")
            #expect(ack["acknowledged_by"] as? String == "operator 7")
            #expect(ack["acknowledged_at"] is String)
            #expect(try await client.call(.post, "/alarms/99999/ack", json: "{}").status == .notFound)
            // Eight complete windows: the last one's last sample is a step before its end.
            let verdicts = try await store.diagnoses(matching: DiagnosisFilter(), after: nil, limit: 100)
            #expect(verdicts.count == 8)
            let detail = try await client.call(.get, "/vibration-diagnosis/\(verdicts[0].id)")
            let engine = try #require(detail["engine"] as? [String: Any])
            #expect(engine["channel"] as? String == "unbalance_looseness")
            #expect(engine["sensor_no"] as? String == "sensor1")
            #expect(engine["window_seconds"] as? Double == 1)
            #expect((engine["evidence"] as? [[String: Any]])?.contains { $0["feature"] as? String == "harmonics_2x_10x" } == true)
        }
    }
}

@Suite("Waveform API")
struct WaveformAPITests {
    @Test("a long range comes back as min/max buckets that keep the peaks", arguments: Backend.available)
    func buckets(backend: Backend) async throws {
        var text = "machine_name,sensor_no,collected_at,measured_time,normal,unbalance,looseness,unbalance_looseness\n"
        for i in 0..<20_000 {
            let value = i == 12_345 ? 5.5 : sin(Double(i) / 20) * 0.1
            // collected_at is each sample's own instant: the recording's start plus measured_time.
            let at = Timestamp(parsing: "2025-01-01T00:00:00Z")!.adding(seconds: Double(i) / 1000).csv
            text += "m1,s1,\(at),\(Double(i) / 1000),\(value),0,0,0\n"
        }
        let csv = text
        try await withApp(backend: backend) { client, _ in
            _ = try await client.call(.post, "/vibration-data/bulk", json: csv, contentType: "text/csv")
            let reply = try await client.call(.get, "/machines/m1/waveform?sensor_no=s1&from=2025-01-01T00:00:00Z&to=2025-01-01T00:00:20Z&points=500")
            #expect(reply.status == .ok, "\(reply.text)")
            let buckets = reply["buckets"] as? [[String: Any]] ?? []
            #expect(buckets.count <= 500 && buckets.count > 400)
            #expect(buckets.compactMap { $0["max"] as? Double }.max() == 5.5)
            #expect(buckets.compactMap { $0["n"] as? Int }.reduce(0, +) == 20_000)
            #expect(reply["samples"] as? Int == 20_000)
            #expect(reply["channel"] as? String == "normal")
            #expect(try await client.call(.get, "/machines/m1/waveform?sensor_no=s9&from=2025-01-01&to=2025-01-02").status == .notFound)
            #expect(try await client.call(.get, "/machines/m1/waveform?sensor_no=s1&from=2025-01-01&to=2025-01-02&points=5").status == .unprocessableContent)
            #expect(try await client.call(.get, "/machines/m1/waveform?sensor_no=s1&from=2025-01-03&to=2025-01-02").status == .unprocessableContent)
            // A required parameter left out is named.
            let noEnd = try await client.call(.get, "/machines/m1/waveform?sensor_no=s1&from=2025-01-01")
            #expect(noEnd.status == .unprocessableContent && noEnd.isProblem)
            #expect((noEnd["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } == ["to"], "\(noEnd.text)")
            let noRange = try await client.call(.get, "/machines/m1/waveform?sensor_no=s1&points=100")
            #expect((noRange["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } == ["from", "to"], "\(noRange.text)")
            #expect(noRange["detail"] as? String == "from: is required; to: is required")
            let noInstant = try await client.call(.get, "/machines/m1/spectrum?sensor_no=s1")
            #expect((noInstant["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } == ["at"], "\(noInstant.text)")
        }
    }

    @Test("the table of required query parameters is the API document's")
    func requiredQueryParameters() throws {
        let document = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../Sources/VibrationServer/openapi.yaml"), encoding: .utf8)
        var found: [String: [String]] = [:]
        var operation = ""
        let lines = document.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (i, line) in lines.enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("operationId: ") { operation = String(trimmed.dropFirst("operationId: ".count)) }
            if trimmed == "in: query", i + 1 < lines.count, lines[i + 1].trimmingCharacters(in: .whitespaces) == "required: true",
                let name = lines[i - 1].components(separatedBy: "name: ").last
            {
                found[operation, default: []].append(name)
            }
        }
        #expect(!found.isEmpty)
        #expect(found == Problem.requiredQueryParameters)
    }

    static func waveform(_ text: String) throws -> Components.Schemas.Waveform {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let time = Timestamp(parsing: text) else { throw InvalidTimestamp(text: text) }
            return time.date
        }
        return try decoder.decode(Components.Schemas.Waveform.self, from: Data(text.utf8))
    }

    @Test("the waveform written by hand says what the generated encoder says, for raw and summary ranges and names that need escaping", arguments: Backend.available)
    func waveformFastPath(backend: Backend) async throws {
        let machine = "Line \"A\" press/2 ü"
        var text = "machine_name,sensor_no,collected_at,measured_time,normal,unbalance,looseness,unbalance_looseness\n"
        for i in 0..<3_000 {
            let at = Timestamp(parsing: "2025-01-01T00:00:00Z")!.adding(seconds: Double(i) / 100).csv
            text += "\"Line \"\"A\"\" press/2 ü\",s\\1,\(at),\(Double(i) / 100),\(sin(Double(i) / 7) * 0.123456789),-1e-7,0,0\n"
        }
        let csv = text
        let path = "/machines/" + machine.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! + "/waveform?sensor_no=s%5C1"
        try await withApp(backend: backend) { client, _ in
            let stored = try await client.call(.post, "/vibration-data/bulk", json: csv, contentType: "text/csv")
            #expect(stored.status == .ok, "\(stored.text)")
            for range in ["&from=2025-01-01T00:00:00Z&to=2025-01-01T00:00:30Z&points=100",  // the 100 ms summary
                          "&from=2025-01-01T00:00:01Z&to=2025-01-01T00:00:02Z&points=1000",  // the samples
                          "&from=2025-01-01T00:00:01Z&to=2025-01-01T00:00:02Z&points=1000&channel=unbalance"] {
                let fast = try await client.call(.get, path + range)
                // A parameter the operation does not take sends the request to the generated handler.
                let generated = try await client.call(.get, path + range + "&extra=1")
                #expect(fast.status == .ok && generated.status == .ok, "\(fast.text) \(generated.text)")
                #expect(fast.headers[.contentType] == generated.headers[.contentType])
                // Read back as the API's own type (the generated encoder leaves out a nil summary_seconds
                // and writes "/" as "\/"; the hand-written answer writes null and "/").
                #expect(try Self.waveform(fast.text) == Self.waveform(generated.text), "\(fast.text)\n\(generated.text)")
                #expect(fast.text.contains("\"summary_seconds\":"))
                #expect((fast["buckets"] as? [Any])?.isEmpty == false)
                #expect(fast["machine_name"] as? String == machine && fast["sensor_no"] as? String == "s\\1")
            }
            // Errors are the generated handler's.
            let bad = try await client.call(.get, path + "&from=2025-01-03&to=2025-01-02")
            #expect(bad.status == .unprocessableContent && bad.isProblem)
        }
    }
}
