import CompressNIO
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VibrationCore
import VibrationStore

@Suite("Bulk upload API")
struct BulkAPITests {
    static let header = "machine_name,sensor_no,collected_at,measured_time,normal,unbalance,looseness,unbalance_looseness\n"

    /// A generated plant as CSV text.
    static func plantCSV(rows: Int, seed: UInt64 = 1) throws -> String {
        let generator = PlantGenerator(options: .init(rows: rows, machines: 2, sensors: 2, seed: seed, recordingSeconds: 1))
        var bytes: [UInt8] = []
        try generator.writeCSV { bytes += $0 }
        return String(decoding: bytes, as: UTF8.self)
    }

    func count(_ store: any Store) async throws -> Int {
        try await store.machines().reduce(0) { $0 + Int($1.sampleCount) }
    }

    @Test("CSV stores every row once; sending it again stores nothing new", arguments: Backend.available)
    func csv(backend: Backend) async throws {
        let text = try Self.plantCSV(rows: 3_000)
        try await withApp(backend: backend) { client, store in
            let first = try await client.call(.post, "/vibration-data/bulk", json: text, contentType: "text/csv")
            #expect(first.status == .ok)
            #expect(first.object.keys.sorted() == ["duplicates", "elapsed_s", "errors", "inserted", "received", "rejected"])
            #expect(first["received"] as? Int == 3_000)
            #expect(first["inserted"] as? Int == 3_000)
            let again = try await client.call(.post, "/vibration-data/bulk", json: text, contentType: "text/csv")
            #expect(again["inserted"] as? Int == 0)
            #expect(again["duplicates"] as? Int == 3_000)
            #expect(try await count(store) == 3_000)
        }
    }

    @Test("gzip-compressed CSV streams in like plain", arguments: Backend.available)
    func gzip(backend: Backend) async throws {
        let text = try Self.plantCSV(rows: 2_000)
        var plain = ByteBuffer(string: text)
        let compressed = try plain.compress(with: .gzip)
        try await withApp(backend: backend) { client, store in
            let reply = try await client.call(
                .post, "/vibration-data/bulk", contentType: "text/csv", headers: [.contentEncoding: "gzip"], bytes: compressed)
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(reply["inserted"] as? Int == 2_000)
            let broken = try await client.call(
                .post, "/vibration-data/bulk", contentType: "text/csv", headers: [.contentEncoding: "gzip"],
                bytes: ByteBuffer(string: "not gzip at all"))
            #expect(broken.status == .badRequest)
            #expect(broken.isProblem)
            #expect(try await count(store) == 2_000)
        }
    }

    @Test("bad CSV rows are listed by line and column; the good ones are stored", arguments: Backend.available)
    func csvBadRows(backend: Backend) async throws {
        let text = Self.header + "g1,s1,2025-01-01 00:00:00,0,1,2,3,4\ng1,s1,2025-01-01 00:00:00,1,x,2,3,4\ng1,s1,,2,1,2,3\n"
        try await withApp(backend: backend) { client, store in
            let reply = try await client.call(.post, "/vibration-data/bulk", json: text, contentType: "text/csv")
            #expect(reply["received"] as? Int == 3)
            #expect(reply["inserted"] as? Int == 1)
            #expect(reply["rejected"] as? Int == 2)
            let errors = reply["errors"] as? [[String: Any]] ?? []
            #expect(errors.map { "\($0["line"]!) \($0["column"]!)" } == ["3 normal", "4 "])
            #expect(try await count(store) == 1)
        }
    }

    @Test("atomic=true refuses the whole upload for one bad row, with the report", arguments: ["text/csv", "application/json"])
    func atomic(contentType: String) async throws {
        let good = sampleJSON(collectedAt: "2025-01-01T00:00:00Z", time: 0)
        let bad = sampleJSON(collectedAt: "2025-01-01T00:00:00Z", time: 1, normal: "\"loud\"")
        let body = contentType == "text/csv"
            ? Self.header + "g1,s1,2025-01-01 00:00:00,0,1,2,3,4\ng1,s1,2025-01-01 00:00:00,1,loud,2,3,4\n"
            : "[\(good), \(bad)]"
        try await withApp { client, store in
            let reply = try await client.call(.post, "/vibration-data/bulk?atomic=true", json: body, contentType: contentType)
            #expect(reply.status == .unprocessableContent)
            #expect(reply.isProblem)
            #expect(reply["received"] as? Int == 2)
            #expect(reply["inserted"] as? Int == 0)
            #expect(reply["rejected"] as? Int == 1)
            #expect((reply["errors"] as? [[String: Any]])?.first?["line"] as? Int == (contentType == "text/csv" ? 3 : 2))
            #expect(try await count(store) == 0)
            let fine = try await client.call(.post, "/vibration-data/bulk?atomic=true", json: contentType == "text/csv" ? Self.header + "g1,s1,2025-01-01 00:00:00,0,1,2,3,4\n" : "[\(good)]", contentType: contentType)
            #expect(fine.status == .ok)
            #expect(try await count(store) == 1)
        }
    }

