import Foundation
import VibrationCore
import VibrationStore

/// A fresh, empty store of one backend per test. The suite takes its backends as arguments so that
/// the same tests hold every implementation of `Store` to the same behaviour.
enum Backend: String, CaseIterable, Sendable {
    case sqlite

    static var available: [Backend] { [.sqlite] }

    func makeStore() throws -> any Store {
        switch self {
        case .sqlite:
            return try SQLiteStore(path: TemporaryDirectory.make().appendingPathComponent("test.sqlite").path)
        }
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
