import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import StoreTestSupport
import ServiceLifecycle
import Testing
import VibrationCore
import VibrationPipeline

@testable import VibrationServer
@testable import VibrationStore

@Suite("/metrics")
struct MetricsTests {
    /// `name{labels} value` lines of the exposition, by series.
    static func series(_ text: String) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = value
        }
        return values
    }

    @Test("requests per route, rows by outcome, diagnoses per fault type, alarms and database figures")
    func exposition() async throws {
        try await withApp { client, store in
            let csv = LimitsTests.csv(rows: 3) + "m1,s1,2025-01-01T00:00:00Z,not-a-number,0.1,0.2,0.3,0.4\n"
            #expect(try await client.call(.post, "/vibration-data/bulk", json: csv, contentType: "text/csv")["inserted"] as? Int == 3)
            // The same rows again are duplicates.
            #expect(try await client.call(.post, "/vibration-data/bulk", json: LimitsTests.csv(rows: 2), contentType: "text/csv")["duplicates"] as? Int == 2)
            #expect(try await client.call(.post, "/vibration-diagnosis", json: #"{"machine_name": "m1", "fault_type": 1}"#).status == .created)
            #expect(try await client.call(.post, "/vibration-diagnosis/bulk", json: #"[{"machine_name": "m1", "fault_type": 3}, {"machine_name": "m1", "fault_type": 1}]"#).status == .ok)
            for _ in 0..<2 { #expect(try await client.call(.get, "/vibration-data/1").status == .ok) }
            #expect(try await client.call(.get, "/vibration-data/999").status == .notFound)
            #expect(try await client.call(.get, "/no-such-page").status == .notFound)

            let reply = try await client.call(.get, "/metrics")
            #expect(reply.status == .ok)
            #expect(reply.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let values = Self.series(reply.text)
            #expect(values[#"himmes_ingested_rows_total{table="vibration_data",result="inserted"}"#] == 3)
            #expect(values[#"himmes_ingested_rows_total{table="vibration_data",result="duplicate"}"#] == 2)
            #expect(values[#"himmes_ingested_rows_total{table="vibration_data",result="rejected"}"#] == 1)
            #expect(values[#"himmes_ingested_rows_total{table="vibration_diagnosis",result="inserted"}"#] == 3)
            #expect(values[#"himmes_diagnoses_total{fault_type="1",source="api"}"#] == 2)
            #expect(values[#"himmes_diagnoses_total{fault_type="3",source="api"}"#] == 1)
            // Routes are counted by their pattern, so that ids do not make new series.
            #expect(values[#"himmes_http_requests_total{route="/vibration-data/{id}",method="GET",status="200"}"#] == 2)
            #expect(values[#"himmes_http_requests_total{route="/vibration-data/{id}",method="GET",status="404"}"#] == 1)
            #expect(values[#"himmes_http_requests_total{route="NotFound",method="GET",status="404"}"#] == 1)
            #expect(values[#"himmes_http_request_duration_seconds_count{route="/vibration-data/{id}",method="GET"}"#] == 3)
            #expect(values["himmes_alarms_open"] == 0)
            #expect((values[#"himmes_database_size_bytes{file="main"}"#] ?? 0) > 0)
            #expect(values["himmes_imports_in_flight"] == 0)
            #expect(values["himmes_imports_max"] == 32)
            #expect(values["himmes_event_streams_open"] == 0)
            #expect((values["himmes_database_connections_max"] ?? 0) >= 2)
            _ = store
        }
    }

    /// Two machines of the demo, one sensor each, `seconds` seconds at 1 kHz, not yet diagnosed.
    static func plant(seconds: Int) async throws -> SQLiteStore {
        let store = try SQLiteStore(path: TemporaryDirectory.make().appendingPathComponent("metrics.sqlite").path)
        let stream = DemoStream(url: "", machines: ["press", "pump"], sensors: 1, historySeconds: 0, logger: .init(label: "test"))
        let start = Timestamp(microseconds: 1_700_000_000_000_000)
        let importer = SampleImporter(store: store)
        for second in 0..<seconds {
            _ = try await importer.importCSV(DemoStream.Once(bytes: stream.csv(second: second, start: start)), layout: .product)
        }
        return store
    }

    @Test("the engine's verdicts are counted by fault type")
    func engineVerdicts() async throws {
        let metrics = ServerMetrics()
        let store = try await Self.plant(seconds: 5)
        let engine = DiagnosisService(store: store, logger: .init(label: "test"), events: nil, metrics: metrics)
        let run = try await engine.run()
        #expect(run.windows > 0)
        let values = Self.series(String(decoding: metrics.registry.emitToBuffer(), as: UTF8.self))
        let counted = FaultType.allCases.reduce(0.0) { $0 + (values[#"himmes_diagnoses_total{fault_type="\#($1.rawValue)",source="engine"}"#] ?? 0) }
        #expect(Int(counted) == run.windows)
    }

    @Test(
        "runs asked for while one is going do not overlap: every window is diagnosed and counted once; the loop ends with a graceful shutdown",
        .timeLimit(.minutes(10)))
    func runsDoNotOverlap() async throws {
        let metrics = ServerMetrics()
        let store = try await Self.plant(seconds: 400)
        let engine = DiagnosisService(store: store, logger: .init(label: "test"), events: nil, metrics: metrics)
        let group = ServiceGroup(services: [engine.automatic], logger: .init(label: "test"))
        async let running: Void = group.run()
        // Asked again and again while the first run is still going, as uploads do.
        for _ in 0..<4 {
            engine.notify()
            try await Task.sleep(for: .milliseconds(1_100))
        }
        while await engine.busy { try await Task.sleep(for: .milliseconds(100)) }
        await group.triggerGracefulShutdown()
        try await running
        let values = Self.series(String(decoding: metrics.registry.emitToBuffer(), as: UTF8.self))
        let counted = FaultType.allCases.reduce(0.0) { $0 + (values[#"himmes_diagnoses_total{fault_type="\#($1.rawValue)",source="engine"}"#] ?? 0) }
        let stored = try await store.diagnosisCount()
        #expect(stored >= 790)
        #expect(Int(counted) == stored)
    }
}
