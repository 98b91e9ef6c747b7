/// Finds each sensor's recordings from the samples themselves, whatever their `collected_at` holds.
///
/// `measured_time` is the clock inside a recording; `collected_at` is whatever the sender had: the
/// sample's instant (collected_at - measured_time is the recording's start), the recording's start
/// (the same for every sample), whole seconds of either, or the upload's wall clock. Within one
/// recording a `measured_time` never repeats. Samples are taken in arrival order; each joins an open
/// recording of its sensor that does not hold its `measured_time` yet and that it fits:
///
/// 1. by continuing its last sample: its measured_time follows within 1.5 sample steps, and
///    collected_at - measured_time moved by at most a second (an upload's wall clock, in order,
///    drifts against measured_time but does not jump);
/// 2. else by clock: its collected_at - measured_time lies within a second of the recording's start
///    (exact and whole-second stamps, in any order), or the recording's samples all carry one
///    collected_at and so does it (the recording's start on every row).
///
/// Among several fitting by clock, the nearest wins. When none fits (the clock fell back, or a new
/// recording began), a new recording starts. So rows arriving out of order, in batches of any size,
/// or split over several uploads land in their recording, and a recording sent again under a new
/// `collected_at` is a recording of its own. What this cannot separate: two recordings of one sensor
/// stamped with the upload's wall clock and arriving interleaved.
///
/// A recording's start is collected_at - measured_time of its first sample to arrive, fixed from
/// then on: a sample's instant is start + measured_time, and a window's identity (its start) never
/// moves. Each sensor keeps its `maximumOpen` newest recordings open; an older one is closed.
public struct RecordingTracker: Sendable {
    /// A stretch of `measured_time` a recording holds samples at.
    public struct Span: Sendable, Equatable {
        public var low: Double
        public var high: Double

        public init(low: Double, high: Double) {
            self.low = low
            self.high = high
        }
    }

    public struct Recording: Sendable, Equatable {
        /// collected_at - measured_time of the first sample to arrive, in microseconds.
        public var start: Int64
        /// The smallest step between neighbouring samples seen (infinity until two are seen).
        public var spacing: Double
        /// Covered stretches, ascending and apart by more than 1.5 spacings.
        public var covered: [Span]
        /// Creation order among the sensor's recordings.
        public var sequence: Int64
        /// collected_at of the first sample to arrive, and of the last (µs).
        public var firstCollected: Int64
        public var lastCollected: Int64
        /// measured_time of the last sample to arrive.
        public var lastTime: Double

        public init(
            start: Int64, spacing: Double, covered: [Span], sequence: Int64, firstCollected: Int64, lastCollected: Int64,
            lastTime: Double
        ) {
            self.start = start
            self.spacing = spacing
            self.covered = covered
            self.sequence = sequence
            self.firstCollected = firstCollected
            self.lastCollected = lastCollected
            self.lastTime = lastTime
        }

        /// How far the sample's stamps lie from the recording's clock, in µs: by its start (instants,
        /// whole seconds), or 0 when the recording is stamped with one collected_at (its start) and
        /// the sample carries the same.
        func clockDistance(collectedAt: Int64, low: Double) -> Int64 {
            if collectedAt == firstCollected, lastCollected == firstCollected { return 0 }
            return abs(RecordingTracker.impliedStart(collectedAt, low) &- start)
        }

        /// Whether the sample continues the recording's last one in arrival order: its measured_time
        /// follows within 1.5 steps, and collected_at - measured_time moved by at most a second (an
        /// upload's wall clock drifts against measured_time, but not in jumps).
        func continues(low: Double, collectedAt: Int64) -> Bool {
            guard low > lastTime, low - lastTime <= 1.5 * spacing, lastTime >= highest || !covers(low, low) else { return false }
            let drift = RecordingTracker.impliedStart(collectedAt, low) &- RecordingTracker.impliedStart(lastCollected, lastTime)
            return abs(drift) <= RecordingTracker.clockTolerance
        }

        public var highest: Double { covered.last?.high ?? -.infinity }

        /// Whether the recording holds a sample with a measured_time in [low, high].
        func covers(_ low: Double, _ high: Double) -> Bool {
            let i = lastIndex(atOrBelow: high)
            return i >= 0 && covered[i].high >= low
        }

