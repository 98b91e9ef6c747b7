import ServiceLifecycle
import VibrationCore

/// Everything the server and the command line ask of the database, as the roles below: a consumer
/// takes the one role it needs. Two implementations keep the same behaviour: SQLite (embedded, the
/// default) and PostgreSQL.
public protocol Store: StoreAdministration, SampleStore, DiagnosisStore, MachineStore, EngineStore, RetentionStore, KeyStore,
    AlarmStore
{}

/// The database itself: its connections, health, schema and size.
public protocol StoreAdministration: Service {
    /// The store's background work (PostgreSQL: its connection pool, which every query waits for;
    /// SQLite: copying the WAL into the database file) until cancelled or shut down gracefully: a
    /// service of the program that uses the store.
    func run() async throws
    /// Runs the background work in a task of the store's own until `close`, for tools and tests
    /// that use the store outside a service group.
    func start()
    /// Stops the background work `start` began; the store cannot be used after.
    func close()
    /// Answers when the database does; throws otherwise.
    func ping() async throws
    /// The schema's migrations this build knows, oldest first, and whether each is applied.
    func migrationStatus() async throws -> [(name: String, applied: Bool)]
    /// Figures for monitoring (`/metrics`): sizes, connections, open alarms.
    func statistics() async throws -> StoreStatistics
}

/// The samples: writing them, listing them, and reading a sensor's signal back by instant.
public protocol SampleStore: Sendable {
    /// Stores one sample. Throws `StoreError.duplicateSample` when its identity is already stored.
    func insert(_ sample: VibrationSample) async throws -> StoredSample
    func sample(id: Int64) async throws -> StoredSample?
    /// Stores parsed batches as they arrive, each in its own transaction, skipping samples whose
    /// identity is already stored. A batch names its streams by index into the parser's table and
    /// carries the table's new entries. `committed` is called after each batch is durable.
    func ingest<Batches: AsyncSequence>(
        _ batches: Batches, committed: @Sendable (SampleBatch, IngestCounts) -> Void
    ) async throws -> IngestCounts where Batches.Element == SampleBatch
    /// Stores all the batches in one transaction: every row or none.
    func ingestAtomically(_ batches: [SampleBatch]) async throws -> IngestCounts
    /// Samples in (collected_at, measured_time, id) order, starting after the cursor.
    func samples(matching filter: SampleFilter, after cursor: SampleCursor?, limit: Int) async throws -> [StoredSample]
    /// A sensor's samples with `measured_time` in the range, the `limit` first by measured_time (then
    /// collected_at and id): what the original system's `grouped-range` answered per sensor.
    func samplesByMeasuredTime(machineName: String, sensorNo: String, within range: ClosedRange<Double>, limit: Int)
        async throws -> [StoredSample]
    /// One sensor's channel over a range of instants (inclusive), in time order, at most `limit`
    /// samples; nil when the machine has no such sensor. A sample's instant is its collected_at where
    /// that is its instant, and its recording's start plus its measured_time where the engine found
    /// it is not (a recording's start on every row, an upload's wall clock).
    func series(machineName: String, sensorNo: String, channel: SignalChannel, from: Timestamp, to: Timestamp, limit: Int)
        async throws -> (times: [Int64], values: [Double])?

    /// One sensor's channel over a range of instants (inclusive, as `series` places them) in at most
    /// `buckets` min/max buckets: from the stored summary when its buckets are no wider than a drawing
    /// bucket and collected_at places the samples, else from the samples. nil when the machine has
    /// no such sensor.
    func waveform(
        machineName: String, sensorNo: String, channel: SignalChannel, from: Timestamp, to: Timestamp, buckets: Int
    ) async throws -> Downsampling.Reduced?

    /// The first and last instants of a sensor's samples (start + measured_time of the recordings
    /// the engine found, or collected_at where it has not placed them yet); nil when the machine has
    /// no such sensor or it has no samples.
    func sensorSpan(machineName: String, sensorNo: String) async throws -> ClosedRange<Timestamp>?

