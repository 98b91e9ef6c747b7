import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VibrationCore
import VibrationStore

@Suite("Dashboard pages")
struct DashboardTests {
    /// Two machines with known states and an open alarm, without running the engine.
    func seed(_ store: SQLiteStore) async throws {
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
        _ = try await store.record(results, progress: PendingWindows(windows: [], scannedThrough: 0, open: []), tracker: MachineStateTracker())
    }

    @Test("every page has its own title and the navigation", arguments: [("/", "Status board"), ("/data", "Vibration data"), ("/diagnosis", "Diagnoses")])
    func titles(path: String, title: String) async throws {
        try await withApp { client, store in
            try await seed(store)
            let page = try await client.call(.get, path)
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.text.contains("<title>\(title) · HIM-MES</title>"))
            #expect(page.text.contains("href=\"/data\""))
        }
    }

    @Test("the status board shows each machine's state in words, icon and colour, counts and open alarms")
    func board() async throws {
        try await withApp { client, store in
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
        }
    }

    @Test("the data table filters, pages by cursor and links the CSV download of the filter")
    func data() async throws {
        try await withApp { client, store in
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

    @Test("the diagnosis table filters by fault type")
    func diagnoses() async throws {
        try await withApp { client, store in
            try await seed(store)
            let all = try await client.call(.get, "/diagnosis").text
            #expect(all.components(separatedBy: "<tr class=\"state-1\">").count - 1 == 3)
            let normal = try await client.call(.get, "/diagnosis?fault_type=0").text
            #expect(normal.contains("No rows match these filters."))
        }
    }

    @Test("Korean by ?lang=ko or Accept-Language")
    func korean() async throws {
        try await withApp { client, store in
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

    @Test("assets are served with their types")
    func assets() async throws {
        try await withApp { client, _ in
            let css = try await client.call(.get, "/assets/app.css")
            let js = try await client.call(.get, "/assets/app.js")
            #expect(css.headers[.contentType] == "text/css; charset=utf-8")
            #expect(js.text.contains("toLocaleString"))
        }
    }
}