        /// The last span whose low is <= t, or -1.
        func lastIndex(atOrBelow t: Double) -> Int {
            if let last = covered.last, last.low <= t { return covered.count - 1 }
            var lo = 0
            var hi = covered.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if covered[mid].low <= t { lo = mid + 1 } else { hi = mid }
            }
            return lo - 1
        }

        /// Adds [low, high] (not covered), `step` the piece's own spacing when it holds several samples.
        mutating func add(_ low: Double, _ high: Double, step: Double?) {
            if let step, step > 0 { spacing = min(spacing, step) }
            let i = lastIndex(atOrBelow: low)
            let joinsBelow = i >= 0 && joins(covered[i].high, low)
            let joinsAbove = i + 1 < covered.count && joins(high, covered[i + 1].low)
            switch (joinsBelow, joinsAbove) {
            case (true, true):
                covered[i].high = covered[i + 1].high
                covered.remove(at: i + 1)
            case (true, false):
                covered[i].high = high
            case (false, true):
                covered[i + 1].low = low
            case (false, false):
                covered.insert(Span(low: low, high: high), at: i + 1)
            }
        }

        /// Whether samples at a and b (a < b) are neighbours: the first gap seen sets the spacing.
        private mutating func joins(_ a: Double, _ b: Double) -> Bool {
            let gap = b - a
            if spacing == .infinity {
                spacing = gap
                return true
            }
            if gap < spacing, gap > 0 { spacing = gap }
            return gap <= 1.5 * spacing
        }
    }

    /// Open recordings kept per sensor.
    public static let maximumOpen = 4

    /// Each sensor's open recordings, oldest (lowest sequence) first.
    public private(set) var sensors: [Int64: [Recording]]

    public init(sensors: [Int64: [Recording]] = [:]) {
        self.sensors = sensors
    }

    // The sensor being fed and its recordings, kept out of the dictionary while its rows follow
    // each other (most do): one dictionary write per change of sensor, not per row.
    private var activeSensor: Int64?
    private var active: [Recording] = []
    private var current = 0

    /// Places a run of `count` samples of one sensor whose measured_time rises from `low` to `high`
    /// (one sample: low == high), the first collected at `collectedAt` (µs); returns the start of
    /// the recording they belong to.
    public mutating func place(sensor: Int64, low: Double, high: Double, count: Int = 1, collectedAt: Int64) -> Int64 {
        if activeSensor != sensor { activate(sensor) }
        let step = count > 1 ? (high - low) / Double(count - 1) : nil
        // The usual case: the current recording's last sample is continued.
        if current >= 0, current < active.count, active[current].continues(low: low, collectedAt: collectedAt) {
            return extend(current, low, high, step: step, collectedAt: collectedAt)
        }
        var best: Int?
        var bestDistance = Int64.max
        for (i, recording) in active.enumerated() where !recording.covers(low, high) {
            let d = recording.clockDistance(collectedAt: collectedAt, low: low)
            if d <= Self.clockTolerance, d < bestDistance || (d == bestDistance && i == current) {
                best = i
                bestDistance = d
            }
        }
        if let best {
            current = best
            return extend(best, low, high, step: step, collectedAt: collectedAt)
        }
        let sequence = (active.last?.sequence ?? -1) + 1
        let start = Self.impliedStart(collectedAt, low)
        active.append(
            Recording(
                start: start, spacing: step ?? .infinity, covered: [Span(low: low, high: high)], sequence: sequence,
                firstCollected: collectedAt, lastCollected: collectedAt, lastTime: high))
        if active.count > Self.maximumOpen { active.removeFirst(active.count - Self.maximumOpen) }
        current = active.count - 1
        return start
    }

    /// How far a sample's stamps may lie from a recording's clock and still be its (µs): whole-second
    /// stamps are off by up to a second.
    static let clockTolerance: Int64 = 1_000_000

    /// collected_at - measured_time, in µs: the recording's start, if collected_at is the instant.
    public static func impliedStart(_ collectedAt: Int64, _ measuredTime: Double) -> Int64 {
        collectedAt &- Int64((measuredTime * 1_000_000).rounded())
    }

    private mutating func extend(_ i: Int, _ low: Double, _ high: Double, step: Double?, collectedAt: Int64) -> Int64 {
        active[i].add(low, high, step: step)
        active[i].lastTime = high
        active[i].lastCollected = collectedAt
        return active[i].start
    }

    /// Whether a sample at `low` collected at `collectedAt` continues the last sample of the
    /// sensor's current recording (see the rule above).
    public mutating func continues(sensor: Int64, low: Double, collectedAt: Int64) -> Bool {
        if activeSensor != sensor { activate(sensor) }
        return current >= 0 && current < active.count && active[current].continues(low: low, collectedAt: collectedAt)
    }

    /// Whether a sample at `low` would start a new recording: every open recording of the sensor
    /// holds its measured_time already (the clock fell back).
    public mutating func startsNew(sensor: Int64, low: Double) -> Bool {
        if activeSensor != sensor { activate(sensor) }
        return !active.isEmpty && active.allSatisfy { $0.covers(low, low) }
    }

    /// The smallest sample step seen on the sensor's open recordings (nil when none is known).
    public mutating func spacing(sensor: Int64) -> Double? {
        if activeSensor != sensor { activate(sensor) }
        return active.map(\.spacing).filter(\.isFinite).min()
    }

    private mutating func activate(_ sensor: Int64) {
        if let previous = activeSensor { sensors[previous] = active }
        activeSensor = sensor
        active = sensors[sensor] ?? []
        current = active.count - 1
    }

    /// Writes the active sensor back; call before reading `sensors`.
    public mutating func settle() {
        if let previous = activeSensor { sensors[previous] = active }
        activeSensor = nil
        active = []
    }

    /// Whether window `index` (of `seconds`) of the recording starting at `start` is complete: its
    /// recording holds samples at or past the window's end, or a newer recording of the sensor began,
    /// or the recording is no longer open.
    public func isComplete(sensor: Int64, start: Int64, index: Int, seconds: Double) -> Bool {
        let open = activeSensor == sensor ? active : (sensors[sensor] ?? [])
        guard let i = open.firstIndex(where: { $0.start == start }) else { return true }
        if i != open.count - 1 { return true }
        // Its last sample is within a step of the end, or a later one is there.
        let step = open[i].spacing.isFinite ? 1.5 * open[i].spacing : 0
        return open[i].highest + step >= Double(index + 1) * seconds
    }
}

