import Foundation
import Testing
import VibrationCore

@testable import VibrationStore

/// The engine finds the same windows and verdicts whatever a sender put in `collected_at`.
/// One case at a time: each classifies its windows on the test's own thread, and the suite's
/// timing tests share the few cooperative threads with it.
@Suite("Recordings from every collected_at shape", .serialized)
struct RecordingShapesTests {
    struct Row {
        var stream: StreamKey
        var collectedAt: Int64
        var measuredTime: Double
        var values: (Double, Double, Double, Double)
    }

    /// 2 machines x 1 sensor, two 3-second recordings each at 1 kHz, as exact instants, in file order
    /// (the two sensors' uploaders take turns below: two uploaders at once).
    static let plant: [Row] = {
        let generator = PlantGenerator(
            options: .init(rows: 2 * 1_000 * 6, machines: 2, sensors: 1, rateHz: 1_000, jitter: 0, seed: 11, recordingSeconds: 3))
        var rows: [Row] = []
        for channel in generator.channels {
            generator.forEachSample(of: channel) { collectedAt, t, v in
                rows.append(
                    Row(
                        stream: StreamKey(machineName: channel.machineName, sensorNo: channel.sensorNo), collectedAt: collectedAt.microseconds,
                        measuredTime: t, values: (v.normal, v.unbalance, v.looseness, v.unbalanceLooseness)))
            }
        }
        return rows
    }()

    enum Shape: String, CaseIterable, CustomStringConvertible {
        case exact, start, wholeSeconds, wallClockPerRow, wallClockPerBatch, shuffledBatches, shuffledWholeSeconds

        var description: String { rawValue }
    }

    /// The plant as a sender of `shape` would deliver it: 200-row batches, the two sensors' uploaders
    /// taking turns (two at once), in the order they would arrive.
    static func batches(_ shape: Shape) -> [[Row]] {
        let upload: Int64 = 1_760_000_000_000_000
        var perSensor: [StreamKey: [Row]] = [:]
        var order: [StreamKey] = []
        for row in plant {
            if perSensor[row.stream] == nil { order.append(row.stream) }
            perSensor[row.stream, default: []].append(row)
        }
        var chunks: [[Row]] = []
        let longest = perSensor.values.map(\.count).max() ?? 0
        for offset in stride(from: 0, to: longest, by: 200) {
            for key in order where offset < perSensor[key]!.count {
                chunks.append(Array(perSensor[key]![offset..<min(offset + 200, perSensor[key]!.count)]))
            }
        }
        var rng = SplitMix64(seed: 99)
        switch shape {
        case .exact:
            break
        case .start:
            chunks = chunks.map { $0.map { var r = $0; r.collectedAt -= Int64((r.measuredTime * 1_000_000).rounded()); return r } }
        case .wholeSeconds, .shuffledWholeSeconds:
            chunks = chunks.map { $0.map { var r = $0; r.collectedAt = (r.collectedAt + 500_000) / 1_000_000 * 1_000_000; return r } }
        case .wallClockPerRow:
            var i: Int64 = 0
            chunks = chunks.map {
                $0.map {
                    var r = $0
                    r.collectedAt = upload + i * 600
                    i += 1
                    return r
                }
            }
        case .wallClockPerBatch:
            chunks = chunks.enumerated().map { b, chunk in chunk.map { var r = $0; r.collectedAt = upload + Int64(b) * 40_000; return r } }
        case .shuffledBatches:
            break
        }
        if shape == .shuffledBatches || shape == .shuffledWholeSeconds {
            for i in stride(from: chunks.count - 1, to: 0, by: -1) {
                chunks.swapAt(i, Int(rng.next() % UInt64(i + 1)))
            }
        }
        return chunks
    }

    static func ingest(_ rows: [Row], into store: any Store) async throws {
        var batch = SampleBatch()
        var streams = StreamTable()
        for (i, row) in rows.enumerated() {
            guard case .success(let s) = streams.index(of: row.stream, into: &batch) else { return }
            batch.append(
                stream: s, collectedAt: row.collectedAt, measuredTime: row.measuredTime, row.values.0, row.values.1, row.values.2,
                row.values.3, line: i + 2)
        }
        _ = try await store.ingestAtomically([batch])
    }