    /// The recordings the engine found on a sensor whose instants meet the range, by start; nil
    /// when the machine has no such sensor.
    func recordingExtents(machineName: String, sensorNo: String, from: Timestamp, to: Timestamp) async throws -> [RecordingExtent]?
    /// The rows of a recording's sensor whose collected_at lies in the recording's range and whose
    /// measured_time lies in `measuredTimes`, in (measured_time, id) order after the cursor, at most
    /// `limit`: a page of the recording's rows (`RecordingExtent.holds` tells which are its own).
    func samples(of extent: RecordingExtent, measuredTimes: ClosedRange<Double>, after: SampleCursor?, limit: Int) async throws
        -> [StoredSample]
}

/// The verdicts (`vibration_diagnosis`), whoever made them.
public protocol DiagnosisStore: Sendable {
    func insert(_ diagnosis: Diagnosis) async throws -> StoredDiagnosis
    /// Stores the diagnoses in one transaction; returns how many.
    func insert(_ diagnoses: [Diagnosis]) async throws -> Int
    func diagnosis(id: Int64) async throws -> StoredDiagnosis?
    /// Diagnoses in (detected_at, id) order, starting after the cursor.
    func diagnoses(matching filter: DiagnosisFilter, after cursor: DiagnosisCursor?, limit: Int) async throws
        -> [StoredDiagnosis]
    /// The newest diagnosis of each machine (highest id among equal times), ordered by machine name.
    func latestDiagnoses(machineName: String?) async throws -> [StoredDiagnosis]
    /// How many diagnoses of each fault type each machine has in the range (all of a machine, or
    /// every machine), ordered by machine and fault type: the diagnosis page's distribution.
    func faultTypeCounts(machineName: String?, from: Timestamp?, to: Timestamp?) async throws
        -> [(machineName: String, faultType: FaultType, count: Int)]

    /// The verdicts of each machine over a range (inclusive) as bands for a timeline, ordered by
    /// machine name and time. The range is cut into `slots` equal parts; each part takes the most
    /// severe verdict detected in it (a fault is never hidden by the normal verdicts around it), and
    /// neighbouring parts with the same verdict make one band.
    func diagnosisRuns(machineName: String?, from: Timestamp, to: Timestamp, slots: Int) async throws -> [DiagnosisRun]
}

/// The machines: what the data holds of each, and the registry (configuration and confirmed state).
public protocol MachineStore: Sendable {
    /// Every machine that has samples or diagnoses, ordered by name.
    func machines() async throws -> [MachineSummary]
    /// One machine's summary; nil when it has neither samples nor diagnoses.
    func machine(named name: String) async throws -> MachineSummary?
    /// The machine's registry entry and confirmed state; nil when the machine is unknown.
    func machineStatus(named name: String) async throws -> MachineStatus?
    /// Every registry entry, ordered by name.
    func machineStatuses() async throws -> [MachineStatus]
    /// Creates or updates a registry entry (the state is kept).
    func save(_ config: MachineConfig) async throws -> MachineStatus
}

