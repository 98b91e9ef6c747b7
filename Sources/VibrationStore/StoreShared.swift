import Crypto
import Foundation
import VibrationCore

/// Builds timeline bands from each machine's diagnoses in time order: the range is cut into equal
/// slots, each slot shows its most severe verdict, and neighbouring slots with the same verdict make
/// one band. Both stores feed it rows as they read them.
struct DiagnosisRunBuilder {
    private let from: Int64
    private let span: Int64
    private let slots: Int64
    private(set) var runs: [DiagnosisRun] = []
    private var slot: (index: Int64, run: DiagnosisRun)?

    init(from: Timestamp, to: Timestamp, slots: Int) {
        self.from = from.microseconds
        self.span = max(1, to.microseconds - from.microseconds + 1)
        self.slots = Int64(max(1, slots))
    }

    /// The next diagnosis of the current machine, in time order.
    mutating func add(machine: String, at: Int64, faultType type: FaultType, id: Int64) {
        let index = slot(of: at)
        if var current = slot, current.index == index, current.run.machineName == machine {
            // The slot shows its most severe verdict (the latest of them explains it).
            if type.rawValue >= current.run.faultType.rawValue {
                current.run.faultType = type
                current.run.lastID = id
            }
            current.run.last = Timestamp(microseconds: at)
            current.run.count += 1
            slot = current
        } else {
            finishSlot()
            let t = Timestamp(microseconds: at)
            slot = (index, DiagnosisRun(machineName: machine, faultType: type, first: t, last: t, count: 1, lastID: id))
        }
    }

    /// Closes the open slot; call at the end of each machine and before reading `runs`.
    mutating func finishSlot() {
        guard let finished = slot?.run else { return }
        slot = nil
        append(slot: finished)
    }

    /// A whole slot, summed up elsewhere (by the database), after the slots before it.
    mutating func append(slot finished: DiagnosisRun) {
        if runs.last?.continues(into: finished) == true {
            runs[runs.count - 1].extend(with: finished)
        } else {
            runs.append(finished)
        }
    }

    /// The slot of a time in the range. The product of offset and slot count is taken at double
    /// width: a range of a few centuries times a few thousand slots is more than an Int64 holds.
    func slot(of at: Int64) -> Int64 {
        let product = (at - from).multipliedFullWidth(by: slots)
        return span.dividingFullWidth(product).quotient
    }
}

/// One sensor's figures for a machine summary.
struct SensorFigures {
    var machineName: String
    var sensorNo: String
    var count: Int64
    var first: Timestamp?
    var last: Timestamp?
}

extension MachineSummary {
    /// Machine summaries from their sensors' figures and the latest diagnoses, ordered by name.
    static func assemble(sensors: [SensorFigures], latest: [StoredDiagnosis]) -> [MachineSummary] {
        var byName: [String: MachineSummary] = [:]
        func entry(_ name: String) -> MachineSummary {
            byName[name]
                ?? MachineSummary(
                    machineName: name, sensors: [], sampleCount: 0, firstCollectedAt: nil, lastCollectedAt: nil,
                    latestDiagnosis: nil)
        }
        for sensor in sensors {
            var summary = entry(sensor.machineName)
            summary.sensors.append(sensor.sensorNo)
            summary.sampleCount += sensor.count
            if let first = sensor.first { summary.firstCollectedAt = min(summary.firstCollectedAt ?? first, first) }
            if let last = sensor.last { summary.lastCollectedAt = max(summary.lastCollectedAt ?? last, last) }
            byName[sensor.machineName] = summary
        }
        for diagnosis in latest {
            var summary = entry(diagnosis.diagnosis.machineName)
            summary.latestDiagnosis = diagnosis
            byName[diagnosis.diagnosis.machineName] = summary
        }
        return byName.values.sorted { $0.machineName < $1.machineName }
    }
}

