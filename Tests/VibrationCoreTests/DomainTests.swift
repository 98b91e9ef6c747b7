import Testing

@testable import VibrationCore

@Suite("Validation and paging")
struct DomainTests {
    func sample(machine: String = "g1", sensor: String = "sensor1", value: Double = 0.1) -> VibrationSample {
        VibrationSample(
            machineName: machine, sensorNo: sensor, collectedAt: Timestamp(microseconds: 0), measuredTime: 0,
            normal: value, unbalance: 0, looseness: 0, unbalanceLooseness: 0)
    }

    @Test("machine_name is 1 to 50 characters and sensor_no 1 to 20")
    func lengths() {
        #expect(sample(machine: String(repeating: "m", count: 50)).violations().isEmpty)
        #expect(sample(machine: String(repeating: "설", count: 50)).violations().isEmpty)
        #expect(sample(machine: String(repeating: "m", count: 51)).violations().map(\.field) == ["machine_name"])
        #expect(sample(machine: "").violations().map(\.field) == ["machine_name"])
        #expect(sample(sensor: String(repeating: "s", count: 20)).violations().isEmpty)
        #expect(sample(sensor: String(repeating: "s", count: 21)).violations().map(\.field) == ["sensor_no"])
        #expect(sample(machine: "", sensor: "").violations().map(\.field) == ["machine_name", "sensor_no"])
        #expect(sample(machine: "g\u{0}1").violations().map(\.field) == ["machine_name"])
    }

    @Test("signal values must be finite", arguments: [Double.nan, .infinity, -.infinity])
    func finite(value: Double) {
        #expect(sample(value: value).violations().map(\.field) == ["normal"])
    }

    @Test("fault types are 0 to 3 with names")
    func faultTypes() throws {
        #expect(try Validation.faultType(1) == .massUnbalance)
        #expect(FaultType.unbalanceAndLooseness.name == "unbalance and looseness")
        #expect(throws: ValidationError.self) { try Validation.faultType(4) }
        #expect(throws: ValidationError.self) { try Validation.faultType(-1) }
    }

    @Test("limit defaults to 100 and stays within 1...10000")
    func limits() throws {
        #expect(try Page.limit(nil) == 100)
        #expect(try Page.limit(10_000) == 10_000)
        #expect(throws: ValidationError.self) { try Page.limit(0) }
        #expect(throws: ValidationError.self) { try Page.limit(10_001) }
    }

    @Test("cursors survive the round trip exactly and refuse forgeries")
    func cursors() throws {
        let s = SampleCursor(collectedAt: Timestamp(microseconds: -5), measuredTime: 0.1 + 0.2, id: 42)
        #expect(try SampleCursor(token: s.token) == s)
        let d = DiagnosisCursor(detectedAt: Timestamp(microseconds: 1_735_689_600_000_000), id: 7)
        #expect(try DiagnosisCursor(token: d.token) == d)
        for bad in ["", "s", "s1.2", "d1.2", "sx.y.z", s.token + ".1"] {
            #expect(throws: ValidationError.self) { try SampleCursor(token: bad) }
        }
        #expect(throws: ValidationError.self) { try DiagnosisCursor(token: s.token) }
    }

    @Test("a range whose start is after its end is refused")
    func ranges() throws {
        let early = Timestamp(microseconds: 0)
        let late = Timestamp(microseconds: 1)
        #expect(throws: ValidationError.self) { try SampleFilter(from: late, to: early).validated() }
        #expect(try SampleFilter(from: early, to: early).validated().from == early)
        #expect(throws: ValidationError.self) { try DiagnosisFilter(from: late, to: early).validated() }
    }
}
