import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import VibrationCore

@testable import VibrationStore

@Suite("Diagnosis, machines and operations API")
struct DiagnosisAPITests {
    func diagnosisJSON(_ machine: String, _ type: Int, at: String? = nil) -> String {
        let time = at.map { ", \"detected_at\": \"\($0)\"" } ?? ""
        return "{\"machine_name\": \"\(machine)\", \"fault_type\": \(type)\(time)}"
    }

    @Test("POST stores a verdict with its fault name; GET by id returns it", arguments: Backend.available)
    func createAndGet(backend: Backend) async throws {
        try await withApp(backend: backend) { client, _ in
            let created = try await client.call(.post, "/vibration-diagnosis", json: diagnosisJSON("pump-1", 2, at: "2025-03-01T08:00:00.250Z"))
            #expect(created.status == .created)
            #expect(created["fault_name"] as? String == "support looseness")
            #expect(created["detected_at"] as? String == "2025-03-01T08:00:00.25Z")
            let id = try #require(created["id"] as? Int)
            let fetched = try await client.call(.get, "/vibration-diagnosis/\(id)")
            #expect(fetched["fault_type"] as? Int == 2)
            #expect(try await client.call(.get, "/vibration-diagnosis/\(id + 1)").status == .notFound)
        }
    }

    @Test(
        "bad verdicts are refused and store nothing",
        arguments: [
            ("{\"machine_name\": \"g1\", \"fault_type\": 4}", 422, ["fault_type"]),
            ("{\"machine_name\": \"g1\", \"fault_type\": -1}", 422, ["fault_type"]),
            ("{\"machine_name\": \"g1\", \"fault_type\": 1.5}", 422, []),
            ("{\"machine_name\": \"g1\"}", 422, ["fault_type"]),
            ("{\"machine_name\": \"\", \"fault_type\": 9}", 422, ["fault_type", "machine_name"]),
            ("{\"machine_name\": \"g1\", \"fault_type\": 1, \"detected_at\": \"1 May\"}", 422, ["detected_at"]),
            ("not json", 400, [String]()),
        ])
    func badVerdicts(body: String, status: Int, fields: [String]) async throws {
        try await withApp { client, store in
            let reply = try await client.call(.post, "/vibration-diagnosis", json: body)
            #expect(Int(reply.status.code) == status, "\(reply.text)")
            #expect(reply.isProblem)
            #expect(reply.errorFields == fields)
            #expect(try await store.diagnoses(matching: DiagnosisFilter(), after: nil, limit: 10).isEmpty)
        }
    }

    @Test("the list filters by machine, fault type and range, and pages", arguments: Backend.available)
    func list(backend: Backend) async throws {
        try await withApp(backend: backend) { client, _ in
            for i in 0..<12 {
                let at = String(format: "2025-01-01T00:%02d:00Z", i)
                _ = try await client.call(.post, "/vibration-diagnosis", json: diagnosisJSON(i < 6 ? "a" : "b", i % 4, at: at))
            }
            let page1 = try await client.call(.get, "/vibration-diagnosis?limit=5")
            #expect(page1.items.count == 5)
            let cursor = try #require(page1["next_cursor"] as? String)
            let page2 = try await client.call(.get, "/vibration-diagnosis?limit=5&cursor=\(cursor)")
            #expect(page2.items.first?["detected_at"] as? String == "2025-01-01T00:05:00Z")
            let typed = try await client.call(.get, "/vibration-diagnosis?fault_type=1&machine_name=b")
            #expect(typed.items.compactMap { $0["detected_at"] as? String } == ["2025-01-01T00:09:00Z"])
            let ranged = try await client.call(.get, "/vibration-diagnosis?from=2025-01-01T00:03:00Z&to=2025-01-01T00:04:00Z")
            #expect(ranged.items.count == 2)
            #expect(ranged["next_cursor"] is NSNull)
            let bad = try await client.call(.get, "/vibration-diagnosis?fault_type=7")
            #expect(bad.status == .unprocessableContent)
            #expect(bad.errorFields == ["fault_type"])
        }
    }

