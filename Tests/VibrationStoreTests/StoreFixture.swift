import Foundation
import Testing
import VibrationCore
import VibrationStore

/// A fresh, empty store of one backend per test. The suite takes its backends as arguments so that
/// the same tests hold every implementation of `Store` to the same behaviour. PostgreSQL takes part
/// when `HIMMES_TEST_POSTGRES_URL` names a server (each test gets a schema of its own).
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    static let postgresURL: String? = {
        guard let url = ProcessInfo.processInfo.environment["HIMMES_TEST_POSTGRES_URL"], !url.isEmpty else {
            print("HIMMES_TEST_POSTGRES_URL is not set: the store tests run on SQLite only and skip PostgreSQL")
            return nil
        }
        return url
    }()

    static var available: [Backend] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    var testDescription: String { rawValue }

    func makeStore() async throws -> any Store {
        switch self {
        case .sqlite:
            return try SQLiteStore(path: TemporaryDirectory.make().appendingPathComponent("test.sqlite").path)
        case .postgres:
            return try await PostgresStore.connect(Self.freshPostgresLocation(), maximumConnections: 4)
        }
    }

    /// The test server with a new, empty schema.
    static func freshPostgresLocation() throws -> PostgresLocation {
        guard let url = postgresURL else { throw CancellationError() }
        var location = try PostgresLocation(url: url)
        location.schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        return location
    }
}

enum TemporaryDirectory {
    static func make() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("himmes-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

func t(_ text: String) -> Timestamp {
    guard let value = Timestamp(parsing: text) else { fatalError("bad test time \(text)") }
    return value
}

func sample(
    _ machine: String = "g1", _ sensor: String = "sensor1", at collectedAt: String = "2025-01-01T00:00:00Z",
    time: Double = 0, value: Double = 0.5
) -> VibrationSample {
    VibrationSample(
        machineName: machine, sensorNo: sensor, collectedAt: t(collectedAt), measuredTime: time, normal: value,
        unbalance: value * 2, looseness: value * 3, unbalanceLooseness: value * 4)
}