    struct Verdict: Hashable, Sendable, CustomStringConvertible {
        var machine: String
        var channel: SignalChannel
        var recording: Int
        var index: Int
        var fault: FaultType
        var samples: Int

        var description: String { "\(machine)/\(channel.rawValue) r\(recording) w\(index): \(fault) (\(samples))" }
    }

    /// Runs the engine over every channel; the verdicts by recording ordinal, and each window's start.
    static func diagnose(_ store: any Store) async throws -> (verdicts: Set<Verdict>, starts: [String: Timestamp], results: [WindowResult]) {
        let classifier = FaultClassifier()
        var all: [WindowResult] = []
        var counts: [AnalysisWindow: Int] = [:]
        while true {
            let pending = try await store.scan(seconds: 1, limit: 500, channels: SignalChannel.allCases, machines: nil)
            let series = try await store.samples(of: pending.windows)
            var results: [WindowResult] = []
            var passedOver: [AnalysisWindow] = []
            for (window, (times, values)) in zip(pending.windows, series) {
                guard let waveform = Waveform(values: values, times: times) else {
                    passedOver.append(window)
                    continue
                }
                results.append(WindowResult(window: window, diagnosis: classifier.diagnose(waveform)))
                counts[window] = values.count
            }
            _ = try await store.record(results, passedOver: passedOver, tracker: MachineStateTracker(), holder: nil)
            all += results
            if pending.windows.isEmpty { break }
        }
        var recordings: [String: [Timestamp]] = [:]
        for result in all {
            recordings[result.window.machineName, default: []].append(result.window.recordingStart)
        }
        let ordinals = recordings.mapValues { Array(Set($0)).sorted() }
        var verdicts = Set<Verdict>()
        var starts: [String: Timestamp] = [:]
        for result in all {
            let w = result.window
            let ordinal = ordinals[w.machineName]!.firstIndex(of: w.recordingStart)!
            verdicts.insert(
                Verdict(
                    machine: w.machineName, channel: w.channel, recording: ordinal, index: w.index, fault: result.diagnosis.faultType,
                    samples: counts[w] ?? 0))
            starts["\(w.machineName)/\(w.channel.rawValue)/\(ordinal)/\(w.index)"] = w.start
        }
        return (verdicts, starts, all)
    }

    /// The exact-time reference, made once per backend.
    actor References {
        var made: [Backend: (verdicts: Set<Verdict>, starts: [String: Timestamp], count: Int)] = [:]

        func reference(_ backend: Backend) async throws -> (verdicts: Set<Verdict>, starts: [String: Timestamp], count: Int) {
            if let known = made[backend] { return known }
            let store = try await backend.makeStore()
            for batch in RecordingShapesTests.batches(.exact) { try await RecordingShapesTests.ingest(batch, into: store) }
            let exact = try await RecordingShapesTests.diagnose(store)
            let reference = (exact.verdicts, exact.starts, exact.results.count)
            made[backend] = reference
            return reference
        }
    }

    static let references = References()

    @Test(
        "every shape of collected_at gives the windows and verdicts of exact times",
        arguments: Backend.available, [Shape.start, .wholeSeconds, .wallClockPerRow, .wallClockPerBatch, .shuffledBatches, .shuffledWholeSeconds])
    func sameVerdicts(backend: Backend, shape: Shape) async throws {
        let exact = try await Self.references.reference(backend)
        // 2 machines x 4 channels x 2 recordings x 3 windows, each of a full second's samples (the last
        // one complete as its last sample is a step before its end).
        #expect(exact.verdicts.count == 48)
        #expect(exact.verdicts.allSatisfy { $0.samples == 1_000 })
        #expect(Set(exact.verdicts.map(\.fault)).count >= 3)

        let store = try await backend.makeStore()
        for batch in Self.batches(shape) { try await Self.ingest(batch, into: store) }
        let shaped = try await Self.diagnose(store)
        #expect(shaped.verdicts == exact.verdicts, "\(shaped.verdicts.symmetricDifference(exact.verdicts).sorted { $0.description < $1.description })")
        #expect(shaped.results.count == exact.count)
        if [.start, .wholeSeconds].contains(shape) {
            // The instants are the recording's start plus measured_time, to within the second the
            // sender rounded to.
            for (key, start) in exact.starts {
                let other = try #require(shaped.starts[key])
                #expect(abs(other.microseconds - start.microseconds) <= 1_000_000, "\(key)")
            }
        }
    }

