import Foundation
import OpenAPIRuntime
import VibrationCore

/// A time that is not RFC 3339.
struct InvalidTimestamp: Error, CustomStringConvertible {
    var text: String

    var description: String {
        "'\(text)' is not an RFC 3339 time (like 2025-01-01T00:00:00Z; without an offset it is read as UTC)"
    }
}

extension Timestamp {
    /// A time field of a request, or a 422 naming the field.
    static func field(_ name: String, _ text: String?, zone: PlantTimeZone) throws(ValidationError) -> Timestamp? {
        guard let text else { return nil }
        guard let value = Timestamp(parsing: text, zone: zone) else {
            throw ValidationError(field: name, message: InvalidTimestamp(text: text).description)
        }
        return value
    }

    /// A `from` or `to` query parameter: a time, or a date meaning its whole day.
    static func bound(_ name: String, _ text: String?, upper: Bool, zone: PlantTimeZone) throws(ValidationError) -> Timestamp? {
        guard let text else { return nil }
        guard let value = Timestamp(parsingBound: text, upper: upper, zone: zone) else {
            throw ValidationError(
                field: name,
                message: "'\(text)' is neither an RFC 3339 time (2025-01-01T00:00:00Z) nor a date (2025-01-01)")
        }
        return value
    }
}

/// RFC 3339 in and out, through `Timestamp`: fractional seconds optional, a time without offset is UTC,
/// and output in UTC with only the fractional digits needed.
struct RFC3339DateTranscoder: DateTranscoder {
    func encode(_ date: Date) throws -> String {
        Timestamp(date).rfc3339
    }

    func decode(_ text: String) throws -> Date {
        guard let timestamp = Timestamp(parsing: text) else { throw InvalidTimestamp(text: text) }
        return timestamp.date
    }
}

