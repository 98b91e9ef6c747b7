import Foundation
import Testing
import VibrationCore
import VibrationStore

@Suite("Retention")
struct RetentionTests {
    @Test("prune removes exactly the samples before the cutoff, keeps counts and summaries exact, and keeps diagnoses", arguments: Backend.available)
    func prune(backend: Backend) async throws {
        let store = try await backend.makeStore()
        defer { store.close() }
        // Three months of one sensor, a few samples a day on some days, and a second sensor.
        var expectedKept: [VibrationSample] = []
        var expectedGone = 0
        let cutoff = t("2025-03-01T00:00:50Z")  // prune rounds it down to 2025-03-01T00:00:00Z
        for day in ["2025-01-05", "2025-01-31", "2025-02-14", "2025-02-28", "2025-03-01", "2025-03-20"] {
            for (i, time) in ["T00:00:00Z", "T00:00:30Z", "T23:59:59Z"].enumerated() {
                for sensor in ["s1", "s2"] {
                    let s = sample("pump", sensor, at: day + time, time: Double(i) / 100, value: Double(i))
                    _ = try await store.insert(s)
                    if s.collectedAt < t("2025-03-01T00:00:00Z") { expectedGone += 1 } else { expectedKept.append(s) }
                }
            }
        }
        _ = try await store.insert(Diagnosis(machineName: "pump", detectedAt: t("2025-01-05T00:00:00Z"), faultType: .massUnbalance))

        let report = try await store.prune(before: cutoff)
        #expect(report.cutoff == t("2025-03-01T00:00:00Z"))
        #expect(report.samplesDeleted == expectedGone)
        if backend == .postgres {
            #expect(report.partitionsDropped == ["vibration_data_2025m01", "vibration_data_2025m02"])
        }
        let kept = try await store.samples(matching: SampleFilter(), after: nil, limit: 1000).map(\.sample)
        #expect(Set(kept) == Set(expectedKept))
        #expect(kept.count == expectedKept.count)
        let machine = try #require(try await store.machine(named: "pump"))
        #expect(machine.sampleCount == Int64(expectedKept.count))
        #expect(machine.firstCollectedAt == t("2025-03-01T00:00:00Z"))
        // A waveform over everything is drawn from the summary and counts only what is left.
        let wave = try #require(
            try await store.waveform(
                machineName: "pump", sensorNo: "s1", channel: .normal, from: t("2025-01-01T00:00:00Z"), to: t("2025-04-01T00:00:00Z"),
                buckets: 100))
        #expect(wave.samples == expectedKept.count / 2)
        // Diagnoses stay.
        #expect(try await store.diagnosisCount() == 1)
        // New data for a dropped month is still taken.
        _ = try await store.insert(sample("pump", "s1", at: "2025-01-10T00:00:00Z"))
        // A second prune removes only that.
        let again = try await store.prune(before: cutoff)
        #expect(again.samplesDeleted == 1)
        #expect(try await store.sampleCount() == expectedKept.count)
    }
}
