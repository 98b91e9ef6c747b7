import Logging
import ServiceLifecycle
import Synchronization
import VibrationCore

/// A PostgreSQL primary with a streaming-replication standby that takes the reads of the dashboard
/// and the list endpoints (`himmes serve --read-db`). Writes, the engine, API keys, migrations and
/// health stay on the primary. While the standby does not answer, its reads go to the primary.
///
/// `run()` runs the standby's connections and watches it once a second: whether it answers, and
/// how far behind the primary it is (the age, to the second, of the oldest write it has not
/// replayed; zero while it keeps up).
public final class StandbyReads: Store, ChangeFeed, EngineLeases {
    public let primary: PostgresStore
    public let standby: PostgresStore
    let logger: Logger

    /// What the last look at the standby found.
    public enum Condition: Sendable, Equatable {
        /// Not looked at yet.
        case unknown
        /// It answers, and is `lag` seconds behind (0: it keeps up).
        case streaming(lag: Double)
        /// It does not answer: reads go to the primary.
        case down(String)
    }

    /// The last look's finding, and the primary's WAL positions at recent looks, oldest first.
    private let state = Mutex<(condition: Condition, positions: [(at: ContinuousClock.Instant, lsn: UInt64)])>((.unknown, []))

    /// A standby further behind than this (seconds) is mentioned on every page.
    public static let noticeableLag = 5.0

    /// The lag while the standby answers and is further behind than `noticeableLag`; nil otherwise.
    public var lagToShow: Double? {
        guard let lag, lag > Self.noticeableLag else { return nil }
        return lag
    }

    /// Reads wait this long for the standby before they go to the primary.
    static let standbyDeadline = Duration.seconds(2)
    /// Looks remembered: the longest lag measured is this many looks (seconds) long.
    static let remembered = 3_600

    public init(primary: PostgresStore, standby: PostgresStore, logger: Logger) {
        self.primary = primary
        self.standby = standby
        self.logger = logger
    }

    public var condition: Condition { state.withLock { $0.condition } }

    /// How far behind the standby is, in seconds, when it answers.
    public var lag: Double? {
        if case .streaming(let lag) = condition { return lag }
        return nil
    }