/// The built-in engine's work: finding windows, recording verdicts with their evidence, its measurements.
public protocol EngineStore: Sendable {
    /// Looks at the samples the engine has not looked at yet and keeps how far it got: returns
    /// complete windows of each machine's monitored channel, oldest first, of `machines` only (nil:
    /// every machine). Every complete window stays listed as open until `record` takes it, so a
    /// window whose verdict is never recorded (its server stopped, another server holds its
    /// machine) is found again by the next scan. Scans of several engines take turns.
    /// Machines first seen in the data get a registry entry.
    /// `channels` overrides each machine's monitored channel (for re-diagnosing other columns).
    func scan(seconds: Double, limit: Int, channels: [SignalChannel]?, machines: Set<String>?) async throws -> PendingWindows
    /// The times (measured_time) and values of the window's channel, in order.
    func samples(of window: AnalysisWindow) async throws -> (times: [Double], values: [Double])
    /// The same for several windows in one read: one wait for the database instead of one per window.
    func samples(of windows: [AnalysisWindow]) async throws -> [(times: [Double], values: [Double])]
    /// Stores the verdicts (one diagnosis with evidence per window; a window diagnosed before is
    /// skipped), moves each machine's state and opens or closes its alarms, and takes the windows
    /// (and those `passedOver`, which cannot be analysed) off the open list. With a `holder`, only
    /// windows of machines that holder leases are taken (`EngineLeases`); the others stay open for
    /// the machine's new holder. Returns the alarms opened.
    func record(_ results: [WindowResult], passedOver: [AnalysisWindow], tracker: MachineStateTracker, holder: String?)
        async throws -> [Alarm]
    /// The engine's record behind a diagnosis; nil for verdicts posted from outside.
    func engineEvidence(diagnosisID: Int64) async throws -> EngineEvidence?
    /// The engine's measurements of a machine's windows in a range (inclusive), oldest first; the
    /// newest `limit` when there are more.
    func featureTrend(machineName: String, from: Timestamp?, to: Timestamp?, limit: Int) async throws -> [FeaturePoint]
    /// Learns a machine's healthy baseline from the windows diagnosed in a period.
    func learnBaseline(machineName: String, from: Timestamp, to: Timestamp) async throws -> HealthyBaseline?
    /// Makes the engine look at every stored sample again (windows already diagnosed are skipped).
    func restartScan() async throws
    /// Forgets the engine's diagnoses in a range so that the windows are diagnosed again.
    func forgetEngineDiagnoses(machineName: String?, from: Timestamp?, to: Timestamp?) async throws -> Int
}

/// Engines of several servers sharing one database: each machine's windows are diagnosed by one
/// of them at a time. Machines are spread over the live servers by rendezvous hashing (each goes to
/// the server that ranks it highest, so a server joining or leaving moves only its share), and
/// held through leases in the database; a server that has not been seen for `liveness` loses its
/// leases to the others.
public protocol EngineLeases: Sendable {
    /// Says `holder` is alive, gives up the machines no longer its share and takes those that are
    /// (when free, or held by a server no longer live). Returns the machines it holds now.
    func shareMachines(holder: String, liveness: Duration) async throws -> Set<String>
    /// Lets go of every machine `holder` holds and says it is gone (at a graceful shutdown).
    func leaveEngine(holder: String) async throws
    /// The live engines and how many machines each holds.
    func engineHolders(liveness: Duration) async throws -> [(holder: String, machines: Int)]
}

/// Removing old samples.
public protocol RetentionStore: Sendable {
    /// Deletes the samples collected before the cutoff, rounded down to a whole 100-second bucket
    /// so that the waveform summary stays exact; diagnoses, their evidence and alarms are kept.
    /// Done in short steps that never hold readers or uploads up for long.
    func prune(before cutoff: Timestamp) async throws -> PruneReport
}

/// API keys.
public protocol KeyStore: Sendable {
    /// Makes a key; returns it with its secret, which is not stored and cannot be shown again.
    /// Throws `StoreError.keyNameTaken` when a key of that name exists.
    func createKey(name: String, readOnly: Bool) async throws -> (key: APIKey, secret: String)
    /// Every key, revoked ones too, oldest first.
    func apiKeys() async throws -> [APIKey]
    /// Revokes the key of that name; false when there is none (or it was revoked already).
    func revokeKey(name: String) async throws -> Bool
    /// The key a secret belongs to, when it exists and is not revoked.
    func authenticate(secret: String) async throws -> APIKey?
    /// The key of that id with the SHA-256 of its secret, when it exists and is not revoked: a
    /// signed-in browser's session is signed with that digest.
    func activeKey(id: Int64) async throws -> (key: APIKey, secretDigest: String)?
    /// Whether any key was ever made, revoked ones included: once one was, every write needs a key,
    /// so that revoking the last key never reopens keyless writes.
    func hasKeys() async throws -> Bool
}