extension RecordingTracker.Recording {
    /// The covered spans as a flat list (low, high, low, high, …), as stores keep them.
    public var flatCovered: [Double] { covered.flatMap { [$0.low, $0.high] } }

    public init(
        start: Int64, spacing: Double, flatCovered: [Double], sequence: Int64, firstCollected: Int64, lastCollected: Int64,
        lastTime: Double
    ) {
        var spans: [RecordingTracker.Span] = []
        var i = 0
        while i + 1 < flatCovered.count {
            spans.append(RecordingTracker.Span(low: flatCovered[i], high: flatCovered[i + 1]))
            i += 2
        }
        self.init(
            start: start, spacing: spacing, covered: spans, sequence: sequence, firstCollected: firstCollected,
            lastCollected: lastCollected, lastTime: lastTime)
    }
}

/// What the engine learned of one recording: the stretch of `measured_time` its samples cover, the
/// range of `collected_at` they carry, and how far that lies from their instants. With it the rows
/// of an instant range can be read back, whatever the sender put in `collected_at`.
public struct RecordingExtent: Sendable, Equatable {
    public var sensorID: Int64
    /// The recording's start (µs): the instant of measured_time 0.
    public var start: Int64
    /// The measured_time its samples lie in (seconds; whole windows, so a little wider than the samples).
    public var timeLow: Double
    public var timeHigh: Double
    /// The smallest and largest collected_at of its samples (µs).
    public var collectedLow: Int64
    public var collectedHigh: Int64
    /// The largest distance between a sample's collected_at and its instant (µs): about 0 for exact
    /// instants, up to a second for whole seconds, the recording's length or more for its start on
    /// every row or an upload's wall clock.
    public var clockOffset: Int64

    /// The largest offset at which collected_at is the instant (exact instants, written to the µs).
    public static let exactTolerance: Int64 = 10