    @Test("a JSON array reports bad elements by index and stores the rest", arguments: Backend.available)
    func jsonArray(backend: Backend) async throws {
        let rows = (0..<5).map { sampleJSON(collectedAt: "2025-01-01T00:00:0\($0)Z", time: Double($0)) }
        let body = "[" + rows.joined(separator: ",") + ", {\"machine_name\": \"g1\"}, 7]"
        try await withApp(backend: backend) { client, store in
            let reply = try await client.call(.post, "/vibration-data/bulk", json: body)
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(reply["received"] as? Int == 7)
            #expect(reply["inserted"] as? Int == 5)
            let errors = reply["errors"] as? [[String: Any]] ?? []
            #expect(errors.map { "\($0["line"]!) \($0["column"]!)" } == ["6 sensor_no", "7 "])
            let stored = try await store.samples(matching: SampleFilter(), after: nil, limit: 10)
            #expect(stored.map(\.sample.measuredTime) == [0, 1, 2, 3, 4])
        }
    }

    @Test("JSON the reader and Foundation both accept decodes to the same rows", arguments: Backend.available)
    func jsonMatchesFoundation(backend: Backend) async throws {
        let body = "[{\"sensor_no\": \"s\\u00e9\", \"machine_name\": \"m\\\"1\", \"extra\": {\"a\": [1, null]}, \"collected_at\": \"2025-01-01 09:00:00+09:00\", \"measured_time\": 1.5e-3, \"normal\": -0, \"unbalance\": 1234.5678901234567890123, \"looseness\": 0.1, \"unbalance_looseness\": 4}]"
        try await withApp(backend: backend) { client, store in
            let reply = try await client.call(.post, "/vibration-data/bulk", json: body)
            #expect(reply["inserted"] as? Int == 1, "\(reply.text)")
            let row = try #require(try await store.samples(matching: SampleFilter(), after: nil, limit: 1).first?.sample)
            #expect(row.machineName == "m\"1")
            #expect(row.sensorNo == "sé")
            #expect(row.collectedAt == Timestamp(parsing: "2025-01-01T00:00:00Z"))
            #expect(row.measuredTime == 1.5e-3)
            #expect(row.unbalance == 1234.5678901234567890123)
        }
    }

    @Test(
        "a body that cannot be read at all is refused whole and stores nothing",
        arguments: [
            ("[{\"machine_name\": \"g1\",", "application/json", 400),
            ("{\"machine_name\": \"g1\"}", "application/json", 400),
            ("", "application/json", 400),
            ("", "text/csv", 422),
            ("hello,world\n1,2\n", "text/csv", 422),
            ("machine_name,sensor_no\ng1,s1\n", "text/csv", 422),
            ("g1,s1", "text/plain", 415),
            ("[]", "application/xml", 415),
        ])
    func unreadable(body: String, contentType: String, status: Int) async throws {
        try await withApp { client, store in
            let reply = try await client.call(.post, "/vibration-data/bulk", json: body, contentType: contentType)
            #expect(Int(reply.status.code) == status, "\(reply.text)")
            #expect(reply.isProblem)
            #expect(try await count(store) == 0)
        }
    }

