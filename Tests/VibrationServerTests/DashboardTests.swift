import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import VibrationCore
import VibrationServer
import VibrationStore

@Suite("Dashboard pages")
struct DashboardTests {
    /// Two machines with known states and an open alarm, without running the engine.
    func seed(_ store: any Store) async throws {
        _ = try await store.save(MachineConfig(machineName: "press-1", line: "Line A"))
        _ = try await store.save(MachineConfig(machineName: "fan-2", line: "Line B", channel: .unbalance))
        for i in 0..<150 {
            _ = try await store.insert(
                VibrationSample(
                    machineName: "press-1", sensorNo: "s1", collectedAt: Timestamp(parsing: "2025-01-01T00:00:00Z")!, measuredTime: Double(i) / 1000,
                    normal: 0.1, unbalance: 0.2, looseness: 0.3, unbalanceLooseness: 0.4))
        }
        let window = AnalysisWindow(
            machineName: "fan-2", sensorNo: "s1", sensorID: 1, channel: .unbalance, recordingStart: Timestamp(microseconds: 0), index: 0, seconds: 1)
        let channel = PlantGenerator.Channel(shaftHz: 25, seed: 1, sampleRateHz: 2_000)
        let verdict = FaultClassifier().diagnose(
            Waveform(samples: PlantGenerator.window(of: channel, count: 2_000, sampleRateHz: 2_000).unbalance, sampleRateHz: 2_000),
            profile: MachineProfile(rpm: 1_500))
        var results: [WindowResult] = []
        for k in 0..<3 {
            var w = window
            w.index = k
            results.append(WindowResult(window: w, diagnosis: verdict))
        }
        _ = try await store.record(results, passedOver: [], tracker: MachineStateTracker(), holder: nil)
    }

