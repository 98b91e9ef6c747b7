import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VibrationCore
import VibrationStore

@Suite("Spectrum and feature trend API")
struct MachineViewTests {
    /// Two seconds of a 0.3 g sine at 25 Hz (1X of a 1,500 rpm machine) with a little 2X, at 2 kHz.
    static let unbalancedCSV: String = {
        var text = "machine_name,sensor_no,collected_at,measured_time,normal,unbalance,looseness,unbalance_looseness\n"
        let start = Timestamp(parsing: "2025-01-01T00:00:00Z")!
        for i in 0..<4_000 {
            let t = Double(i) / 2_000
            let value = 0.3 * sin(2 * .pi * 25 * t) + 0.02 * sin(2 * .pi * 50 * t)
            text += "m1,s1,\(start.adding(seconds: t).csv),\(t),\(value),0,0,0\n"
        }
        return text
    }()

    @Test("the spectrum of a window shows its 1X peak with shaft-order markers and the engine's verdict", arguments: Backend.available)
    func spectrum(backend: Backend) async throws {
        try await withApp(backend: backend) { client, _ in
            #expect(try await client.call(.put, "/machines/m1", json: "{\"rpm\": 1500}").status == .ok)
            let upload = try await client.call(.post, "/vibration-data/bulk", json: Self.unbalancedCSV, contentType: "text/csv")
            #expect(upload.status == .ok, "\(upload.text)")
            let reply = try await client.call(.get, "/machines/m1/spectrum?sensor_no=s1&at=2025-01-01T00:00:00.5Z&seconds=1&max_hz=400&points=300")
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(reply["samples"] as? Int == 2_000)
            #expect(abs((reply["sample_rate_hz"] as? Double ?? 0) - 2_000) < 1)
            let markers = reply["markers"] as? [[String: Any]] ?? []
            #expect(markers.map { $0["label"] as? String } == ["0.5X", "1X", "2X", "3X"])
            #expect(markers.map { $0["hz"] as? Double } == [12.5, 25, 50, 75])
            #expect(abs((markers[1]["amplitude"] as? Double ?? 0) - 0.3) < 0.03)
            let bins = reply["bins"] as? [[String: Any]] ?? []
            #expect(bins.count <= 300 && bins.count > 100)
            #expect(bins.allSatisfy { ($0["hz"] as? Double ?? 1e9) <= 400 })
            let peak = try #require(bins.max { ($0["amplitude"] as? Double ?? 0) < ($1["amplitude"] as? Double ?? 0) })
            #expect(abs((peak["hz"] as? Double ?? 0) - 25) < 1.5)
            let diagnosis = reply["diagnosis"] as? [String: Any] ?? [:]
            #expect(diagnosis["fault_type"] as? Int == 1)
            #expect(diagnosis["shaft_source"] as? String == "configured")

            // The default window is the engine's (1 s); an empty window, a bad length or an unknown sensor are refused.
            let defaults = try await client.call(.get, "/machines/m1/spectrum?sensor_no=s1&at=2025-01-01T00:00:00Z")
            #expect(defaults["samples"] as? Int == 2_000)
            let empty = try await client.call(.get, "/machines/m1/spectrum?sensor_no=s1&at=2025-01-02T00:00:00Z")
            #expect(empty.status == .unprocessableContent && empty.errorFields == ["at"])
            let long = try await client.call(.get, "/machines/m1/spectrum?sensor_no=s1&at=2025-01-01T00:00:00Z&seconds=600")
            #expect(long.status == .unprocessableContent && long.errorFields == ["seconds"])
            #expect(try await client.call(.get, "/machines/m1/spectrum?sensor_no=s9&at=2025-01-01T00:00:00Z").status == .notFound)
            #expect(try await client.call(.get, "/machines/m9/spectrum?sensor_no=s1&at=2025-01-01T00:00:00Z").status == .notFound)
            #expect(try await client.call(.get, "/machines/m1/spectrum?sensor_no=s1&at=noon").errorFields == ["at"])
        }
    }

    @Test("the feature trend lists the engine's measurements per window; lists can be newest first", arguments: Backend.available)
    func features(backend: Backend) async throws {
        try await withApp(backend: backend, automaticDiagnosis: true) { client, store in
            #expect(try await client.call(.put, "/machines/m1", json: "{\"rpm\": 1500}").status == .ok)
            _ = try await client.call(.post, "/vibration-data/bulk", json: Self.unbalancedCSV, contentType: "text/csv")
            // The engine runs in the background, beside the rest of the suite: allow it 30 s.
            var items: [[String: Any]] = []
            for _ in 0..<300 {
                items = try await client.call(.get, "/machines/m1/features").items
                if items.count >= 1 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(items.count >= 1)
            let first = try #require(items.first)
            #expect(first["fault_type"] as? Int == 1)
            #expect(first["sensor_no"] as? String == "s1")
            #expect(abs((first["amplitude_1x"] as? Double ?? 0) - 0.3) < 0.03)
            #expect(abs((first["rms"] as? Double ?? 0) - 0.3 / 2.squareRoot()) < 0.02)
            #expect(first["shaft_hz"] as? Double == 25)
            #expect(try await client.call(.get, "/machines/m1/features?limit=0").errorFields == ["limit"])
            #expect(try await client.call(.get, "/machines/nobody/features").status == .notFound)
            // Lists in either order.
            let oldest = try await client.call(.get, "/vibration-data?limit=3").items.compactMap { $0["id"] as? Int }
            let newest = try await client.call(.get, "/vibration-data?limit=3&order=desc").items.compactMap { $0["id"] as? Int }
            let all = try await store.samples(matching: SampleFilter(), after: nil, limit: 10_000).map { Int($0.id) }
            #expect(oldest == Array(all.prefix(3)) && newest == Array(all.suffix(3).reversed()))
            #expect(try await client.call(.get, "/vibration-data?order=sideways").status.code == 400)
        }
    }
}