    @Test("NDJSON streams one object per line; a bad line is one rejected row", arguments: Backend.available)
    func ndjson(backend: Backend) async throws {
        let lines = (0..<3).map { sampleJSON(collectedAt: "2025-01-01T00:00:00Z", time: Double($0)).replacingOccurrences(of: "\n", with: " ") }
        let body = lines.joined(separator: "\n") + "\n{oops}\n\n"
        try await withApp(backend: backend) { client, store in
            let reply = try await client.call(.post, "/vibration-data/bulk", json: body, contentType: "application/x-ndjson")
            #expect(reply["received"] as? Int == 4)
            #expect(reply["inserted"] as? Int == 3)
            #expect((reply["errors"] as? [[String: Any]])?.first?["line"] as? Int == 4)
            #expect(try await count(store) == 3)
        }
    }

    @Test("a JSON body over the limit is 413 and stores nothing", arguments: Backend.available)
    func tooLarge(backend: Backend) async throws {
        let rows = (0..<50).map { sampleJSON(collectedAt: "2025-01-01T00:00:00Z", time: Double($0)) }
        try await withApp(backend: backend, maximumJSONBytes: 2_000) { client, store in
            let reply = try await client.call(.post, "/vibration-data/bulk", json: "[" + rows.joined(separator: ",") + "]")
            #expect(reply.status == .contentTooLarge)
            #expect(reply.isProblem)
            #expect(try await count(store) == 0)
        }
    }
}

@Suite("Diagnosis bulk upload API")
struct DiagnosisBulkAPITests {
    func count(_ store: any Store) async throws -> Int {
        try await store.diagnoses(matching: DiagnosisFilter(), after: nil, limit: 10_000).count
    }

    @Test("JSON arrays, NDJSON and CSV store diagnoses and list the bad rows", arguments: ["application/json", "application/x-ndjson", "text/csv"])
    func formats(contentType: String) async throws {
        let body: String
        switch contentType {
        case "application/json":
            body = "[{\"machine_name\": \"g1\", \"fault_type\": 1, \"detected_at\": \"2025-01-01T00:00:00Z\"}, {\"machine_name\": \"g2\", \"fault_type\": 0}, {\"machine_name\": \"g3\", \"fault_type\": true}, {\"machine_name\": \"g4\", \"fault_type\": 9}]"
        case "application/x-ndjson":
            body = "{\"machine_name\": \"g1\", \"fault_type\": 1, \"detected_at\": \"2025-01-01T00:00:00Z\"}\n{\"machine_name\": \"g2\", \"fault_type\": 0}\n{\"machine_name\": \"g3\", \"fault_type\": \"x\"}\n{\"machine_name\": \"g4\", \"fault_type\": 9}\n"
        default:
            body = "machine_name,detected_at,fault_type\ng1,2025-01-01T00:00:00Z,1\ng2,,0\ng3,,x\ng4,,9\n"
        }
        try await withApp { client, store in
            let reply = try await client.call(.post, "/vibration-diagnosis/bulk", json: body, contentType: contentType)
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(reply["received"] as? Int == 4)
            #expect(reply["inserted"] as? Int == 2)
            let errors = reply["errors"] as? [[String: Any]] ?? []
            let offset = contentType == "text/csv" ? 1 : 0
            #expect(errors.map { "\($0["line"]!) \($0["column"]!)" } == ["\(3 + offset) fault_type", "\(4 + offset) fault_type"])
            let latest = try await store.latestDiagnoses(machineName: nil)
            #expect(latest.map(\.diagnosis.machineName) == ["g1", "g2"])
            #expect(latest.first?.diagnosis.detectedAt == Timestamp(parsing: "2025-01-01T00:00:00Z"))
        }
    }

    @Test("atomic=true stores no diagnosis when one is bad; malformed bodies store nothing", arguments: Backend.available)
    func refusals(backend: Backend) async throws {
        try await withApp(backend: backend) { client, store in
            let atomic = try await client.call(
                .post, "/vibration-diagnosis/bulk?atomic=true",
                json: "[{\"machine_name\": \"g1\", \"fault_type\": 1}, {\"machine_name\": \"\", \"fault_type\": 1}]")
            #expect(atomic.status == .unprocessableContent)
            #expect(atomic["rejected"] as? Int == 1)
            let malformed = try await client.call(.post, "/vibration-diagnosis/bulk", json: "[{\"machine_name\": ")
            #expect(malformed.status == .badRequest)
            let headerless = try await client.call(.post, "/vibration-diagnosis/bulk", json: "g1,1\n", contentType: "text/csv")
            #expect(headerless.status == .unprocessableContent)
            #expect(try await count(store) == 0)
        }
    }
}