extension PendingWindows {
    /// Sample rows a store scans for new windows per call at most, so that one call stays short
    /// however much was loaded.
    static let scanRows: Int64 = 2_000_000

    /// Incomplete windows kept between calls at most: one per sensor and channel streaming at once
    /// is normal, so this allows for ten thousand.
    static let maximumOpenWindows = 10_000

    /// The complete windows up to `limit`, oldest first; the rest and the incomplete ones stay open.
    /// Windows that never complete must not pile up, as every round looks at each open window
    /// again: beyond the cap the oldest are given up.
    static func split(
        ready: [AnalysisWindow], incomplete: [AnalysisWindow], limit: Int, scannedThrough: Int64,
        recordings: [Int64: [RecordingTracker.Recording]]?
    ) -> PendingWindows {
        let ready = ready.sorted { ($0.end, $0.machineName, $0.sensorNo) < ($1.end, $1.machineName, $1.sensorNo) }
        var open = incomplete
        var abandoned = 0
        if open.count > maximumOpenWindows {
            open.sort { $0.end > $1.end }
            abandoned = open.count - maximumOpenWindows
            open.removeLast(abandoned)
        }
        return PendingWindows(
            windows: Array(ready.prefix(limit)), scannedThrough: scannedThrough, open: open + ready.dropFirst(limit),
            abandoned: abandoned, recordings: recordings)
    }
}

/// A window of one sensor's recording, as the engine's scan files rows under it.
struct WindowKey: Hashable, Comparable {
    var sensor: Int64
    var recording: Int64
    var index: Int

    static func < (a: WindowKey, b: WindowKey) -> Bool { (a.sensor, a.recording, a.index) < (b.sensor, b.recording, b.index) }
}

/// The engine's scan of new rows, in id (arrival) order: each row is placed in its sensor's
/// recording (`RecordingTracker`) and filed under its window, whose rows' collected_at span grows.
struct WindowScan {
    var tracker: RecordingTracker
    let seconds: Double
    private(set) var spans: [WindowKey: ClosedRange<Int64>] = [:]
    /// Per window, the largest distance between a row's collected_at and its instant (µs).
    private(set) var offsets: [WindowKey: Int64] = [:]
    private var last: (key: WindowKey, low: Int64, high: Int64, offset: Int64)?

    init(tracker: RecordingTracker, seconds: Double) {
        self.tracker = tracker
        self.seconds = seconds
    }

    /// Files one row (measured_time >= 0) and returns its window.
    @discardableResult @inline(__always)
    mutating func add(sensor: Int64, collectedAt: Int64, measuredTime t: Double) -> WindowKey {
        let start = tracker.place(sensor: sensor, low: t, high: t, collectedAt: collectedAt)
        let key = WindowKey(sensor: sensor, recording: start, index: Int(t / seconds))
        let offset = abs(collectedAt &- (start &+ Int64((t * 1_000_000).rounded())))
        if let current = last, current.key == key {
            last = (key, min(current.low, collectedAt), max(current.high, collectedAt), max(current.offset, offset))
        } else {
            flush()
            last = (key, collectedAt, collectedAt, offset)
        }
        return key
    }

    /// Files a piece of `count` rows of one sensor and one window, whose measured_time rises from
    /// `low` to `high` without repeating, collected from `collectedLow` to `collectedHigh`
    /// (`collectedFirst` at `low`). Its rows' distance from their instants is taken at its ends.
    @discardableResult
    mutating func add(
        sensor: Int64, low: Double, high: Double, count: Int, collectedFirst: Int64, collectedLow: Int64, collectedHigh: Int64
    ) -> WindowKey {
        let start = tracker.place(sensor: sensor, low: low, high: high, count: count, collectedAt: collectedFirst)
        let key = WindowKey(sensor: sensor, recording: start, index: Int(low / seconds))
        let offset = max(
            abs(collectedLow &- (start &+ Int64((low * 1_000_000).rounded()))),
            abs(collectedHigh &- (start &+ Int64((high * 1_000_000).rounded()))))
        flush()
        last = (key, collectedLow, collectedHigh, offset)
        return key
    }

