import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VibrationCore
import VibrationStore

@Suite("Vibration data API")
struct VibrationDataAPITests {
    @Test("POST stores a sample and answers 201 with its id; GET by id returns it", arguments: Backend.available)
    func createAndGet(backend: Backend) async throws {
        try await withApp(backend: backend) { client, _ in
            let created = try await client.call(.post, "/vibration-data", json: sampleJSON(collectedAt: "2025-01-01 09:00:00+09:00"))
            #expect(created.status == .created)
            let id = try #require(created["id"] as? Int)
            #expect(created["collected_at"] as? String == "2025-01-01T00:00:00Z")
            #expect(created["normal"] as? Double == 0.1)
            let fetched = try await client.call(.get, "/vibration-data/\(id)")
            #expect(fetched.status == .ok)
            #expect(fetched["machine_name"] as? String == "g1")
            #expect(fetched["unbalance_looseness"] as? Double == 0.4)
        }
    }

    @Test("collected_at defaults to the time the server receives the sample")
    func defaultTime() async throws {
        try await withApp { client, _ in
            let before = Timestamp.now
            let created = try await client.call(.post, "/vibration-data", json: sampleJSON(collectedAt: nil))
            let after = Timestamp.now
            #expect(created.status == .created)
            let text = try #require(created["collected_at"] as? String)
            let stamped = try #require(Timestamp(parsing: text))
            #expect(stamped >= before && stamped <= after)
        }
    }

    @Test("the same identity twice is a 409 and the first row is kept", arguments: Backend.available)
    func conflict(backend: Backend) async throws {
        try await withApp(backend: backend) { client, store in
            #expect(try await client.call(.post, "/vibration-data", json: sampleJSON(normal: "1")).status == .created)
            let again = try await client.call(.post, "/vibration-data", json: sampleJSON(normal: "2"))
            #expect(again.status == .conflict)
            #expect(again.isProblem)
            let rows = try await store.samples(matching: SampleFilter(), after: nil, limit: 10)
            #expect(rows.map(\.sample.normal) == [1])
        }
    }

    @Test(
        "bad bodies get the right status and store nothing",
        arguments: [
            ("{\"machine_name\": \"g1\",", "application/json", 400, [String]()),
            ("", "application/json", 400, []),
            ("[1, 2]", "application/json", 422, []),
            ("{\"machine_name\": \"g1\"}", "application/json", 422, ["sensor_no"]),
            (sampleJSON(machine: ""), "application/json", 422, ["machine_name"]),
            (sampleJSON(machine: String(repeating: "m", count: 51)), "application/json", 422, ["machine_name"]),
            (sampleJSON(sensor: String(repeating: "s", count: 21)), "application/json", 422, ["sensor_no"]),
            (sampleJSON(collectedAt: "yesterday"), "application/json", 422, ["collected_at"]),
            (sampleJSON(collectedAt: "2025-02-30T00:00:00Z", normal: "\"x\""), "application/json", 422, ["normal"]),
            (sampleJSON(normal: "1e999"), "application/json", 422, []),
            (sampleJSON(normal: "null"), "application/json", 422, ["normal"]),
            (sampleJSON(), "text/plain", 415, []),
            (sampleJSON(), "application/xml", 415, []),
        ])
    func badBodies(body: String, contentType: String, status: Int, fields: [String]) async throws {
        try await withApp { client, store in
            let reply = try await client.call(.post, "/vibration-data", json: body, contentType: contentType)
            #expect(Int(reply.status.code) == status, "\(reply.text)")
            #expect(reply.isProblem, "\(reply.text)")
            #expect(reply["detail"] as? String != nil)
            if !fields.isEmpty { #expect(reply.errorFields == fields) }
            #expect(try await store.samples(matching: SampleFilter(), after: nil, limit: 10).isEmpty)
        }
    }

    @Test("every bad field of one request is named at once")
    func allViolations() async throws {
        try await withApp { client, _ in
            let body = sampleJSON(machine: "", sensor: String(repeating: "s", count: 21), collectedAt: "soon")
            let reply = try await client.call(.post, "/vibration-data", json: body)
            #expect(reply.status == .unprocessableContent)
            #expect(Set(reply.errorFields) == ["machine_name", "sensor_no", "collected_at"])
        }
    }

    @Test("lists page with next_cursor until it is null, with filters", arguments: Backend.available)
    func listAndPage(backend: Backend) async throws {
        try await withApp(backend: backend) { client, _ in
            for sensor in ["sensor1", "sensor2"] {
                for i in 0..<5 {
                    let at = "2025-01-0\(i + 1)T00:00:00Z"
                    #expect(try await client.call(.post, "/vibration-data", json: sampleJSON(sensor: sensor, collectedAt: at)).status == .created)
                }
            }
            var ids: [Int] = []
            var uri = "/vibration-data?limit=3"
            var pages = 0
            while true {
                let page = try await client.call(.get, uri)
                #expect(page.status == .ok)
                #expect(page.object.keys.contains("next_cursor"))
                ids += page.items.compactMap { $0["id"] as? Int }
                pages += 1
                guard let next = page["next_cursor"] as? String else { break }
                uri = "/vibration-data?limit=3&cursor=\(next)"
            }
            #expect(pages == 4)
            #expect(ids.count == 10 && Set(ids).count == 10)
            let last = try await client.call(.get, "/vibration-data?limit=10")
            #expect(last["next_cursor"] is NSNull)

            let filtered = try await client.call(.get, "/vibration-data?machine_name=g1&sensor_no=sensor2&from=2025-01-02&to=2025-01-03")
            #expect(filtered.items.count == 2)
            #expect(filtered.items.allSatisfy { $0["sensor_no"] as? String == "sensor2" })
            let times = filtered.items.compactMap { $0["collected_at"] as? String }
            #expect(times == ["2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z"])
            #expect(try await client.call(.get, "/vibration-data?machine_name=nope").items.isEmpty)
        }
    }

    @Test(
        "bad list parameters are 422 problems naming the parameter",
        arguments: [
            ("limit=0", "limit"), ("limit=10001", "limit"), ("limit=abc", "parameters"), ("from=yesterday", "from"),
            ("from=2025-02-01&to=2025-01-01", "from"), ("cursor=forged", "cursor"),
        ])
    func badListParameters(query: String, field: String) async throws {
        try await withApp { client, _ in
            let reply = try await client.call(.get, "/vibration-data?\(query)")
            #expect(reply.status == .unprocessableContent, "\(reply.text)")
            #expect(reply.isProblem)
            #expect(reply.errorFields == [field])
        }
    }

    @Test("unknown ids and paths are 404 problems", arguments: Backend.available)
    func notFound(backend: Backend) async throws {
        try await withApp(backend: backend) { client, _ in
            let missing = try await client.call(.get, "/vibration-data/12345")
            #expect(missing.status == .notFound)
            #expect(missing.isProblem)
            let badID = try await client.call(.get, "/vibration-data/abc")
            #expect(badID.status.code >= 400 && badID.status.code < 500)
            #expect(badID.isProblem)
            let nowhere = try await client.call(.get, "/no-such-thing")
            #expect(nowhere.status == .notFound)
            #expect(nowhere.isProblem)
        }
    }
}
