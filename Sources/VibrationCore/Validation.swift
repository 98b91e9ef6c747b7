/// One field that breaks the data contract, and why.
public struct FieldViolation: Hashable, Sendable, CustomStringConvertible {
    /// The field's name as clients spell it (`machine_name`, `fault_type`).
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

/// A request or a row that breaks the data contract; names every field at fault.
public struct ValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    public var violations: [FieldViolation]

    public init(_ violations: [FieldViolation]) {
        self.violations = violations
    }

    public init(field: String, message: String) {
        self.violations = [FieldViolation(field: field, message: message)]
    }

    public var description: String { violations.map(\.description).joined(separator: "; ") }
}

/// The limits of the original schema, in one place.
public enum Validation {
    public static let machineNameLength = 1...50
    public static let sensorNoLength = 1...20

    public static func checkMachineName(_ value: String, into found: inout [FieldViolation]) {
        checkLength(value, field: "machine_name", allowed: machineNameLength, into: &found)
    }

    public static func checkSensorNo(_ value: String, into found: inout [FieldViolation]) {
        checkLength(value, field: "sensor_no", allowed: sensorNoLength, into: &found)
    }

    static func checkLength(
        _ value: String, field: String, allowed: ClosedRange<Int>, into found: inout [FieldViolation]
    ) {
        // The original columns are VARCHAR(n): n characters, not bytes.
        let count = value.count
        if count < allowed.lowerBound {
            found.append(FieldViolation(field: field, message: "must not be empty"))
        } else if count > allowed.upperBound {
            found.append(
                FieldViolation(field: field, message: "must be at most \(allowed.upperBound) characters, got \(count)"))
        } else if value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            found.append(FieldViolation(field: field, message: "must not contain control characters"))
        }
    }

    /// measured_time is seconds within a recording; the engine adds it to collected_at, so it must
    /// keep the sum within the years a timestamp can name.
    public static let measuredTimeLimit = 1e9
    public static let measuredTimeMessage = "must be within ±1e9 seconds (seconds since the recording started)"

    public static func checkMeasuredTime(_ value: Double, into found: inout [FieldViolation]) {
        if !value.isFinite {
            checkFinite(value, field: "measured_time", into: &found)
        } else if abs(value) >= measuredTimeLimit {
            found.append(FieldViolation(field: "measured_time", message: measuredTimeMessage))
        }
    }

    /// The largest acceleration a sample may carry, in g. General-purpose industrial accelerometers
    /// measure up to ±50-500 g and shock accelerometers up to about ±100,000 g; a larger value is a
    /// fault of the sender. The bound keeps every feature the engine computes finite: the fourth
    /// power of 1e5 summed over a million samples is 1e26, far below a Double's limit.
    public static let accelerationLimit = 100_000.0
    public static let accelerationMessage = "must be within ±100,000 g (the range of shock accelerometers)"

    /// Whether an acceleration may be stored: finite and within `accelerationLimit`.
    @inline(__always)
    public static func isAcceleration(_ value: Double) -> Bool { abs(value) <= accelerationLimit }

    public static func checkAcceleration(_ value: Double, field: String, into found: inout [FieldViolation]) {
        if !value.isFinite {
            checkFinite(value, field: field, into: &found)
        } else if !isAcceleration(value) {
            found.append(FieldViolation(field: field, message: accelerationMessage))
        }
    }

    public static func checkFinite(_ value: Double, field: String, into found: inout [FieldViolation]) {
        if !value.isFinite {
            found.append(FieldViolation(field: field, message: "must be a finite number, got \(value)"))
        }
    }

    public static func faultType(_ value: Int, field: String = "fault_type") throws(ValidationError) -> FaultType {
        guard let type = FaultType(rawValue: value) else {
            throw ValidationError(
                field: field,
                message: "must be 0 (normal), 1 (mass unbalance), 2 (support looseness) or 3 (both), got \(value)")
        }
        return type
    }
}
