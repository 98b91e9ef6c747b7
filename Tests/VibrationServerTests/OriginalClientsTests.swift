import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import VibrationCore

@testable import VibrationServer
@testable import VibrationStore

/// The original system's clients, replayed request by request as their code sends them: the
/// uploader's 200-row JSON batches of the original data set's files with the upload's wall clock
/// in every row, the diagnosis uploader's 1,000-row batches and its count, the Streamlit apps'
/// reads into tables by column name, and the Next.js pages' grouped reads.
@Suite("The original system's clients")
struct OriginalClientsTests {
    /// A naive local time as Python's `datetime.now().isoformat()` writes it.
    static func pythonNow(_ seconds: Double) -> String {
        let t = Timestamp(secondsSince1970: seconds).csv.replacingOccurrences(of: " ", with: "T")
        return t.contains(".") ? t : t + ".000000"
    }

    /// Rows of an original-layout file (`time, normal, type1, type2, type3`): a recording at 1.4 kHz.
    static func originalFile(rows: Int) -> [[Double]] {
        (0..<rows).map { i in
            let t = Double(i) / 1_400
            return [t, 0.01 * sin(2 * .pi * 30 * t), 0.2 * sin(2 * .pi * 30 * t), 0.05 * sin(2 * .pi * 60 * t), 0.2 * sin(2 * .pi * 30 * t)]
        }
    }

    /// What `upload_sensor_data.py` sends for one file: 200-row batches, each row stamped with the
    /// wall clock as the loop reaches it.
    static func uploadLikeTheOriginal(
        _ client: some TestClientProtocol, machine: String, sensor: String, rows: [[Double]], clockStart: Double
    ) async throws -> Int {
        var inserted = 0
        var batch: [String] = []
        func send() async throws {
            let reply = try await client.call(.post, "/vibration-data/bulk", json: "[" + batch.joined(separator: ",") + "]")
            #expect(reply.status == .ok)
            inserted += reply["inserted"] as? Int ?? 0
            batch.removeAll()
        }
        for (i, row) in rows.enumerated() {
            batch.append(
                #"{"machine_name": "\#(machine)", "sensor_no": "\#(sensor)", "measured_time": \#(row[0]), "collected_at": "\#(pythonNow(clockStart + Double(i) * 0.0003))", "normal": \#(row[1]), "unbalance": \#(row[2]), "looseness": \#(row[3]), "unbalance_looseness": \#(row[4])}"#
            )
            if batch.count >= 200 { try await send() }
        }
        if !batch.isEmpty { try await send() }
        return inserted
    }

    @Test("the uploader's batches are all taken, and the Streamlit reads get plain arrays by column under --compat original", arguments: Backend.available)
    func uploaderAndStreamlit(backend: Backend) async throws {
        try await withApp(backend: backend, configure: { $0.compatibility = .original }) { client, store in
            // Nothing stored yet: the original answered 404, which its scripts' raise_for_status reports.
            #expect(try await client.call(.get, "/vibration-data").status == .notFound)
            let rows = Self.originalFile(rows: 1_400 * 9)
            let inserted = try await Self.uploadLikeTheOriginal(client, machine: "g1", sensor: "sensor1", rows: rows, clockStart: 1_745_900_000)
            #expect(inserted == rows.count)
            _ = try await Self.uploadLikeTheOriginal(client, machine: "g2", sensor: "sensor2", rows: Array(rows.prefix(500)), clockStart: 1_745_900_100)
            #expect(try await store.sampleCount() == rows.count + 500)

            // vibration_timeseries_dashboard.py: GET with sensor_no and limit, a table by column.
            let bySensor = try await client.call(.get, "/vibration-data?sensor_no=sensor2&limit=1000")
            let table = try #require(bySensor.json as? [[String: Any]], "a plain array: \(bySensor.text.prefix(200))")
            #expect(table.count == 500)
            for column in ["collected_at", "machine_name", "sensor_no", "measured_time", "normal", "unbalance", "looseness", "unbalance_looseness", "id"] {
                #expect(table.allSatisfy { $0[column] != nil }, "column \(column)")
            }
            // vibration_by_measured_time.py: everything, streamed page after page, ordered by machine.
            let all = try #require(try await client.call(.get, "/vibration-data").json as? [[String: Any]])
            #expect(all.count == rows.count + 500)
            let machines = all.map { $0["machine_name"] as? String ?? "" }
            #expect(machines == machines.sorted())
            #expect(Set(all.compactMap { $0["id"] as? Int }).count == all.count)
            #expect(all.allSatisfy { ($0["measured_time"] as? Double ?? 999) <= 140 })
        }
    }