    @Test("every page has its own title and the navigation", arguments: [
            ("/", "Status board"), ("/data", "Vibration data"), ("/diagnosis", "Diagnoses"), ("/timeline", "Fault timeline"),
            ("/machines/fan-2", "fan-2"),
        ])
    func titles(path: String, title: String) async throws {
        try await withApp { client, store in
            try await seed(store)
            let page = try await client.call(.get, path, headers: [.accept: "text/html,application/xhtml+xml"])
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.text.contains("<title>\(title) · HIM-MES</title>"))
            // How long the server took, for the browser's developer tools and the benchmark.
            let timing = try #require(page.headers[HTTPField.Name("Server-Timing")!])
            #expect(timing.hasPrefix("app;dur=") && Double(timing.dropFirst("app;dur=".count)).map { $0 >= 0 } == true)
            #expect(page.text.contains("href=\"/data\""))
        }
    }

    @Test("the status board shows each machine's state in words, icon and colour, counts and open alarms", arguments: Backend.available)
    func board(backend: Backend) async throws {
        try await withApp(backend: backend) { client, store in
            try await seed(store)
            let page = try await client.call(.get, "/").text
            #expect(page.contains("data-machine=\"press-1\""))
            #expect(page.contains("<article class=\"card state-1\" data-machine=\"fan-2\">"))
            #expect(page.contains("⚠</span> Mass unbalance"))
            #expect(page.contains("<strong>1</strong> open alarms"))
            // Filters by state and line.
            let unbalanced = try await client.call(.get, "/?state=1").text
            #expect(unbalanced.contains("data-machine=\"fan-2\"") && !unbalanced.contains("data-machine=\"press-1\""))
            let lineA = try await client.call(.get, "/?line=Line%20A").text
            #expect(lineA.contains("data-machine=\"press-1\"") && !lineA.contains("data-machine=\"fan-2\""))
            // A name with markup and URL characters: escaped in the text, encoded in the links.
            _ = try await store.save(MachineConfig(machineName: "<b>a&b #1</b>", line: "Line A"))
            let odd = try await client.call(.get, "/?line=Line%20A").text
            #expect(!odd.contains("<b>a&b"))
            #expect(odd.contains("data-machine=\"&lt;b&gt;a&amp;b #1&lt;/b&gt;\""))
            #expect(odd.contains("href=\"/machines/%3Cb%3Ea%26b%20%231%3C%2Fb%3E\""))
            #expect(odd.contains("href=\"/data?machine_name=%3Cb%3Ea%26b%20%231%3C%2Fb%3E\""))
        }
    }

    @Test("the data table filters, pages by cursor and links the CSV download of the filter", arguments: Backend.available)
    func data(backend: Backend) async throws {
        try await withApp(backend: backend) { client, store in
            try await seed(store)
            let first = try await client.call(.get, "/data?machine_name=press-1")
            let rows = first.text.components(separatedBy: "<tr><td>").count - 1
            #expect(rows == 100)
            #expect(first.text.contains("href=\"/vibration-data.csv?machine_name=press-1\""))
            let next = try #require(first.text.range(of: "rel=\"next\" href=\"/data?")).upperBound
            let link = String(first.text[next...].prefix { $0 != "\"" }).replacingOccurrences(of: "&amp;", with: "&")
            let second = try await client.call(.get, "/data?" + link)
            #expect(second.text.components(separatedBy: "<tr><td>").count - 1 == 50)
            #expect(!second.text.contains("rel=\"next\""))
            let none = try await client.call(.get, "/data?machine_name=fan-2")
            #expect(none.text.contains("No rows match these filters."))
            let bad = try await client.call(.get, "/data?from=soon")
            #expect(bad.text.contains("class=\"error\""))
        }
    }

    @Test("the diagnosis table filters by fault type", arguments: Backend.available)
    func diagnoses(backend: Backend) async throws {
        try await withApp(backend: backend) { client, store in
            try await seed(store)
            let all = try await client.call(.get, "/diagnosis").text
            #expect(all.components(separatedBy: "<tr class=\"state-1\">").count - 1 == 3)
            let normal = try await client.call(.get, "/diagnosis?fault_type=0").text
            #expect(normal.contains("No rows match these filters."))
        }
    }

    @Test("Korean by ?lang=ko or Accept-Language", arguments: Backend.available)
    func korean(backend: Backend) async throws {
        try await withApp(backend: backend) { client, store in
            try await seed(store)
            let asked = try await client.call(.get, "/?lang=ko").text
            #expect(asked.contains("<html lang=\"ko\">"))
            #expect(asked.contains("설비 상태판"))
            #expect(asked.contains("질량 불평형"))
            let browser = try await client.call(.get, "/data", headers: [.acceptLanguage: "ko-KR,ko;q=0.9,en;q=0.8"]).text
            #expect(browser.contains("<title>진동 데이터 · HIM-MES</title>"))
            #expect(try await client.call(.get, "/").text.contains("<html lang=\"en\">"))
        }
    }

    @Test("assets are served with their types", arguments: Backend.available)
    func assets(backend: Backend) async throws {
        try await withApp(backend: backend) { client, _ in
            let css = try await client.call(.get, "/assets/app.css")
            let js = try await client.call(.get, "/assets/app.js")
            #expect(css.headers[.contentType] == "text/css; charset=utf-8")
            #expect(js.text.contains("toLocaleString"))
        }
    }

    @Test("the timeline draws a band per run of equal verdicts, placed by time, with what its tooltip needs", arguments: Backend.available)
    func timeline(backend: Backend) async throws {
        try await withApp(backend: backend) { client, store in
            _ = try await store.save(MachineConfig(machineName: "press-1", line: "Line A"))
            _ = try await store.save(MachineConfig(machineName: "fan-2", line: "Line B"))
            // press-1: normal 08:00-08:15, unbalance 08:15-08:45, normal again from 08:45 to 09:00.
            var rows: [Diagnosis] = []
            for minute in stride(from: 0, through: 60, by: 5) {
                let type: FaultType = (15..<45).contains(minute) ? .massUnbalance : .normal
                rows.append(Diagnosis(machineName: "press-1", detectedAt: Timestamp(parsing: "2025-01-01T08:00:00Z")!.adding(seconds: Double(minute * 60)), faultType: type))
            }
            _ = try await store.insert(rows)
            let page = try await client.call(.get, "/timeline?from=2025-01-01T08:00:00Z&to=2025-01-01T09:00:00Z").text
            let bands = page.components(separatedBy: "<a class=\"band ").dropFirst()
            #expect(bands.count == 3)
            let unbalance = try #require(bands.first { $0.hasPrefix("s1") })
            #expect(unbalance.contains("style=\"left:25.000%;width:50.000%\""))
            #expect(unbalance.contains("data-state=\"Mass unbalance\""))
            #expect(unbalance.contains("data-start=\"2025-01-01T08:15:00Z\" data-end=\"2025-01-01T08:45:00Z\" data-count=\"6\""))
            #expect(unbalance.contains("href=\"/machines/press-1?at=2025-01-01T08:15:00Z\""))
            #expect(page.contains("<div class=\"lane\" data-machine=\"fan-2\">"))
            #expect(page.contains("No diagnosis in this range."))
            // Filter by line; without a range it shows the hour up to the newest diagnosis.
            let lineB = try await client.call(.get, "/timeline?line=Line%20B").text
            #expect(!lineB.contains("data-machine=\"press-1\"") && lineB.contains("data-machine=\"fan-2\""))
            let latest = try await client.call(.get, "/timeline").text
            #expect(latest.contains("value=\"2025-01-01T09:00:00Z\"") && latest.contains("value=\"2025-01-01T08:00:00Z\""))
            #expect(latest.components(separatedBy: "<a class=\"band ").count - 1 == 3)
            let narrow = try await client.call(.get, "/timeline?span=15m").text
            #expect(narrow.contains("value=\"2025-01-01T08:45:00Z\""))
            let bad = try await client.call(.get, "/timeline?from=2025-01-02&to=2025-01-01").text
            #expect(bad.contains("class=\"error\""))
        }
    }

    @Test("a browser gets the machine page at /machines/{name}; API clients get JSON; unknown machines are 404", arguments: Backend.available)
    func machinePage(backend: Backend) async throws {
        try await withApp(backend: backend) { client, store in
            try await seed(store)
            let html = try await client.call(.get, "/machines/press-1", headers: [.accept: "text/html"])
            #expect(html.headers[.contentType] == "text/html; charset=utf-8")
            #expect(html.text.contains("data-machine=\"press-1\" data-sensor=\"s1\" data-channel=\"normal\""))
            #expect(html.text.contains("<canvas id=\"waveform\"") && html.text.contains("<canvas id=\"spectrum\""))
            #expect(html.text.contains("<canvas id=\"trends\""))
            // Chart.js: the local copy when installed, else the CDN pinned by its hash.
            if FileManager.default.fileExists(atPath: "/usr/share/javascript/chart.js/chart.min.js") {
                #expect(html.text.contains("<script src=\"/assets/chart.min.js\"></script>"))
                let chart = try await client.call(.get, "/assets/chart.min.js")
                #expect(chart.status == .ok && chart.text.contains("Chart.js v3.9.1"))
            } else {
                #expect(html.text.contains("integrity=\"sha512-"))
            }
            let fan = try await client.call(.get, "/machines/fan-2", headers: [.accept: "text/html"]).text
            #expect(fan.contains("class=\"state-badge state-1\""))
            #expect(fan.components(separatedBy: "<tr class=\"state-1\">").count - 1 == 3)
            let json = try await client.call(.get, "/machines/press-1")
            #expect(json.headers[.contentType] == "application/json; charset=utf-8")
            #expect(json["machine_name"] as? String == "press-1")
            #expect(try await client.call(.get, "/machines/nobody", headers: [.accept: "text/html"]).status == .notFound)
        }
    }

    @Test("tables sort by time both ways and keep the order across pages", arguments: Backend.available)
    func sorting(backend: Backend) async throws {
        try await withApp(backend: backend) { client, store in
            try await seed(store)
            let newest = try await client.call(.get, "/data?machine_name=press-1").text
            #expect(newest.contains("<td>0.149</td>") && !newest.contains("<td>0.0</td>"))
            #expect(newest.contains("collected_at ↓"))
            let link = try #require(newest.range(of: "class=\"sort\" href=\"/data?")).upperBound
            let query = String(newest[link...].prefix { $0 != "\"" }).replacingOccurrences(of: "&amp;", with: "&")
            #expect(query == "machine_name=press-1&order=asc")
            let oldest = try await client.call(.get, "/data?" + query).text
            #expect(oldest.contains("<td>0.0</td>") && !oldest.contains("<td>0.149</td>"))
            #expect(oldest.contains("collected_at ↑"))
        }
    }

    @Test("/events tells open pages what changed")
    func events() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("himmes-events-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("events.sqlite").path)
        var config = ServerConfig(logLevel: .error, automaticDiagnosis: false)
        // Long enough for the writes below to land on a busy machine, short enough to end the test.
        config.eventStreamLifetime = .seconds(8)
        let app = try buildApplication(store: store, config: config)
        try await app.test(.live) { client in
            // The test client has one connection: the writes go through a second one while the stream is open.
            let base = "http://127.0.0.1:\(try #require(client.port))"
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: base + "/events"), timeout: .seconds(30))
            #expect(response.headers.first(name: "Content-Type") == "text/event-stream")
            var chunks = response.body.makeAsyncIterator()
            var text = ""
            // Subscribed once the greeting has come.
            while !text.contains(": connected\n"), let chunk = try await chunks.next() { text += String(buffer: chunk) }
            for (path, body) in [("/vibration-data", sampleJSON()), ("/vibration-diagnosis", "{\"machine_name\": \"g1\", \"fault_type\": 1}")] {
                var request = HTTPClientRequest(url: base + path)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: body))
                #expect(try await HTTPClient.shared.execute(request, timeout: .seconds(10)).status == .created)
            }
            // The stream ends after its lifetime (8 s here); the browser would reconnect.
            while let chunk = try await chunks.next() { text += String(buffer: chunk) }
            #expect(text.hasPrefix("retry: 2000\n"))
            #expect(text.contains("event: data\ndata: {\"at\":"))
            #expect(text.contains("event: diagnosis\n"))
        }
    }
}