    @Test("latest gives each machine's newest verdict, and is not mistaken for an id", arguments: Backend.available)
    func latest(backend: Backend) async throws {
        try await withApp(backend: backend) { client, _ in
            _ = try await client.call(.post, "/vibration-diagnosis", json: diagnosisJSON("pump", 1, at: "2025-01-01T00:00:00Z"))
            _ = try await client.call(.post, "/vibration-diagnosis", json: diagnosisJSON("pump", 3, at: "2025-01-02T00:00:00Z"))
            _ = try await client.call(.post, "/vibration-diagnosis", json: diagnosisJSON("fan", 0, at: "2025-01-01T00:00:00Z"))
            let latest = try await client.call(.get, "/vibration-diagnosis/latest")
            #expect(latest.status == .ok)
            #expect(latest.object.keys.sorted() == ["items"])
            #expect(latest.items.compactMap { $0["machine_name"] as? String } == ["fan", "pump"])
            #expect(latest.items.compactMap { $0["fault_name"] as? String } == ["normal", "unbalance and looseness"])
            let one = try await client.call(.get, "/vibration-diagnosis/latest?machine_name=pump")
            #expect(one.items.compactMap { $0["fault_type"] as? Int } == [3])
        }
    }

    @Test("latest is kept between writes but never outlives one: each kind of write shows at once", arguments: Backend.available)
    func latestAfterWrites(backend: Backend) async throws {
        try await withApp(backend: backend, configure: { _ in }) { client, store in
            func faults(_ query: String = "") async throws -> [Int] {
                try await client.call(.get, "/vibration-diagnosis/latest" + query).items.compactMap { $0["fault_type"] as? Int }
            }
            _ = try await client.call(.post, "/vibration-diagnosis", json: diagnosisJSON("pump", 1, at: "2025-01-01T00:00:00Z"))
            #expect(try await faults() == [1])
            #expect(try await faults() == [1])
            _ = try await client.call(.post, "/vibration-diagnosis", json: diagnosisJSON("pump", 2, at: "2025-01-02T00:00:00Z"))
            #expect(try await faults() == [2])
            _ = try await client.call(
                .post, "/vibration-diagnosis/bulk", json: "[" + diagnosisJSON("pump", 3, at: "2025-01-03T00:00:00Z") + "]")
            #expect(try await faults() == [3])
            #expect(try await faults("?machine_name=pump") == [3])
            // A write from outside the process (the CLI on the same file) shows within the cache's second.
            _ = try await store.insert(Diagnosis(machineName: "pump", detectedAt: Timestamp(parsing: "2025-01-04T00:00:00Z")!, faultType: .normal))
            try await Task.sleep(for: .milliseconds(1_100))
            #expect(try await faults() == [0])
        }
    }

    @Test("machines carry sensors, counts, data range and latest diagnosis, with nulls where empty", arguments: Backend.available)
    func machines(backend: Backend) async throws {
        try await withApp(backend: backend) { client, _ in
            _ = try await client.call(.post, "/vibration-data", json: sampleJSON(machine: "g1", sensor: "s2", collectedAt: "2025-01-01T00:00:00Z"))
            _ = try await client.call(.post, "/vibration-data", json: sampleJSON(machine: "g1", sensor: "s1", collectedAt: "2025-01-03T00:00:00Z"))
            _ = try await client.call(.post, "/vibration-diagnosis", json: diagnosisJSON("z-fan", 1, at: "2025-01-01T00:00:00Z"))
            let reply = try await client.call(.get, "/machines")
            #expect(reply.status == .ok)
            let items = reply.items
            #expect(items.count == 2)
            #expect(items[0]["machine_name"] as? String == "g1")
            #expect(items[0]["sensors"] as? [String] == ["s1", "s2"])
            #expect(items[0]["sample_count"] as? Int == 2)
            #expect(items[0]["first_collected_at"] as? String == "2025-01-01T00:00:00Z")
            #expect(items[0]["last_collected_at"] as? String == "2025-01-03T00:00:00Z")
            #expect(items[0]["latest_diagnosis"] is NSNull)
            #expect(items[1]["first_collected_at"] is NSNull)
            #expect((items[1]["latest_diagnosis"] as? [String: Any])?["fault_type"] as? Int == 1)
        }
    }

    @Test("health answers 200 while the database does")
    func health() async throws {
        try await withApp { client, _ in
            let reply = try await client.call(.get, "/health")
            #expect(reply.status == .ok)
            #expect(reply["status"] as? String == "ok")
        }
    }