    private mutating func flush() {
        guard let (key, low, high, offset) = last else { return }
        if let span = spans[key] {
            spans[key] = min(span.lowerBound, low)...max(span.upperBound, high)
            offsets[key] = max(offsets[key] ?? 0, offset)
        } else {
            spans[key] = low...high
            offsets[key] = offset
        }
        last = nil
    }

    /// Ends the scan: files the last window and returns each sensor's open recordings. The windows
    /// the rows fell in are `spans`' keys.
    mutating func finish() -> [Int64: [RecordingTracker.Recording]] {
        flush()
        tracker.settle()
        return tracker.sensors
    }

    /// What the scanned rows add to their recordings' extents (after `finish`).
    var extents: [RecordingExtent] {
        RecordingExtent.merged(
            spans.lazy.map { key, span in
                RecordingExtent(
                    sensorID: key.sensor, start: key.recording, index: key.index, seconds: self.seconds, collected: span,
                    clockOffset: self.offsets[key] ?? 0)
            })
    }

    /// The sensors the scanned rows belong to (after `finish`).
    var sensors: Set<Int64> { Set(spans.keys.map(\.sensor)) }

    /// The windows the scanned rows fell in (after `finish`) on the monitored sensors, on their
    /// monitored channel (or on `channels`), each with its rows' span, in key order.
    func windows(
        monitored: [Int64: (machine: String, sensorNo: String, channel: SignalChannel)], channels: [SignalChannel]?
    ) -> [AnalysisWindow] {
        var windows: [AnalysisWindow] = []
        for (key, span) in spans.sorted(by: { $0.key < $1.key }) {
            guard let sensor = monitored[key.sensor] else { continue }
            for channel in channels ?? [sensor.channel] {
                windows.append(
                    AnalysisWindow(
                        machineName: sensor.machine, sensorNo: sensor.sensorNo, sensorID: key.sensor, channel: channel,
                        recordingStart: Timestamp(microseconds: key.recording), index: key.index, seconds: seconds,
                        collectedSpan: span))
            }
        }
        return windows
    }
}

extension PendingWindows {
    /// Sorts candidate windows (from the open list and the scan, the same window possibly in both
    /// with its rows' spans merged) into ready and open ones by the recordings' state, leaving out
    /// those `recorded` says were diagnosed.
    static func sort(
        _ candidates: [AnalysisWindow], tracker: RecordingTracker, recorded: (AnalysisWindow) throws -> Bool
    ) rethrows -> (ready: [AnalysisWindow], open: [AnalysisWindow]) {
        var merged: [AnalysisWindow: Int] = [:]
        var unique: [AnalysisWindow] = []
        for window in candidates {
            if let i = merged[window] {
                unique[i] = unique[i].widened(by: window.collectedSpan)
            } else {
                merged[window] = unique.count
                unique.append(window)
            }
        }
        var ready: [AnalysisWindow] = []
        var open: [AnalysisWindow] = []
        for window in unique where try !recorded(window) {
            if tracker.isComplete(sensor: window.sensorID, start: window.recordingStart.microseconds, index: window.index, seconds: window.seconds) {
                ready.append(window)
            } else {
                open.append(window)
            }
        }
        return (ready, open)
    }
}

