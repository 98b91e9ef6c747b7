import Foundation
import Testing
import VibrationCore
import VibrationStore
@_exported import StoreTestSupport

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