    @Test("the engine diagnoses what the uploader sent: naive wall-clock stamps in the plant's zone, two files at once", arguments: Backend.available)
    func uploaderRecordingsAreDiagnosed(backend: Backend) async throws {
        try await withApp(
            backend: backend,
            configure: {
                $0.compatibility = .original
                $0.automaticDiagnosis = true
                $0.timeZone = PlantTimeZone(identifier: "Asia/Seoul")!
            }
        ) { client, store in
            _ = try await client.call(.put, "/machines/g1", json: #"{"channel": "unbalance"}"#)
            _ = try await client.call(.put, "/machines/g2", json: #"{"channel": "unbalance"}"#)
            let rows = Self.originalFile(rows: 1_400 * 6)
            // Two uploaders at once, each a file of six seconds; then the first file sent again.
            async let first = Self.uploadLikeTheOriginal(client, machine: "g1", sensor: "sensor1", rows: rows, clockStart: 1_745_900_000)
            async let second = Self.uploadLikeTheOriginal(client, machine: "g2", sensor: "sensor1", rows: rows, clockStart: 1_745_900_000.5)
            #expect(try await first + second == 2 * rows.count)
            #expect(try await Self.uploadLikeTheOriginal(client, machine: "g1", sensor: "sensor1", rows: rows, clockStart: 1_745_900_060) == rows.count)
            var diagnoses: [StoredDiagnosis] = []
            for _ in 0..<150 where diagnoses.count < 18 {
                try await Task.sleep(for: .milliseconds(100))
                diagnoses = try await store.diagnoses(matching: DiagnosisFilter(), after: nil, limit: 100)
            }
            // Six windows per recording: g1 twice, g2 once; each a mass unbalance (0.2 g at 1X).
            let byMachine = Dictionary(grouping: diagnoses, by: \.diagnosis.machineName)
            #expect(byMachine["g1"]?.count == 12)
            #expect(byMachine["g2"]?.count == 6)
            #expect(diagnoses.allSatisfy { $0.diagnosis.faultType == .massUnbalance })
            // A window's time is the recording's start (the first row's wall clock, Seoul time) plus
            // measured_time: the first g1 window ends one second after the upload began.
            let began = Timestamp(secondsSince1970: 1_745_900_000 - 9 * 3_600)
            let firstEnd = try #require(byMachine["g1"]?.map(\.diagnosis.detectedAt).min())
            #expect(abs(firstEnd.microseconds - began.adding(seconds: 1).microseconds) < 10_000)
            // The machine page's views place the rows there too: the file's six seconds at 1.4 kHz
            // (uploaded in 2.5 s of wall clock), its spectrum with the 30 Hz line at 1X.
            let start = began.adding(seconds: -0.01).rfc3339
            let end = began.adding(seconds: 6.5).rfc3339
            let waveform = try await client.call(.get, "/machines/g1/waveform?sensor_no=sensor1&from=\(start)&to=\(end)&points=600")
            #expect(waveform["samples"] as? Int == rows.count, "\(waveform.text.prefix(300))")
            #expect(abs((Timestamp(parsing: waveform["data_from"] as? String ?? "")?.microseconds ?? 0) - began.microseconds) < 10_000)
            let spectrum = try await client.call(
                .get, "/machines/g1/spectrum?sensor_no=sensor1&at=\(began.adding(seconds: 2).rfc3339)&channel=unbalance")
            #expect(spectrum.status == .ok, "\(spectrum.text.prefix(300))")
            #expect(abs((spectrum["sample_rate_hz"] as? Double ?? 0) - 1_400) < 1, "\(spectrum.text.prefix(300))")
            let oneX = (spectrum["markers"] as? [[String: Any]])?.first { $0["label"] as? String == "1X" }?["hz"] as? Double
            #expect(abs((oneX ?? 0) - 30) < 0.5, "\(spectrum.text.prefix(300))")
        }
    }

    @Test("the diagnosis uploader's 1000-row batches, its count and the pages' grouped reads", arguments: Backend.available)
    func diagnosisUploaderAndNextPages(backend: Backend) async throws {
        try await withApp(backend: backend, configure: { $0.compatibility = .original }) { client, _ in
            // insert_dummy_diagnosis_data.py and periodic_sensor_upload.py: naive local times in
            // time order, an extra field the server does not keep, 1000 rows a request.
            var rng = SplitMix64(seed: 7)
            let start = Timestamp(parsing: "2025-04-22T12:00:00Z")!.secondsSince1970
            let rows = (0..<3_000).map { _ -> (String, Double, Int) in
                ("g\(1 + Int(rng.next() % 5))", start + Double(rng.next() % (7 * 86_400)), Int(rng.next() % 4))
            }.sorted { $0.1 < $1.1 }
            for offset in stride(from: 0, to: rows.count, by: 1_000) {
                let batch = rows[offset..<min(rows.count, offset + 1_000)].map {
                    #"{"machine_name": "\#($0.0)", "detected_at": "\#(Self.pythonNow($0.1))", "fault_type": \#($0.2), "sensor_data": "{\"sequence\": [[0.1, 0.2]]}"}"#
                }
                let reply = try await client.call(.post, "/vibration-diagnosis/bulk", json: "[" + batch.joined(separator: ",") + "]")
                #expect(reply.status == .ok && reply["inserted"] as? Int == batch.count, "\(reply.text.prefix(300))")
            }
            // check_total_count(): len(res.json()).
            let all = try #require(try await client.call(.get, "/vibration-diagnosis").json as? [[String: Any]])
            #expect(all.count == rows.count)
            #expect(all.allSatisfy { $0["detected_at"] is String && $0["machine_name"] is String && $0["fault_type"] is Int })

            // The Next.js pages: grouped-recent without a limit (1000 per machine), newest first
            // within each machine, machines in order.
            let recent = try #require(try await client.call(.get, "/vibration-diagnosis/grouped-recent").json as? [[String: Any]])
            let perMachine = Dictionary(grouping: rows, by: \.0)
            #expect(recent.count == perMachine.values.map { min($0.count, 1_000) }.reduce(0, +))
            let names = recent.map { $0["machine_name"] as! String }
            #expect(names == names.sorted())
            for (machine, group) in Dictionary(grouping: recent, by: { $0["machine_name"] as! String }) {
                let times = group.map { Timestamp(parsing: $0["detected_at"] as! String)! }
                #expect(times == times.sorted(by: >), "\(machine)")
                let newest = perMachine[machine]!.map(\.1).sorted(by: >).prefix(1_000)
                #expect(times.map(\.secondsSince1970) == Array(newest))
            }
            let three = try #require(try await client.call(.get, "/vibration-diagnosis/grouped-recent?per_group_limit=3").json as? [[String: Any]])
            #expect(three.count == 15)
            #expect(try await client.call(.get, "/vibration-diagnosis/grouped-recent?per_group_limit=0").status == .unprocessableContent)

            // One row at a time, as the original answered: 200 and {"status": "success", "data": row}.
            let diagnosis = try await client.call(
                .post, "/vibration-diagnosis", json: #"{"machine_name": "g9", "detected_at": "2025-04-30T10:00:00", "fault_type": 2}"#)
            #expect(diagnosis.status == .ok && diagnosis["status"] as? String == "success", "\(diagnosis.text.prefix(300))")
            let stored = try #require(diagnosis["data"] as? [String: Any])
            #expect(stored["machine_name"] as? String == "g9" && stored["fault_type"] as? Int == 2 && stored["id"] is Int)
            let sample = try await client.call(.post, "/vibration-data", json: sampleJSON(time: 0.5))
            #expect(sample.status == .ok && (sample["data"] as? [String: Any])?["measured_time"] as? Double == 0.5, "\(sample.text.prefix(300))")
            // A refused row keeps its problem answer.
            #expect(try await client.call(.post, "/vibration-data", json: sampleJSON(time: 0.5)).status == .conflict)
        }
    }

    @Test("grouped-range gives each sensor's first samples by measured_time within 0-140 s; lists keep their pages without the switch", arguments: Backend.available)
    func groupedRange(backend: Backend) async throws {
        try await withApp(backend: backend) { client, _ in
            var csv = "machine_name,sensor_no,collected_at,measured_time,normal,unbalance,looseness,unbalance_looseness\n"
            // Two recordings of s1 (measured_time restarts) and one of s2, some past 140 s.
            for (sensor, start) in [("s1", "2025-01-01 00:00:00"), ("s1", "2025-01-01 01:00:00"), ("s2", "2025-01-01 00:00:00")] {
                for i in 0..<30 { csv += "m,\(sensor),\(start),\(Double(i) * 7),\(i),0,0,0\n" }
            }
            #expect(try await client.call(.post, "/vibration-data/bulk", json: csv, contentType: "text/csv")["inserted"] as? Int == 90)
            let grouped = try #require(try await client.call(.get, "/vibration-data/grouped-range?per_group_limit=5").json as? [[String: Any]])
            #expect(grouped.map { $0["sensor_no"] as! String } == Array(repeating: "s1", count: 5) + Array(repeating: "s2", count: 5))
            #expect(grouped.prefix(5).map { $0["measured_time"] as! Double } == [0, 0, 7, 7, 14])
            let everything = try #require(try await client.call(.get, "/vibration-data/grouped-range").json as? [[String: Any]])
            #expect(everything.count == 3 * 21 && everything.allSatisfy { ($0["measured_time"] as! Double) <= 140 })
            // Without --compat original the lists answer their pages as before.
            let page = try await client.call(.get, "/vibration-data?limit=10")
            #expect(page.items.count == 10 && page.object.keys.contains("next_cursor"))
        }
    }

    @Test("the original dashboard's addresses lead to their pages; the diagnosis page shows each machine's fault types", arguments: Backend.available)
    func dashboardAddresses(backend: Backend) async throws {
        try await withApp(backend: backend) { client, store in
            for (old, new) in [("/vibration-table?x=1", "/data?x=1"), ("/diagnosis-dashboard", "/diagnosis"), ("/machine-fault-timeline", "/timeline")] {
                let reply = try await client.call(.get, old)
                #expect(reply.status == .permanentRedirect || reply.status == .movedPermanently, "\(old): \(reply.status)")
                #expect(reply.headers[.location] == new)
            }
            let day = Timestamp(parsing: "2025-04-26T00:00:00Z")!
            var rows: [Diagnosis] = []
            for (machine, types) in [("g1", [0, 0, 0, 1]), ("g2", [2, 2, 3]), ("g3", [0])] {
                for (i, type) in types.enumerated() {
                    rows.append(Diagnosis(machineName: machine, detectedAt: day.adding(seconds: Double(i) * 60), faultType: FaultType(rawValue: type)!))
                }
            }
            // Outside the range asked for below: not counted.
            rows.append(Diagnosis(machineName: "g1", detectedAt: day.adding(seconds: -86_400), faultType: .supportLooseness))
            _ = try await store.insert(rows)
            let counts = try await store.faultTypeCounts(machineName: nil, from: day, to: day.adding(seconds: 86_399))
            #expect(counts.map { "\($0.machineName) \($0.faultType.rawValue) \($0.count)" } == ["g1 0 3", "g1 1 1", "g2 2 2", "g2 3 1", "g3 0 1"])
            let page = try await client.call(.get, "/diagnosis?from=2025-04-26&to=2025-04-26&fault_type=2")
            #expect(page.status == .ok)
            // Every fault type is counted whatever the fault type filter; each bar's segments add up.
            #expect(page.text.contains("class=\"dist-row\""))
            #expect(page.text.contains("data-count=\"3\"") && page.text.contains("style=\"width:75.000%\""))
            #expect(page.text.contains("style=\"width:66.667%\"") && page.text.contains("style=\"width:100.000%\""))
            let one = try await client.call(.get, "/diagnosis?machine_name=g2&from=2025-04-26&to=2025-04-26")
            #expect(one.text.components(separatedBy: "class=\"dist-row\"").count == 2)
        }
    }

    @Test("--time-zone: naive times from the original's clients are the plant's local times; the original's answers carry its offset", arguments: Backend.available)
    func plantTimeZone(backend: Backend) async throws {
        let seoul = PlantTimeZone(identifier: "Asia/Seoul")!
        try await withApp(backend: backend, configure: { $0.timeZone = seoul; $0.compatibility = .original }) { client, store in
            let rows = [
                #"{"machine_name": "g1", "sensor_no": "s1", "collected_at": "2025-04-29T08:00:00.250000", "measured_time": 0.25, "normal": 0, "unbalance": 0, "looseness": 0, "unbalance_looseness": 0}"#,
                #"{"machine_name": "g1", "sensor_no": "s1", "collected_at": "2025-04-29T08:00:00Z", "measured_time": 0.5, "normal": 0, "unbalance": 0, "looseness": 0, "unbalance_looseness": 0}"#,
            ]
            #expect(try await client.call(.post, "/vibration-data/bulk", json: "[" + rows.joined(separator: ",") + "]")["inserted"] as? Int == 2)
            let csv = "machine_name,sensor_no,collected_at,measured_time,normal,unbalance,looseness,unbalance_looseness\ng1,s1,2025-04-29 09:00:00,0,0,0,0,0\n"
            #expect(try await client.call(.post, "/vibration-data/bulk", json: csv, contentType: "text/csv")["inserted"] as? Int == 1)
            let diagnosis = try await client.call(.post, "/vibration-diagnosis", json: #"{"machine_name": "g1", "fault_type": 1, "detected_at": "2025-04-29T08:30:00"}"#)
            #expect(diagnosis.status == .ok)
            let answered = try #require((diagnosis["data"] as? [String: Any])?["detected_at"] as? String)
            #expect(Timestamp(parsing: answered) == Timestamp(parsing: "2025-04-28T23:30:00Z"), "\(answered)")
            // Stored in UTC: 08:00 in Seoul is 23:00 the day before.
            let stored = try await store.samples(matching: SampleFilter(), after: nil, limit: 10).map(\.sample.collectedAt)
            #expect(stored == ["2025-04-28T23:00:00.25Z", "2025-04-29T00:00:00Z", "2025-04-29T08:00:00Z"].map { Timestamp(parsing: $0)! })
            // A date or time asked for is the plant's local one: all three rows are on the 29th in
            // Seoul, and only the one sent in UTC is after noon there.
            let day = try await client.call(.get, "/vibration-data.csv?from=2025-04-29&to=2025-04-29")
            #expect(day.text.split(separator: "\n").count == 4, "\(day.text)")
            let afternoon = try await client.call(.get, "/vibration-data.csv?from=2025-04-29T12:00:00&to=2025-04-29")
            #expect(afternoon.text.split(separator: "\n").count == 2, "\(afternoon.text)")
            let dayBefore = try await client.call(.get, "/vibration-data.csv?from=2025-04-28&to=2025-04-28")
            #expect(dayBefore.text.split(separator: "\n").count == 1, "\(dayBefore.text)")
            // The original's plain arrays write the plant's local time with its offset.
            let all = try #require(try await client.call(.get, "/vibration-data").json as? [[String: Any]])
            #expect(all.map { $0["collected_at"] as! String } == ["2025-04-29T08:00:00.25+09:00", "2025-04-29T09:00:00+09:00", "2025-04-29T17:00:00+09:00"])
            let diagnoses = try #require(try await client.call(.get, "/vibration-diagnosis").json as? [[String: Any]])
            #expect(diagnoses.first?["detected_at"] as? String == "2025-04-29T08:30:00+09:00")
        }
    }
}
