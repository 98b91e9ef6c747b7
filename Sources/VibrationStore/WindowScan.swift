import VibrationCore

extension PendingWindows {
    /// Sample rows a store scans for new windows per call at most, so that one call stays short
    /// however much was loaded.
    static let scanRows: Int64 = 2_000_000

    /// Incomplete windows kept between calls at most: one per sensor and channel streaming at once
    /// is normal, so this allows for ten thousand.
    static let maximumOpenWindows = 10_000

    /// The scan's windows for `machines` (nil: all), the oldest `limit` complete ones first, and
    /// what stays open: the incomplete windows and every complete one, until its verdict is recorded.
    /// Windows that never complete must not pile up, as every round looks at each open window
    /// again: beyond the cap the oldest incomplete ones are given up.
    static func split(
        ready: [AnalysisWindow], incomplete: [AnalysisWindow], limit: Int, scannedThrough: Int64,
        recordings: [Int64: [RecordingTracker.Recording]]?, machines: Set<String>?
    ) -> PendingWindows {
        let ready = ready.sorted { ($0.end, $0.machineName, $0.sensorNo) < ($1.end, $1.machineName, $1.sensorNo) }
        var open = incomplete
        var abandoned = 0
        if open.count > maximumOpenWindows {
            open.sort { $0.end > $1.end }
            abandoned = open.count - maximumOpenWindows
            open.removeLast(abandoned)
        }
        let mine = machines.map { held in ready.filter { held.contains($0.machineName) } } ?? ready
        return PendingWindows(
            windows: Array(mine.prefix(limit)), scannedThrough: scannedThrough, open: open + ready, abandoned: abandoned,
            recordings: recordings)
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
    /// What the scan saw of a window's rows: the range of their collected_at, and the largest
    /// distance between a row's collected_at and its instant (µs).
    struct Rows {
        var collected: ClosedRange<Int64>
        var clockOffset: Int64

        mutating func merge(_ other: Rows) {
            collected = min(collected.lowerBound, other.collected.lowerBound)...max(collected.upperBound, other.collected.upperBound)
            clockOffset = max(clockOffset, other.clockOffset)
        }
    }

    var tracker: RecordingTracker
    let seconds: Double
    private(set) var windowRows: [WindowKey: Rows] = [:]
    private var last: (key: WindowKey, rows: Rows)?

    init(tracker: RecordingTracker, seconds: Double) {
        self.tracker = tracker
        self.seconds = seconds
    }

    /// Files one row (measured_time >= 0) and returns its window.
    @discardableResult @inline(__always)
    mutating func add(sensor: Int64, collectedAt: Int64, measuredTime t: Double) -> WindowKey {
        let start = tracker.place(sensor: sensor, low: t, high: t, collectedAt: collectedAt)
        let key = WindowKey(sensor: sensor, recording: start, index: Int(t / seconds))
        let rows = Rows(collected: collectedAt...collectedAt, clockOffset: abs(RecordingTracker.impliedStart(collectedAt, t) &- start))
        if last?.key == key {
            last!.rows.merge(rows)
        } else {
            flush()
            last = (key, rows)
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
            abs(RecordingTracker.impliedStart(collectedLow, low) &- start), abs(RecordingTracker.impliedStart(collectedHigh, high) &- start))
        flush()
        last = (key, Rows(collected: collectedLow...collectedHigh, clockOffset: offset))
        return key
    }

    private mutating func flush() {
        guard let (key, rows) = last else { return }
        windowRows[key, default: rows].merge(rows)
        last = nil
    }

    /// Ends the scan: files the last window and returns each sensor's open recordings. The windows
    /// the rows fell in are `windowRows`' keys.
    mutating func finish() -> [Int64: [RecordingTracker.Recording]] {
        flush()
        tracker.settle()
        return tracker.sensors
    }

    /// What the scanned rows add to their recordings' extents (after `finish`).
    var extents: [RecordingExtent] {
        RecordingExtent.merged(
            windowRows.lazy.map { key, rows in
                RecordingExtent(
                    sensorID: key.sensor, start: key.recording, index: key.index, seconds: self.seconds, collected: rows.collected,
                    clockOffset: rows.clockOffset)
            })
    }

    /// The sensors the scanned rows belong to (after `finish`).
    var sensors: Set<Int64> { Set(windowRows.keys.map(\.sensor)) }

    /// The windows the scanned rows fell in (after `finish`) on the monitored sensors, on their
    /// monitored channel (or on `channels`), each with its rows' span, in key order.
    func windows(
        monitored: [Int64: (machine: String, sensorNo: String, channel: SignalChannel)], channels: [SignalChannel]?
    ) -> [AnalysisWindow] {
        var windows: [AnalysisWindow] = []
        for (key, rows) in windowRows.sorted(by: { $0.key < $1.key }) {
            guard let sensor = monitored[key.sensor] else { continue }
            for channel in channels ?? [sensor.channel] {
                windows.append(
                    AnalysisWindow(
                        machineName: sensor.machine, sensorNo: sensor.sensorNo, sensorID: key.sensor, channel: channel,
                        recordingStart: Timestamp(microseconds: key.recording), index: key.index, seconds: seconds,
                        collectedSpan: rows.collected))
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
