import Synchronization
import VibrationCore

/// The samples a SQLite store has just written, handed to the diagnosis engine in memory so that it
/// does not read back every sample it was given a moment ago (at high rates that read would be most
/// of the engine's work).
///
/// The writer publishes each commit's rows with their ids (a run of consecutive rowids). The engine
/// takes the runs of the id range it scans; every id of that range no run covers (rows another
/// process or connection wrote, rows committed before the engine started, runs dropped because
/// the buffer was full) is read from the database as before, and those rows make their sensor
/// "foreign" up to their collected_at. A window is served from memory only when its rows'
/// collected_at all lie above its sensor's highest foreign collected_at: then every row the database
/// holds for it came through here. Anything else is read from the database, so memory is a shortcut, never a source
/// of different answers.
final class FreshSamples: Sendable {
    /// The rows one commit stored from a batch: its rows from `start` on, minus those in `skipped`
    /// (duplicates), numbered `firstID`, `firstID + 1`, …
    struct Run: Sendable {
        var firstID: Int64
        var count: Int
        var batch: SampleBatch
        var sensorIDs: [Int64]
        var start = 0
        /// Batch indices not stored, ascending.
        var skipped: [Int32] = []

        var lastID: Int64 { firstID + Int64(count) - 1 }

        /// Calls `body(batchIndex, id)` for each stored row, in id order.
        func forEachRow(_ body: (Int, Int64) -> Void) {
            var id = firstID
            var next = skipped.startIndex
            for i in start..<batch.count {
                if next < skipped.endIndex, Int(skipped[next]) == i {
                    next += 1
                    continue
                }
                body(i, id)
                id += 1
                if id > lastID { return }
            }
        }

        /// The part with ids above `id`, nil when none.
        func dropping(through id: Int64) -> Run? {
            guard id < lastID else { return nil }
            guard id >= firstID else { return self }
            var rest = self
            forEachRow { index, rowID in
                if rowID == id + 1 {
                    rest.start = index
                }
            }
            rest.skipped = skipped.filter { Int($0) > rest.start }
            rest.count = Int(lastID - id)
            rest.firstID = id + 1
            return rest
        }

        /// The part with ids up to `id`.
        func keeping(through id: Int64) -> Run {
            var head = self
            head.count = Int(min(lastID, id) - firstID + 1)
            return head
        }
    }

    /// A window's rows on its sensor's monitored channel, in arrival order.
    struct WindowRows {
        var channel: SignalChannel
        var times: [Double] = []
        var values: [Double] = []
        /// The highest collected_at among them.
        var newest = Int64.min
    }

    /// Rows held for the engine at most; runs beyond are dropped (and read from the database).
    let capacity: Int

    private struct Published {
        var enabled = false
        var runs: [Run] = []
        var rows = 0
    }

    private struct Engine {
        var seconds = 0.0
        /// No scan yet (or the window length changed): the sensors' foreign marks must be read from
        /// the database before anything here is used.
        var needsFloor = true
        /// The last scan reached the newest row: a window it found complete has all its rows here
        /// (or its sensor is foreign). Behind, completeness may rest on rows not scanned yet.
        var caughtUp = false
        var windows: [WindowKey: WindowRows] = [:]
        /// Per sensor, the highest collected_at of a row that did not come through here.
        var foreign: [Int64: Int64] = [:]
        var servedFromMemory = 0
        var readFromDatabase = 0
    }

    private let published = Mutex(Published())
    private let engine = Mutex(Engine())

    init(capacity: Int = 2_000_000) {
        self.capacity = capacity
    }

    // MARK: Writer side

    /// Whether the writer should record what it stores.
    var enabled: Bool { published.withLock { $0.enabled } }

    func enable() { published.withLock { $0.enabled = true } }

    /// A commit's rows. A run reusing ids (rows with the highest ids were deleted and their ids
    /// given out again) replaces what was held for them: those rows are gone.
    func publish(_ run: Run) {
        guard run.count > 0 else { return }
        published.withLock { state in
            guard state.enabled else { return }
            while let last = state.runs.last, last.lastID >= run.firstID {
                state.rows -= last.count
                state.runs.removeLast()
            }
            guard state.rows + run.count <= capacity else { return }
            state.runs.append(run)
            state.rows += run.count
        }
    }

    /// The runs' rows with ids in (after, through], in id order; later rows stay.
    func take(after: Int64, through: Int64) -> [Run] {
        published.withLock { state in
            var taken: [Run] = []
            var kept: [Run] = []
            for run in state.runs {
                guard let current = run.dropping(through: after) else { continue }
                if current.firstID > through {
                    kept.append(current)
                } else {
                    taken.append(current.keeping(through: through))
                    if let rest = current.dropping(through: through) { kept.append(rest) }
                }
            }
            state.runs = kept
            state.rows = kept.reduce(0) { $0 + $1.count }
            return taken
        }
    }

    // MARK: Engine side

    /// Starts a scan with windows of `seconds`, `caughtUp` when it reaches the newest row: true when
    /// the sensors' foreign marks must be set from the database (the first scan, or after the window
    /// length changed).
    func beginScan(seconds: Double, caughtUp: Bool) -> Bool {
        engine.withLock { state in
            state.caughtUp = caughtUp
            if state.seconds != seconds {
                state.seconds = seconds
                state.windows = [:]
                state.needsFloor = true
            }
            return state.needsFloor
        }
    }