    public init(
        sensorID: Int64, start: Int64, timeLow: Double, timeHigh: Double, collectedLow: Int64, collectedHigh: Int64,
        clockOffset: Int64
    ) {
        self.sensorID = sensorID
        self.start = start
        self.timeLow = timeLow
        self.timeHigh = timeHigh
        self.collectedLow = collectedLow
        self.collectedHigh = collectedHigh
        self.clockOffset = clockOffset
    }

    /// The extent of one window's rows: window `index` of `seconds` of the recording starting at
    /// `start`, its rows collected within `collected`, at most `clockOffset` from their instants.
    public init(sensorID: Int64, start: Int64, index: Int, seconds: Double, collected: ClosedRange<Int64>, clockOffset: Int64) {
        self.init(
            sensorID: sensorID, start: start, timeLow: Double(index) * seconds, timeHigh: Double(index + 1) * seconds,
            collectedLow: collected.lowerBound, collectedHigh: collected.upperBound, clockOffset: clockOffset)
    }

    /// Whether collected_at is its samples' instant, so that collected_at places them as stored.
    public var stampedAtInstants: Bool { clockOffset <= Self.exactTolerance }

    /// The instants its samples lie in (µs).
    public var instants: ClosedRange<Int64> { (start &+ Self.microseconds(timeLow))...(start &+ Self.microseconds(timeHigh)) }

    /// The sample's instant (µs).
    @inline(__always)
    public func instant(measuredTime: Double) -> Int64 { start &+ Self.microseconds(measuredTime) }

    /// Whether a row collected at `collectedAt` with `measuredTime` can be this recording's: within
    /// its collected_at range and, for a recording stamped within a second of its instants, that
    /// close to its instant (a neighbouring recording's rows share the second at their border).
    @inline(__always)
    public func holds(collectedAt: Int64, measuredTime: Double) -> Bool {
        guard collectedAt >= collectedLow, collectedAt <= collectedHigh else { return false }
        return clockOffset > RecordingTracker.clockTolerance
            || abs(collectedAt &- instant(measuredTime: measuredTime)) <= RecordingTracker.clockTolerance
    }

    /// The instant of a row collected at `collectedAt` with `measuredTime` when the recording holds
    /// it and the instant lies in `instants`; nil otherwise.
    @inline(__always)
    public func instant(ofRowCollectedAt collectedAt: Int64, measuredTime: Double, within instants: ClosedRange<Int64>) -> Int64? {
        guard holds(collectedAt: collectedAt, measuredTime: measuredTime) else { return nil }
        let t = instant(measuredTime: measuredTime)
        return instants.contains(t) ? t : nil
    }

    /// Whether its instants meet the range `from...to` (µs).
    public func meets(from: Int64, to: Int64) -> Bool {
        instants.upperBound >= from && instants.lowerBound <= to
    }

    /// Both extents' rows (same sensor and start).
    public mutating func merge(_ other: RecordingExtent) {
        timeLow = min(timeLow, other.timeLow)
        timeHigh = max(timeHigh, other.timeHigh)
        collectedLow = min(collectedLow, other.collectedLow)
        collectedHigh = max(collectedHigh, other.collectedHigh)
        clockOffset = max(clockOffset, other.clockOffset)
    }

    /// Per-window extents merged into one per recording, ordered by sensor and start.
    public static func merged(_ pieces: some Sequence<RecordingExtent>) -> [RecordingExtent] {
        var byRecording: [Int64: [Int64: RecordingExtent]] = [:]
        for piece in pieces {
            if var known = byRecording[piece.sensorID]?[piece.start] {
                known.merge(piece)
                byRecording[piece.sensorID]![piece.start] = known
            } else {
                byRecording[piece.sensorID, default: [:]][piece.start] = piece
            }
        }
        return byRecording.keys.sorted().flatMap { sensor in byRecording[sensor]!.keys.sorted().map { byRecording[sensor]![$0]! } }
    }

    static func microseconds(_ seconds: Double) -> Int64 { Int64((seconds * 1_000_000).rounded()) }
}