    @Test("an import killed half way and run again diagnoses each window once", arguments: Backend.available)
    func killedAndRerun(backend: Backend) async throws {
        let exact = try await Self.references.reference(backend)
        let store = try await backend.makeStore()
        let batches = Self.batches(.wholeSeconds)
        for batch in batches.prefix(batches.count * 2 / 5) { try await Self.ingest(batch, into: store) }
        let first = try await Self.diagnose(store)
        for batch in batches { try await Self.ingest(batch, into: store) }
        let second = try await Self.diagnose(store)
        let windows = first.results.map(\.window) + second.results.map(\.window)
        #expect(Set(windows).count == windows.count)
        #expect(windows.count == exact.count)
    }

    @Test(
        "the waveform, the spectrum's series and the sensor's span place every shape's samples at their recording's start plus measured_time",
        arguments: Backend.available, Shape.allCases)
    func placedAtInstants(backend: Backend, shape: Shape) async throws {
        let store = try await backend.makeStore()
        for batch in Self.batches(shape) { try await Self.ingest(batch, into: store) }
        let shaped = try await Self.diagnose(store)
        for stream in Set(Self.plant.map(\.stream)) {
            // The stream's rows in file order, cut where measured_time falls back: its recordings.
            var recordings: [[Row]] = []
            for row in Self.plant where row.stream == stream {
                if let last = recordings.last?.last, row.measuredTime > last.measuredTime {
                    recordings[recordings.count - 1].append(row)
                } else {
                    recordings.append([row])
                }
            }
            #expect(recordings.count == 2)
            let starts = try recordings.indices.map { ordinal in
                try #require(shaped.starts["\(stream.machineName)/normal/\(ordinal)/0"]).microseconds
            }
            // Every sample at its recording's start plus its measured_time. (An uploader faster than
            // the recording makes the next recording's instants overlap this one's: they are there too.)
            let placed = zip(recordings, starts).flatMap { recording, start in
                recording.map { (time: start + Int64(($0.measuredTime * 1_000_000).rounded()), row: $0) }
            }.sorted { $0.time < $1.time }
            for (ordinal, start) in starts.enumerated() {
                let to = start + 3_000_000 - 1
                let expected = placed.filter { $0.time >= start && $0.time <= to }
                #expect(expected.count >= recordings[ordinal].count)
                let series = try #require(
                    try await store.series(
                        machineName: stream.machineName, sensorNo: stream.sensorNo, channel: .normal, from: Timestamp(microseconds: start),
                        to: Timestamp(microseconds: to), limit: 100_000))
                #expect(
                    series.values == expected.map(\.row.values.0) && series.times == expected.map(\.time),
                    "\(stream) recording \(ordinal): \(series.times.count) samples, first at \(series.times.first.map { $0 - start } ?? -1) µs")
                // From its middle on: the range cuts by instant.
                let middle = try #require(
                    try await store.series(
                        machineName: stream.machineName, sensorNo: stream.sensorNo, channel: .unbalance,
                        from: Timestamp(microseconds: start + 1_500_000), to: Timestamp(microseconds: to), limit: 100_000))
                #expect(
                    middle.values == expected.filter { $0.time >= start + 1_500_000 }.map(\.row.values.1),
                    "\(stream) recording \(ordinal): \(middle.values.count) samples from the middle")
                let waveform = try #require(
                    try await store.waveform(
                        machineName: stream.machineName, sensorNo: stream.sensorNo, channel: .normal, from: Timestamp(microseconds: start),
                        to: Timestamp(microseconds: to), buckets: 300))
                #expect(waveform.buckets.reduce(0) { $0 + $1.count } == expected.count, "\(stream) recording \(ordinal)")
                #expect(waveform.buckets.map(\.max).max() == expected.map(\.row.values.0).max())
            }
            let span = try #require(try await store.sensorSpan(machineName: stream.machineName, sensorNo: stream.sensorNo))
            #expect(span.lowerBound.microseconds == starts[0])
            #expect(span.upperBound.microseconds == starts[1] + 3_000_000)
        }
    }
}

