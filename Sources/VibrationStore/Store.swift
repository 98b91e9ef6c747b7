import VibrationCore

/// Everything the server and the command line ask of the database. Two implementations keep
/// the same behaviour: SQLite (embedded, the default) and PostgreSQL.
public protocol Store: Sendable {
    /// Answers when the database does; throws otherwise.
    func ping() async throws

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

    func insert(_ diagnosis: Diagnosis) async throws -> StoredDiagnosis
    /// Stores the diagnoses in one transaction; returns how many.
    func insert(_ diagnoses: [Diagnosis]) async throws -> Int
    func diagnosis(id: Int64) async throws -> StoredDiagnosis?
    /// Diagnoses in (detected_at, id) order, starting after the cursor.
    func diagnoses(matching filter: DiagnosisFilter, after cursor: DiagnosisCursor?, limit: Int) async throws
        -> [StoredDiagnosis]
    /// The newest diagnosis of each machine (highest id among equal times), ordered by machine name.
    func latestDiagnoses(machineName: String?) async throws -> [StoredDiagnosis]

    /// Every machine that has samples or diagnoses, ordered by name.
    func machines() async throws -> [MachineSummary]
}

public enum StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A sample with the same (machine, sensor, collected_at, measured_time) is already stored.
    case duplicateSample(existingID: Int64)

    public var description: String {
        switch self {
        case .duplicateSample(let id):
            "a sample with the same machine_name, sensor_no, collected_at and measured_time is already stored (id \(id))"
        }
    }
}