/// Alarms the engine opened.
public protocol AlarmStore: Sendable {
    func alarms(openOnly: Bool, machineName: String?, limit: Int) async throws -> [Alarm]
    /// Acknowledges an alarm; nil when no alarm has that id.
    func acknowledgeAlarm(id: Int64, by: String?) async throws -> Alarm?
}

public enum StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A sample with the same (machine, sensor, collected_at, measured_time) is already stored.
    case duplicateSample(existingID: Int64)
    /// A key with this name exists already.
    case keyNameTaken(String)

    public var description: String {
        switch self {
        case .duplicateSample(let id):
            "a sample with the same machine_name, sensor_no, collected_at and measured_time is already stored (id \(id))"
        case .keyNameTaken(let name):
            "a key named '\(name)' exists already; revoke it or choose another name"
        }
    }
}

/// Windows for the engine, and how far the samples behind them reach: once they are recorded,
/// the samples through `scannedThrough` need not be looked at again.
public struct PendingWindows: Sendable {
    public var windows: [AnalysisWindow]
    public var scannedThrough: Int64
    /// Windows seen but not complete yet, or beyond this call's limit: looked at again next time.
    public var open: [AnalysisWindow]
    /// Incomplete windows given up on because more were open than a store keeps (the oldest go first).
    public var abandoned: Int
    /// Each sensor's open recordings after the scan, to keep with the progress (nil: unchanged).
    public var recordings: [Int64: [RecordingTracker.Recording]]?
    /// What the scanned rows add to their recordings' extents, to keep with the progress.
    public var extents: [RecordingExtent] = []

    public init(
        windows: [AnalysisWindow], scannedThrough: Int64, open: [AnalysisWindow], abandoned: Int = 0,
        recordings: [Int64: [RecordingTracker.Recording]]? = nil
    ) {
        self.windows = windows
        self.scannedThrough = scannedThrough
        self.open = open
        self.abandoned = abandoned
        self.recordings = recordings
    }
}

/// What a prune removed.
public struct PruneReport: Sendable, Equatable {
    /// The cutoff applied: samples collected before it are gone.
    public var cutoff: Timestamp
    public var samplesDeleted: Int
    /// Whole month partitions dropped (PostgreSQL), by name.
    public var partitionsDropped: [String]

    public init(cutoff: Timestamp, samplesDeleted: Int, partitionsDropped: [String] = []) {
        self.cutoff = cutoff
        self.samplesDeleted = samplesDeleted
        self.partitionsDropped = partitionsDropped
    }

    /// The cutoff a prune applies for a requested one: the start of its coarsest summary bucket.
    public static func effectiveCutoff(_ requested: Timestamp) -> Timestamp {
        Timestamp(microseconds: WaveformSummary.bucket(requested.microseconds, WaveformSummary.levels[WaveformSummary.levels.count - 1]))
    }
}

/// What a store can say about itself for monitoring.
public struct StoreStatistics: Sendable, Equatable {
    /// The database's size on disk, in bytes (for SQLite, the file without its write-ahead log).
    public var databaseBytes: Int
    /// The write-ahead log's size, in bytes.
    public var walBytes: Int
    /// Connections the store may hold open at once: readers plus the writer.
    public var maximumConnections: Int
    /// Alarms not yet closed.
    public var openAlarms: Int

    public init(databaseBytes: Int, walBytes: Int, maximumConnections: Int, openAlarms: Int) {
        self.databaseBytes = databaseBytes
        self.walBytes = walBytes
        self.maximumConnections = maximumConnections
        self.openAlarms = openAlarms
    }
}