/// A sensor's rows read back by recording and placed at their instants: the samples of an instant
/// range, whatever the rows' collected_at holds.
public enum InstantSeries {
    /// Whether the rows of `extents` must be read by recording: some are not stamped at their
    /// instants, so that collected_at does not place them.
    public static func needed(_ extents: [RecordingExtent]) -> Bool {
        extents.contains { !$0.stampedAtInstants }
    }

    /// The measured_time range of `extent` that falls in the instants `from...to` (µs), or nil.
    public static func times(of extent: RecordingExtent, from: Int64, to: Int64) -> ClosedRange<Double>? {
        let low = max(extent.timeLow, Double(from &- extent.start) / 1e6)
        let high = min(extent.timeHigh, Double(to &- extent.start) / 1e6)
        return low <= high ? low...high : nil
    }

    /// Several recordings' samples (each in measured_time order) as one series in instant order, the
    /// first `limit`.
    public static func merge(_ parts: [(times: [Int64], values: [Double])], limit: Int) -> (times: [Int64], values: [Double]) {
        let nonEmpty = parts.filter { !$0.times.isEmpty }
        if nonEmpty.count <= 1 {
            let only = nonEmpty.first ?? ([], [])
            return (Array(only.times.prefix(limit)), Array(only.values.prefix(limit)))
        }
        var order: [(time: Int64, part: Int, index: Int)] = []
        order.reserveCapacity(nonEmpty.reduce(0) { $0 + $1.times.count })
        for (p, part) in nonEmpty.enumerated() {
            for (i, t) in part.times.enumerated() { order.append((t, p, i)) }
        }
        order.sort { ($0.time, $0.part, $0.index) < ($1.time, $1.part, $1.index) }
        var times: [Int64] = []
        var values: [Double] = []
        times.reserveCapacity(min(limit, order.count))
        values.reserveCapacity(min(limit, order.count))
        for entry in order {
            if times.count == limit { break }
            times.append(entry.time)
            values.append(nonEmpty[entry.part].values[entry.index])
        }
        return (times, values)
    }
}

extension InstantSeries {
    /// One recording's rows of an instant range, as they are read: each kept when the recording
    /// holds it and its instant lies in the range.
    public struct Part: Sendable {
        public let extent: RecordingExtent
        public let from: Int64
        public let to: Int64
        public private(set) var times: [Int64] = []
        public private(set) var values: [Double] = []

        public init(extent: RecordingExtent, from: Int64, to: Int64) {
            self.extent = extent
            self.from = from
            self.to = to
        }

        @inline(__always)
        public mutating func add(collectedAt: Int64, measuredTime: Double, value: Double) {
            guard let t = extent.instant(ofRowCollectedAt: collectedAt, measuredTime: measuredTime, within: from...to) else { return }
            times.append(t)
            values.append(value)
        }

        public var series: (times: [Int64], values: [Double]) { (times, values) }
    }

    /// What a store sums up of a sensor's recording extents: the lowest and highest instants they
    /// cover and the lowest and highest collected_at they hold (µs).
    public struct ExtentTotals: Sendable {
        public var instantLow, instantHigh, collectedLow, collectedHigh: Int64

        /// The four aggregates as a query gives them: all present, or none (no extents).
        public init?(instantLow: Int64?, instantHigh: Int64?, collectedLow: Int64?, collectedHigh: Int64?) {
            guard let instantLow, let instantHigh, let collectedLow, let collectedHigh else { return nil }
            (self.instantLow, self.instantHigh, self.collectedLow, self.collectedHigh) = (instantLow, instantHigh, collectedLow, collectedHigh)
        }
    }

    /// The first and last instants of a sensor's samples: from its recordings' extents when the
    /// engine has placed its oldest and newest rows (`collected` is the range of its rows'
    /// collected_at), from collected_at otherwise.
    public static func span(collected: ClosedRange<Int64>, extents: ExtentTotals?) -> ClosedRange<Timestamp> {
        var low = collected.lowerBound
        var high = collected.upperBound
        if let extents {
            let tolerance = RecordingTracker.clockTolerance
            if extents.collectedLow <= collected.lowerBound &+ tolerance { low = extents.instantLow }
            if extents.collectedHigh >= collected.upperBound &- tolerance { high = extents.instantHigh }
        }
        return Timestamp(microseconds: min(low, high))...Timestamp(microseconds: max(low, high))
    }
}