    /// Sets the foreign marks from the database's newest collected_at per sensor.
    func setFloor(_ newest: [Int64: Int64]) {
        engine.withLock { state in
            for (sensor, at) in newest { state.foreign[sensor] = max(state.foreign[sensor] ?? .min, at) }
            state.needsFloor = false
        }
    }

    /// Rows read from the database rather than handed over: their sensors are foreign up to them.
    func markForeign(_ newest: [Int64: Int64]) {
        engine.withLock { state in
            for (sensor, at) in newest { state.foreign[sensor] = max(state.foreign[sensor] ?? .min, at) }
        }
    }

    /// Files the runs' rows under their windows (placed by `scan`, which sees them in id order).
    /// Rows of sensors `channelOf` does not know are not kept: their sensors become foreign.
    func absorb(_ runs: [Run], scan: inout WindowScan, channelOf: (Int64) -> SignalChannel?) {
        engine.withLock { state in
            // Rows of one window mostly follow each other: they are gathered here and filed once per
            // stretch, not looked up one by one.
            var key: WindowKey?
            var channel: SignalChannel?
            var times: [Double] = []
            var values: [Double] = []
            var newest = Int64.min
            func file() {
                guard let key, !times.isEmpty else { return }
                let filed = channel.map { state.windows[key, default: WindowRows(channel: $0)].append(times, values, newest, on: $0) } ?? false
                if !filed {
                    // An unmonitored sensor, or rows of one window on two channels (the monitored one
                    // changed): the database decides.
                    state.foreign[key.sensor] = max(state.foreign[key.sensor] ?? .min, newest)
                }
                times.removeAll(keepingCapacity: true)
                values.removeAll(keepingCapacity: true)
                newest = .min
            }
            for run in runs {
                let batch = run.batch
                run.forEachRow { i, _ in
                    let t = batch.measuredTime[i]
                    guard t >= 0 else { return }
                    let sensor = run.sensorIDs[Int(batch.stream[i])]
                    let collected = batch.collectedAt[i]
                    let rowKey = scan.add(sensor: sensor, collectedAt: collected, measuredTime: t)
                    if rowKey != key {
                        file()
                        key = rowKey
                        channel = channelOf(sensor)
                    }
                    newest = max(newest, collected)
                    times.append(t)
                    switch channel {
                    case .normal?: values.append(batch.normal[i])
                    case .unbalance?: values.append(batch.unbalance[i])
                    case .looseness?: values.append(batch.looseness[i])
                    case .unbalanceLooseness?: values.append(batch.unbalanceLooseness[i])
                    case nil: values.append(0)
                    }
                }
            }
            file()
        }
    }

    /// Lets go of the rows of windows the engine no longer looks at (diagnosed, or given up on);
    /// their sensors become foreign up to them, should such a window come back.
    func keepOnly(_ windows: [AnalysisWindow]) {
        var wanted = Set<WindowKey>()
        for window in windows {
            for key in Self.neighbourhood(of: window) { wanted.insert(key) }
        }
        engine.withLock { state in
            for (key, rows) in state.windows where !wanted.contains(key) {
                state.foreign[key.sensor] = max(state.foreign[key.sensor] ?? .min, rows.newest)
                state.windows[key] = nil
            }
        }
    }

    /// The window's samples in measured_time order, or nil when memory cannot vouch for having all
    /// of them.
    func samples(of window: AnalysisWindow) -> (times: [Double], values: [Double])? {
        engine.withLock { state in
            guard state.caughtUp, state.seconds == window.seconds, (state.foreign[window.sensorID] ?? .min) < window.rowSpan.lowerBound else {
                state.readFromDatabase += 1
                return nil
            }
            var rows: [(t: Double, value: Double)] = []
            for key in Self.neighbourhood(of: window) {
                guard let held = state.windows[key] else { continue }
                guard held.channel == window.channel else {
                    state.readFromDatabase += 1
                    return nil
                }
                for (t, value) in zip(held.times, held.values) where window.holds(measuredTime: t) {
                    rows.append((t, value))
                }
            }
            guard !rows.isEmpty else {
                state.readFromDatabase += 1
                return nil
            }
            if !zip(rows, rows.dropFirst()).allSatisfy({ $0.t <= $1.t }) {
                rows.sort { $0.t < $1.t }
            }
            state.servedFromMemory += 1
            return (rows.map(\.t), rows.map(\.value))
        }
    }

    /// Windows served from memory and windows left to the database, so far.
    var counts: (memory: Int, database: Int) { engine.withLock { ($0.servedFromMemory, $0.readFromDatabase) } }

    /// The keys whose rows a window may hold: its own and the neighbouring indices (t / seconds and
    /// k · seconds can round apart at a boundary).
    static func neighbourhood(of window: AnalysisWindow) -> [WindowKey] {
        (window.index - 1...window.index + 1).map {
            WindowKey(sensor: window.sensorID, recording: window.recordingStart.microseconds, index: $0)
        }
    }
}

extension FreshSamples.WindowRows {
    mutating func append(_ t: [Double], _ v: [Double], _ newest: Int64, on channel: SignalChannel) -> Bool {
        guard channel == self.channel else { return false }
        times += t
        values += v
        self.newest = max(self.newest, newest)
        return true
    }
}