extension Store {
    /// A waveform drawn from the summary level whose buckets are no wider than a drawing bucket,
    /// read by `summary(level, firstBucket)` (nil when the sensor is unknown), or, for ranges finer
    /// than the finest level, from the samples themselves when the range holds at most
    /// `WaveformSummary.rawSampleBudget` of them (counted from the 100 ms level), and from the finest
    /// level otherwise: then a bucket of 10 ms may span a few drawing buckets, and a narrower range
    /// brings the samples back. The work of a request so stays bounded whatever the sensor's rate.
    func drawWaveform(
        machineName: String, sensorNo: String, channel: SignalChannel, from: Timestamp, to: Timestamp, buckets: Int,
        summary: (_ level: Int, _ firstBucket: Int64) async throws -> [Downsampling.Bucket]?
    ) async throws -> Downsampling.Reduced? {
        let end = to.microseconds + 1
        let perBucket = (end - from.microseconds) / Int64(max(buckets, 1))
        func drawn(level: Int) async throws -> Downsampling.Reduced? {
            let width = WaveformSummary.levels[level]
            guard let rows = try await summary(level, WaveformSummary.bucket(from.microseconds, width)) else { return nil }
            return Downsampling.Reduced(
                buckets: Downsampling.merge(rows, from: from.microseconds, to: end, buckets: buckets),
                samples: rows.reduce(0) { $0 + $1.count }, truncated: false, summaryMicroseconds: width)
        }
        if let level = WaveformSummary.levels.lastIndex(where: { $0 <= perBucket }) {
            return try await drawn(level: level)
        }
        let counted = 1
        guard let around = try await summary(counted, WaveformSummary.bucket(from.microseconds, WaveformSummary.levels[counted]))
        else { return nil }
        // The 100 ms buckets the range touches: at most 0.2 s more than the range holds.
        if around.reduce(0, { $0 + $1.count }) > WaveformSummary.rawSampleBudget {
            return try await drawn(level: 0)
        }
        let limit = WaveformSummary.sampleLimit
        guard
            let series = try await series(
                machineName: machineName, sensorNo: sensorNo, channel: channel, from: from, to: to, limit: limit)
        else { return nil }
        return Downsampling.Reduced(
            buckets: Downsampling.minMax(times: series.times, values: series.values, from: from.microseconds, to: end, buckets: buckets),
            samples: series.times.count, truncated: series.times.count == limit, summaryMicroseconds: nil)
    }
}

/// API key secrets: made here, stored as their SHA-256 only.
enum KeySecret {
    /// A new secret: "hm_" and 32 random bytes in hex.
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return "hm_" + (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    static func digest(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// The engine's evidence, as both stores keep it: JSON text.
enum EvidenceText {
    static func encode(_ results: [WindowResult]) throws -> [String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try results.map { String(decoding: try encoder.encode($0.diagnosis.evidence), as: UTF8.self) }
    }

    /// Each window's evidence (the first result of a window, when one comes twice).
    static func byWindow(_ results: [WindowResult]) throws -> [AnalysisWindow: String] {
        var texts: [AnalysisWindow: String] = [:]
        for (result, text) in zip(results, try encode(results)) where texts[result.window] == nil {
            texts[result.window] = text
        }
        return texts
    }

    static func decode(_ text: String) -> [Evidence] {
        (try? JSONDecoder().decode([Evidence].self, from: Data(text.utf8))) ?? []
    }
}

/// A recording's covered spans as SQLite keeps them: the numbers as text, separated by spaces
/// (each written so that it reads back as the same Double).
enum RecordingText {
    static func encode(_ numbers: [Double]) -> String {
        numbers.map { "\($0)" }.joined(separator: " ")
    }

    static func decode(_ text: String) -> [Double] {
        text.split(separator: " ").compactMap { Double($0) }
    }
}

/// SQL both databases take as it is.
enum StoreSQL {
    /// The distinct machine names of the diagnoses, as `machine(name)`, walked through the
    /// (machine_name, detected_at) index: one probe per machine however many diagnoses there are.
    /// (The last row has a NULL name.)
    static let diagnosedMachines = """
        WITH RECURSIVE machine(name) AS (
            SELECT min(machine_name) FROM vibration_diagnosis
            UNION ALL
            SELECT (SELECT min(machine_name) FROM vibration_diagnosis WHERE machine_name > machine.name)
            FROM machine WHERE machine.name IS NOT NULL
        )
        """
}