    /// Looks at the standby: the primary's WAL position, then the position the standby has
    /// replayed. The lag is the age of the oldest position the primary had at a look that the
    /// standby has not replayed yet (zero when it has replayed the one just read): writes that old
    /// are not on the standby, newer ones may not be.
    public func look() async {
        let now = ContinuousClock.now
        do {
            let position = try await primary.walPosition()
            let replayed = try await withDeadline(Self.standbyDeadline) { try await self.standby.replayPosition() }
            state.withLock {
                $0.positions.append((now, position))
                if $0.positions.count > Self.remembered { $0.positions.removeFirst($0.positions.count - Self.remembered) }
                let behind = $0.positions.first { $0.lsn > replayed }
                $0.condition = .streaming(lag: behind.map { max(0, (now - $0.at).inSeconds) } ?? 0)
                // Positions replayed are of no more use.
                $0.positions.removeAll { $0.lsn <= replayed }
            }
        } catch {
            let was = condition
            state.withLock {
                $0.condition = .down("\(error)")
                $0.positions = []
            }
            if case .down = was {} else {
                logger.warning("the standby does not answer: its reads go to the primary", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Runs the standby's connection pool, and looks at the standby once a second, until cancelled
    /// or shut down gracefully.
    public func run() async throws {
        try await standby.whileRunning {
            while !Task.isCancelled, !Task.isShuttingDownGracefully {
                await look()
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    public func start() {}
    public func close() {}

    /// A read from the standby while it answers, from the primary otherwise (or when the standby
    /// fails or takes too long on this one).
    func read<T: Sendable>(_ body: @escaping @Sendable (PostgresStore) async throws -> T) async throws -> T {
        guard case .streaming = condition else { return try await body(primary) }
        do {
            return try await withDeadline(Self.standbyDeadline) { try await body(self.standby) }
        } catch {
            logger.debug("a read on the standby failed; the primary answers", metadata: ["error": "\(error)"])
            return try await body(primary)
        }
    }

    // MARK: Administration (the primary)

    public func ping() async throws { try await primary.ping() }
    public func migrationStatus() async throws -> [(name: String, applied: Bool)] { try await primary.migrationStatus() }
    public func statistics() async throws -> StoreStatistics { try await primary.statistics() }

    // MARK: Samples

    public func insert(_ sample: VibrationSample) async throws -> StoredSample { try await primary.insert(sample) }
    public func sample(id: Int64) async throws -> StoredSample? { try await read { try await $0.sample(id: id) } }
    public func ingest<Batches: AsyncSequence>(
        _ batches: Batches, committed: @Sendable (SampleBatch, IngestCounts) -> Void
    ) async throws -> IngestCounts where Batches.Element == SampleBatch {
        try await primary.ingest(batches, committed: committed)
    }
    public func ingestAtomically(_ batches: [SampleBatch]) async throws -> IngestCounts { try await primary.ingestAtomically(batches) }
    public func samples(matching filter: SampleFilter, after cursor: SampleCursor?, limit: Int) async throws -> [StoredSample] {
        try await read { try await $0.samples(matching: filter, after: cursor, limit: limit) }
    }
    public func samplesByMeasuredTime(machineName: String, sensorNo: String, within range: ClosedRange<Double>, limit: Int)
        async throws -> [StoredSample]
    {
        try await read { try await $0.samplesByMeasuredTime(machineName: machineName, sensorNo: sensorNo, within: range, limit: limit) }
    }
    public func series(machineName: String, sensorNo: String, channel: SignalChannel, from: Timestamp, to: Timestamp, limit: Int)
        async throws -> (times: [Int64], values: [Double])?
    {
        try await read { try await $0.series(machineName: machineName, sensorNo: sensorNo, channel: channel, from: from, to: to, limit: limit) }
    }
    public func waveform(
        machineName: String, sensorNo: String, channel: SignalChannel, from: Timestamp, to: Timestamp, buckets: Int
    ) async throws -> Downsampling.Reduced? {
        try await read {
            try await $0.waveform(machineName: machineName, sensorNo: sensorNo, channel: channel, from: from, to: to, buckets: buckets)
        }
    }
    public func sensorSpan(machineName: String, sensorNo: String) async throws -> ClosedRange<Timestamp>? {
        try await read { try await $0.sensorSpan(machineName: machineName, sensorNo: sensorNo) }
    }
    public func recordingExtents(machineName: String, sensorNo: String, from: Timestamp, to: Timestamp) async throws -> [RecordingExtent]? {
        try await read { try await $0.recordingExtents(machineName: machineName, sensorNo: sensorNo, from: from, to: to) }
    }
    public func samples(of extent: RecordingExtent, measuredTimes: ClosedRange<Double>, after: SampleCursor?, limit: Int) async throws
        -> [StoredSample]
    {
        try await read { try await $0.samples(of: extent, measuredTimes: measuredTimes, after: after, limit: limit) }
    }

    // MARK: Diagnoses

    public func insert(_ diagnosis: Diagnosis) async throws -> StoredDiagnosis { try await primary.insert(diagnosis) }
    public func insert(_ diagnoses: [Diagnosis]) async throws -> Int { try await primary.insert(diagnoses) }
    public func diagnosis(id: Int64) async throws -> StoredDiagnosis? { try await read { try await $0.diagnosis(id: id) } }
    public func diagnoses(matching filter: DiagnosisFilter, after cursor: DiagnosisCursor?, limit: Int) async throws -> [StoredDiagnosis] {
        try await read { try await $0.diagnoses(matching: filter, after: cursor, limit: limit) }
    }
    public func latestDiagnoses(machineName: String?) async throws -> [StoredDiagnosis] {
        try await read { try await $0.latestDiagnoses(machineName: machineName) }
    }
    public func faultTypeCounts(machineName: String?, from: Timestamp?, to: Timestamp?) async throws
        -> [(machineName: String, faultType: FaultType, count: Int)]
    {
        try await read { try await $0.faultTypeCounts(machineName: machineName, from: from, to: to) }
    }
    public func diagnosisRuns(machineName: String?, from: Timestamp, to: Timestamp, slots: Int) async throws -> [DiagnosisRun] {
        try await read { try await $0.diagnosisRuns(machineName: machineName, from: from, to: to, slots: slots) }
    }

    // MARK: Machines

    public func machines() async throws -> [MachineSummary] { try await read { try await $0.machines() } }
    public func machine(named name: String) async throws -> MachineSummary? { try await read { try await $0.machine(named: name) } }
    public func machineStatus(named name: String) async throws -> MachineStatus? {
        try await read { try await $0.machineStatus(named: name) }
    }
    public func machineStatuses() async throws -> [MachineStatus] { try await read { try await $0.machineStatuses() } }
    public func save(_ config: MachineConfig) async throws -> MachineStatus { try await primary.save(config) }

    // MARK: Engine (the primary; its evidence and trends are reads)

    public func scan(seconds: Double, limit: Int, channels: [SignalChannel]?, machines: Set<String>?) async throws -> PendingWindows {
        try await primary.scan(seconds: seconds, limit: limit, channels: channels, machines: machines)
    }
    public func samples(of window: AnalysisWindow) async throws -> (times: [Double], values: [Double]) { try await primary.samples(of: window) }
    public func samples(of windows: [AnalysisWindow]) async throws -> [(times: [Double], values: [Double])] {
        try await primary.samples(of: windows)
    }
    public func record(_ results: [WindowResult], passedOver: [AnalysisWindow], tracker: MachineStateTracker, holder: String?)
        async throws -> [Alarm]
    {
        try await primary.record(results, passedOver: passedOver, tracker: tracker, holder: holder)
    }
    public func engineEvidence(diagnosisID: Int64) async throws -> EngineEvidence? {
        try await read { try await $0.engineEvidence(diagnosisID: diagnosisID) }
    }
    public func featureTrend(machineName: String, from: Timestamp?, to: Timestamp?, limit: Int) async throws -> [FeaturePoint] {
        try await read { try await $0.featureTrend(machineName: machineName, from: from, to: to, limit: limit) }
    }
    public func learnBaseline(machineName: String, from: Timestamp, to: Timestamp) async throws -> HealthyBaseline? {
        try await primary.learnBaseline(machineName: machineName, from: from, to: to)
    }
    public func restartScan() async throws { try await primary.restartScan() }
    public func forgetEngineDiagnoses(machineName: String?, from: Timestamp?, to: Timestamp?) async throws -> Int {
        try await primary.forgetEngineDiagnoses(machineName: machineName, from: from, to: to)
    }
    public func shareMachines(holder: String, liveness: Duration) async throws -> Set<String> {
        try await primary.shareMachines(holder: holder, liveness: liveness)
    }
    public func leaveEngine(holder: String) async throws { try await primary.leaveEngine(holder: holder) }
    public func engineHolders(liveness: Duration) async throws -> [(holder: String, machines: Int)] {
        try await primary.engineHolders(liveness: liveness)
    }
    public func followChanges(_ changed: @escaping @Sendable (StoreChange) -> Void) async { await primary.followChanges(changed) }

    // MARK: Retention, keys, alarms (the primary: a revoked key or an acknowledgement counts at once)

    public func prune(before cutoff: Timestamp) async throws -> PruneReport { try await primary.prune(before: cutoff) }
    public func createKey(name: String, readOnly: Bool) async throws -> (key: APIKey, secret: String) {
        try await primary.createKey(name: name, readOnly: readOnly)
    }
    public func apiKeys() async throws -> [APIKey] { try await primary.apiKeys() }
    public func revokeKey(name: String) async throws -> Bool { try await primary.revokeKey(name: name) }
    public func authenticate(secret: String) async throws -> APIKey? { try await primary.authenticate(secret: secret) }
    public func activeKey(id: Int64) async throws -> (key: APIKey, secretDigest: String)? { try await primary.activeKey(id: id) }
    public func hasKeys() async throws -> Bool { try await primary.hasKeys() }
    public func alarms(openOnly: Bool, machineName: String?, limit: Int) async throws -> [Alarm] {
        try await read { try await $0.alarms(openOnly: openOnly, machineName: machineName, limit: limit) }
    }
    public func acknowledgeAlarm(id: Int64, by: String?) async throws -> Alarm? { try await primary.acknowledgeAlarm(id: id, by: by) }
}

/// The body's result, or `DeadlinePassed` when it takes longer than `limit` (the body is cancelled).
func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw DeadlinePassed(limit: limit) }
        return value
    }
}

struct DeadlinePassed: Error, CustomStringConvertible {
    var limit: Duration
    var description: String { "no answer within \(limit)" }
}

extension PostgresStore {
    /// The primary's current write-ahead log position.
    func walPosition() async throws -> UInt64 {
        Self.lsn(try await one("SELECT pg_current_wal_lsn()::text", String.self) ?? "0/0")
    }

    /// How far this standby has replayed the primary's log (0 when it is not a standby).
    func replayPosition() async throws -> UInt64 {
        Self.lsn(try await one("SELECT coalesce(pg_last_wal_replay_lsn()::text, '0/0')", String.self) ?? "0/0")
    }

    /// A log position as PostgreSQL writes it, `16/B374D848`, as one number.
    static func lsn(_ text: String) -> UInt64 {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let high = UInt64(parts[0], radix: 16), let low = UInt64(parts[1], radix: 16) else { return 0 }
        return high << 32 | low
    }

    /// A store on a standby: no migrations (it replays the primary's), and no connection is made
    /// until it is used, so that a standby that is down does not stop the server starting.
    public static func standby(_ location: PostgresLocation, maximumConnections: Int = 8, logger: Logger) -> PostgresStore {
        PostgresStore(location: location, maximumConnections: maximumConnections, logger: logger)
    }
}