    @Test("ready when the database answers with every migration applied; not ready when one is missing")
    func ready() async throws {
        try await withApp { client, store in
            let reply = try await client.call(.get, "/ready")
            #expect(reply.status == .ok)
            #expect(reply["status"] as? String == "ready")
            #expect((reply["migrations"] as? [String])?.first == "0001 vibration data and diagnosis")
            // A schema behind this build (as after a downgrade) is not ready.
            try await (store as! SQLiteStore).pool.write { db in
                try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier LIKE '0004%'")
            }
            let behind = try await client.call(.get, "/ready")
            #expect(behind.status == .serviceUnavailable && behind.isProblem)
            #expect((behind["detail"] as? String)?.contains("0004") == true)
        }
    }

    @Test("every answer carries a request id: the client's own when sensible, else the server's")
    func requestIDs() async throws {
        try await withApp { client, _ in
            let mine = try await client.call(.get, "/health", headers: [HTTPField.Name("X-Request-Id")!: "gateway-42.7"])
            #expect(mine.headers[HTTPField.Name("X-Request-Id")!] == "gateway-42.7")
            let made = try await client.call(.get, "/vibration-data/999")
            let id = try #require(made.headers[HTTPField.Name("X-Request-Id")!])
            #expect(!id.isEmpty && made.status == .notFound)
            let other = try await client.call(.get, "/health")
            #expect(other.headers[HTTPField.Name("X-Request-Id")!] != id)
            let hostile = try await client.call(.get, "/health", headers: [HTTPField.Name("X-Request-Id")!: String(repeating: "x", count: 500)])
            #expect(hostile.headers[HTTPField.Name("X-Request-Id")!]?.count ?? 0 < 100)
        }
    }

    @Test("the spec and the Swagger page are served")
    func docs() async throws {
        try await withApp { client, _ in
            let spec = try await client.call(.get, "/openapi.yaml")
            #expect(spec.status == .ok)
            #expect(spec.text.hasPrefix("openapi: 3.1.0"))
            #expect(spec.text.contains("/vibration-diagnosis/latest:"))
            let page = try await client.call(.get, "/docs")
            #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(page.text.contains("swagger-ui-bundle.js"))
            // The page runs no inline script (its Content Security Policy allows none): Swagger UI
            // starts from a file of the server's own.
            #expect(page.text.contains("<script src=\"/docs/swagger-init.js\">") && !page.text.contains("<script>"))
            #expect(page.headers[.contentSecurityPolicy]?.contains("script-src 'self' ") == true)
            let start = try await client.call(.get, "/docs/swagger-init.js")
            #expect(start.status == .ok && start.text.contains("url: \"/openapi.yaml\""))
            // The same document as JSON.
            let json = try await client.call(.get, "/openapi.json")
            #expect(json.status == .ok && json.headers[.contentType]?.hasPrefix("application/json") == true)
            let document = try #require(try JSONSerialization.jsonObject(with: Data(json.text.utf8)) as? [String: Any])
            #expect(document["openapi"] as? String == "3.1.0")
            #expect((document["paths"] as? [String: Any])?["/vibration-diagnosis/latest"] != nil)
        }
    }

    @Test("CORS: any origin reads, writes need a configured origin, preflight answered")
    func cors() async throws {
        try await withApp { client, _ in
            let read = try await client.call(.get, "/machines", headers: [.origin: "https://mes.example"])
            #expect(read.headers[.accessControlAllowOrigin] == "*")
            let preflight = try await client.call(
                .options, "/vibration-data",
                headers: [.origin: "https://mes.example", .accessControlRequestMethod: "POST"])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowMethods]?.contains("POST") == false)
            let problem = try await client.call(.get, "/vibration-data/999", headers: [.origin: "https://mes.example"])
            #expect(problem.headers[.accessControlAllowOrigin] == "*")
        }
        try await withApp(corsOrigins: ["https://mes.example"]) { client, _ in
            let preflight = try await client.call(
                .options, "/vibration-data",
                headers: [.origin: "https://mes.example", .accessControlRequestMethod: "POST"])
            #expect(preflight.headers[.accessControlAllowOrigin] == "https://mes.example")
            #expect(preflight.headers[.accessControlAllowMethods]?.contains("POST") == true)
            let write = try await client.call(.post, "/vibration-data", json: sampleJSON(), headers: [.origin: "https://mes.example"])
            #expect(write.status == .created)
            #expect(write.headers[.accessControlAllowOrigin] == "https://mes.example")
            let stranger = try await client.call(
                .options, "/vibration-data", headers: [.origin: "https://evil.example", .accessControlRequestMethod: "POST"])
            #expect(stranger.headers[.accessControlAllowMethods]?.contains("POST") == false)
        }
    }
}
