import Foundation
import Testing
import VibrationCore

@testable import VibrationStore

@Suite("Store")
struct StoreTests {
    @Test("a sample is stored once and read back by id", arguments: Backend.available)
    func insertAndRead(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let stored = try await store.insert(sample(time: 0.25))
        #expect(stored.id > 0)
        #expect(try await store.sample(id: stored.id) == stored)
        #expect(try await store.sample(id: stored.id + 1000) == nil)
    }

    @Test("the same identity is refused with the id of the stored row", arguments: Backend.available)
    func duplicate(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let first = try await store.insert(sample(time: 0.25, value: 1))
        await #expect(throws: StoreError.duplicateSample(existingID: first.id)) {
            try await store.insert(sample(time: 0.25, value: 2))
        }
        // Another sensor, time or machine is another identity.
        _ = try await store.insert(sample("g1", "sensor2", time: 0.25))
        _ = try await store.insert(sample("g2", "sensor1", time: 0.25))
        _ = try await store.insert(sample(at: "2025-01-01T00:00:00.000001Z", time: 0.25))
        _ = try await store.insert(sample(time: 0.2500001))
        let all = try await store.samples(matching: SampleFilter(), after: nil, limit: 100)
        #expect(all.count == 5)
        #expect(all.first { $0.id == first.id }?.sample.normal == 1)
    }

    @Test("lists page through every sample once, in (collected_at, measured_time, id) order", arguments: Backend.available)
    func paging(backend: Backend) async throws {
        let store = try await backend.makeStore()
        var expected: [StoredSample] = []
        // Interleave sensors and recordings so that insertion order is not list order.
        for recording in ["2025-01-01T00:00:10Z", "2025-01-01T00:00:00Z"] {
            for sensor in ["sensor2", "sensor1"] {
                for i in stride(from: 9, through: 0, by: -1) {
                    expected.append(try await store.insert(sample("g1", sensor, at: recording, time: Double(i) / 1000)))
                }
            }
        }
        expected.sort {
            ($0.sample.collectedAt, $0.sample.measuredTime, $0.id) < ($1.sample.collectedAt, $1.sample.measuredTime, $1.id)
        }
        var seen: [StoredSample] = []
        var cursor: SampleCursor?
        repeat {
            let page = try await store.samples(matching: SampleFilter(), after: cursor, limit: 7)
            seen += page
            cursor = page.count == 7 ? SampleCursor(after: page[6]) : nil
        } while cursor != nil
        #expect(seen == expected)
    }

    @Test("newest first lists the same samples in reverse, across sensors and pages", arguments: Backend.available)
    func newestFirst(backend: Backend) async throws {
        let store = try await backend.makeStore()
        for recording in ["2025-01-01T00:00:10Z", "2025-01-01T00:00:00Z"] {
            for sensor in ["sensor2", "sensor1"] {
                for i in 0..<9 { _ = try await store.insert(sample("g1", sensor, at: recording, time: Double(i) / 1000)) }
            }
        }
        let oldestFirst = try await store.samples(matching: SampleFilter(), after: nil, limit: 1_000)
        var seen: [StoredSample] = []
        var cursor: SampleCursor?
        let filter = SampleFilter(order: .newestFirst)
        repeat {
            let page = try await store.samples(matching: filter, after: cursor, limit: 5)
            seen += page
            cursor = page.count == 5 ? SampleCursor(after: page[4]) : nil
        } while cursor != nil
        #expect(oldestFirst.count == 36)
        #expect(seen == oldestFirst.reversed())
        // Diagnoses too, ties on time broken by id in the same direction.
        for (i, at) in ["2025-01-01T00:00:02Z", "2025-01-01T00:00:01Z", "2025-01-01T00:00:02Z"].enumerated() {
            _ = try await store.insert(Diagnosis(machineName: "g\(i)", detectedAt: t(at), faultType: .normal))
        }
        let ascending = try await store.diagnoses(matching: DiagnosisFilter(), after: nil, limit: 10)
        let firstPage = try await store.diagnoses(matching: DiagnosisFilter(order: .newestFirst), after: nil, limit: 2)
        let rest = try await store.diagnoses(
            matching: DiagnosisFilter(order: .newestFirst), after: DiagnosisCursor(after: firstPage[1]), limit: 10)
        #expect(firstPage + rest == ascending.reversed())
    }

    @Test("timeline bands agree with a brute-force grouping: the worst verdict per slot, equal neighbours merged", arguments: Backend.available)
    func diagnosisRuns(backend: Backend) async throws {
        let store = try await backend.makeStore()
        var rng = SplitMix64(seed: 11)
        var inserted: [Diagnosis] = []
        for i in 0..<400 {
            let machine = "m\(rng.next() % 3)"
            // Long stretches of one verdict with occasional flips, and some equal times.
            let type = FaultType(rawValue: Int(rng.next() % 10 < 8 ? (inserted.last { $0.machineName == machine }?.faultType.rawValue ?? 0) : Int(rng.next() % 4)))!
            inserted.append(Diagnosis(machineName: machine, detectedAt: Timestamp(microseconds: Int64(i / 2) * 1_000_000), faultType: type))
        }
        _ = try await store.insert(inserted)
        let from = Timestamp(microseconds: 20_000_000)
        let to = Timestamp(microseconds: 150_000_000)
        let stored = try await store.diagnoses(matching: DiagnosisFilter(from: from, to: to), after: nil, limit: 10_000)
        func bruteForce(slots: Int64, machines: [String]) -> [DiagnosisRun] {
            let span = to.microseconds - from.microseconds + 1
            var expected: [DiagnosisRun] = []
            for machine in machines {
                let rows = stored.filter { $0.diagnosis.machineName == machine }
                let bySlot = Dictionary(grouping: rows) { ($0.diagnosis.detectedAt.microseconds - from.microseconds) * slots / span }
                for slot in bySlot.keys.sorted() {
                    let inSlot = bySlot[slot]!
                    let worst = inSlot.map(\.diagnosis.faultType.rawValue).max()!
                    let worstRows = inSlot.filter { $0.diagnosis.faultType.rawValue == worst }
                    let times = inSlot.map(\.diagnosis.detectedAt)
                    let band = DiagnosisRun(
                        machineName: machine, faultType: FaultType(rawValue: worst)!, first: times.min()!, last: times.max()!,
                        count: inSlot.count, lastID: worstRows.map(\.id).max()!)
                    if expected.last?.continues(into: band) == true {
                        expected[expected.count - 1].extend(with: band)
                    } else {
                        expected.append(band)
                    }
                }
            }
            return expected
        }
        for slots in [1_000, 37, 1] {
            let runs = try await store.diagnosisRuns(machineName: nil, from: from, to: to, slots: slots)
            #expect(runs == bruteForce(slots: Int64(slots), machines: ["m0", "m1", "m2"]), "\(slots) slots")
            #expect(runs.map(\.count).reduce(0, +) == stored.count)
        }
        let fine = try await store.diagnosisRuns(machineName: nil, from: from, to: to, slots: 1_000)
        #expect(fine.count > 10, "the data should flip verdicts often enough to test runs")
        // One slot: a machine with any fault shows its worst, never normal.
        let coarse = try await store.diagnosisRuns(machineName: nil, from: from, to: to, slots: 1)
        #expect(coarse.count == 3 && coarse.allSatisfy { $0.faultType != .normal })
        let one = try await store.diagnosisRuns(machineName: "m1", from: from, to: to, slots: 37)
        #expect(one == bruteForce(slots: 37, machines: ["m1"]))
    }

    @Test("the timeline over the whole calendar: slots of centuries, no overflow", arguments: Backend.available)
    func diagnosisRunsOverTheCalendar(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let times = [Timestamp.earliest, Timestamp(parsing: "2025-01-01T00:00:00Z")!, .latest]
        _ = try await store.insert(times.map { Diagnosis(machineName: "m", detectedAt: $0, faultType: .massUnbalance) })
        for slots in [1, 1_000, 100_000] {
            let runs = try await store.diagnosisRuns(machineName: nil, from: .earliest, to: .latest, slots: slots)
            #expect(runs.count == 1 && runs.first?.count == 3 && runs.first?.first == .earliest && runs.first?.last == .latest, "\(slots) slots")
        }
        // Each time falls in the slot its share of the range puts it in.
        let builder = DiagnosisRunBuilder(from: .earliest, to: .latest, slots: 100_000)
        #expect(builder.slot(of: Timestamp.earliest.microseconds) == 0)
        #expect(builder.slot(of: Timestamp.latest.microseconds) == 99_999)
        #expect(builder.slot(of: times[1].microseconds) == 20_242)
    }

    @Test("filters by machine, sensor and an inclusive time range", arguments: Backend.available)
    func filters(backend: Backend) async throws {
        let store = try await backend.makeStore()
        for machine in ["g1", "g2"] {
            for sensor in ["sensor1", "sensor2"] {
                for minute in 0..<5 {
                    _ = try await store.insert(sample(machine, sensor, at: "2025-01-01T00:0\(minute):00Z"))
                }
            }
        }
        func count(_ filter: SampleFilter) async throws -> Int {
            try await store.samples(matching: filter, after: nil, limit: 1000).count
        }
        #expect(try await count(SampleFilter()) == 20)
        #expect(try await count(SampleFilter(machineName: "g1")) == 10)
        #expect(try await count(SampleFilter(machineName: "g1", sensorNo: "sensor2")) == 5)
        #expect(try await count(SampleFilter(sensorNo: "sensor2")) == 10)
        #expect(try await count(SampleFilter(machineName: "g3")) == 0)
        let ranged = SampleFilter(machineName: "g2", from: t("2025-01-01T00:01:00Z"), to: t("2025-01-01T00:03:00Z"))
        let rows = try await store.samples(matching: ranged, after: nil, limit: 1000)
        #expect(rows.count == 6)
        #expect(rows.allSatisfy { $0.sample.machineName == "g2" })
        #expect(rows.map(\.sample.collectedAt).min() == t("2025-01-01T00:01:00Z"))
        #expect(rows.map(\.sample.collectedAt).max() == t("2025-01-01T00:03:00Z"))
    }

    @Test("diagnoses list in time order with filters and paging", arguments: Backend.available)
    func diagnoses(backend: Backend) async throws {
        let store = try await backend.makeStore()
        var stored: [StoredDiagnosis] = []
        for i in 0..<30 {
            let d = Diagnosis(
                machineName: i % 2 == 0 ? "g1" : "g2", detectedAt: t("2025-01-01T00:00:00Z").adding(seconds: Double(30 - i)),
                faultType: FaultType(rawValue: i % 4)!)
            stored.append(try await store.insert(d))
        }
        #expect(try await store.diagnosis(id: stored[3].id) == stored[3])
        #expect(try await store.diagnosis(id: 999_999) == nil)
        var seen: [StoredDiagnosis] = []
        var cursor: DiagnosisCursor?
        repeat {
            let page = try await store.diagnoses(matching: DiagnosisFilter(), after: cursor, limit: 4)
            seen += page
            cursor = page.count == 4 ? DiagnosisCursor(after: page[3]) : nil
        } while cursor != nil
        #expect(seen == stored.sorted { ($0.diagnosis.detectedAt, $0.id) < ($1.diagnosis.detectedAt, $1.id) })
        let unbalanced = try await store.diagnoses(
            matching: DiagnosisFilter(machineName: "g2", faultType: .massUnbalance), after: nil, limit: 100)
        #expect(unbalanced.count == stored.filter { $0.diagnosis.machineName == "g2" && $0.diagnosis.faultType == .massUnbalance }.count)
        #expect(!unbalanced.isEmpty)
    }

    @Test("latest diagnosis per machine: newest time wins, then the highest id among ties", arguments: Backend.available)
    func latestWithTies(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let noon = t("2025-01-01T12:00:00Z")
        _ = try await store.insert(Diagnosis(machineName: "pump", detectedAt: noon, faultType: .supportLooseness))
        let tieWinner = try await store.insert(Diagnosis(machineName: "pump", detectedAt: noon, faultType: .massUnbalance))
        // Inserted later but detected earlier: must not win.
        _ = try await store.insert(Diagnosis(machineName: "pump", detectedAt: noon.adding(seconds: -1), faultType: .normal))
        let fan = try await store.insert(Diagnosis(machineName: "fan", detectedAt: noon.adding(seconds: -60), faultType: .normal))
        let latest = try await store.latestDiagnoses(machineName: nil)
        #expect(latest == [fan, tieWinner])
        #expect(try await store.latestDiagnoses(machineName: "pump") == [tieWinner])
        #expect(try await store.latestDiagnoses(machineName: "absent") == [])
    }

    @Test("latest per machine agrees with a brute-force answer across many machines", arguments: Backend.available)
    func latestManyMachines(backend: Backend) async throws {
        let store = try await backend.makeStore()
        var generator = SplitMix(seed: 7)
        var all: [StoredDiagnosis] = []
        for _ in 0..<600 {
            let d = Diagnosis(
                machineName: "m\(generator.next() % 50)", detectedAt: Timestamp(microseconds: Int64(generator.next() % 40) * 1_000_000),
                faultType: FaultType(rawValue: Int(generator.next() % 4))!)
            all.append(try await store.insert(d))
        }
        let expected = Dictionary(grouping: all, by: \.diagnosis.machineName).values
            .map { $0.max { ($0.diagnosis.detectedAt, $0.id) < ($1.diagnosis.detectedAt, $1.id) }! }
            .sorted { $0.diagnosis.machineName < $1.diagnosis.machineName }
        #expect(try await store.latestDiagnoses(machineName: nil) == expected)
    }

    @Test("machines list sensors, counts, data range and latest verdict", arguments: Backend.available)
    func machines(backend: Backend) async throws {
        let store = try await backend.makeStore()
        #expect(try await store.machines().isEmpty)
        _ = try await store.insert(sample("g1", "sensor2", at: "2025-01-01T00:00:05Z"))
        _ = try await store.insert(sample("g1", "sensor1", at: "2025-01-01T00:00:00Z"))
        _ = try await store.insert(sample("g1", "sensor1", at: "2025-01-01T00:00:09Z"))
        let verdict = try await store.insert(Diagnosis(machineName: "g1", detectedAt: t("2025-01-02T00:00:00Z"), faultType: .massUnbalance))
        let onlyVerdict = try await store.insert(Diagnosis(machineName: "a-fan", detectedAt: t("2025-01-02T00:00:00Z"), faultType: .normal))
        let machines = try await store.machines()
        #expect(machines.map(\.machineName) == ["a-fan", "g1"])
        #expect(machines[0] == MachineSummary(machineName: "a-fan", sensors: [], sampleCount: 0, firstCollectedAt: nil, lastCollectedAt: nil, latestDiagnosis: onlyVerdict))
        #expect(machines[1].sensors == ["sensor1", "sensor2"])
        #expect(machines[1].sampleCount == 3)
        #expect(machines[1].firstCollectedAt == t("2025-01-01T00:00:00Z"))
        #expect(machines[1].lastCollectedAt == t("2025-01-01T00:00:09Z"))
        #expect(machines[1].latestDiagnosis == verdict)
    }
}

/// A small deterministic generator, so that a failing case can be run again.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
