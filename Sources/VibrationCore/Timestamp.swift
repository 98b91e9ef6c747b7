import Foundation

/// An instant in UTC with microsecond precision, stored as microseconds since 1970-01-01T00:00:00Z.
///
/// The store keeps every time as this integer: it sorts and compares as a number, and it is the
/// exact value that makes a sample's identity, whatever text the time arrived as.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var microseconds: Int64

    public init(microseconds: Int64) {
        self.microseconds = microseconds
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.microseconds < rhs.microseconds
    }

    /// The earliest and latest instants the text forms can name: years 0001 and 9999.
    public static let earliest = Timestamp(microseconds: CivilCalendar.microseconds(year: 1, month: 1, day: 1))
    public static let latest = Timestamp(
        microseconds: CivilCalendar.microseconds(year: 9999, month: 12, day: 31) + 86_400_000_000 - 1)

    public var description: String { rfc3339 }

    public var secondsSince1970: Double { Double(microseconds) / 1_000_000 }

    public init(secondsSince1970 seconds: Double) {
        self.microseconds = Int64((seconds * 1_000_000).rounded())
    }

    /// Adds a duration in seconds, rounded to the microsecond.
    /// Sums out of range saturate instead of trapping (validation keeps stored data far from them).
    public func adding(seconds: Double) -> Timestamp {
        let delta = (seconds * 1_000_000).rounded()
        guard !delta.isNaN else { return self }
        let saturated = Timestamp(microseconds: delta > 0 ? .max : .min)
        guard delta.magnitude < 9.2e18 else { return saturated }
        let (sum, overflow) = microseconds.addingReportingOverflow(Int64(delta))
        return overflow ? saturated : Timestamp(microseconds: sum)
    }
}

// MARK: - Text forms

extension Timestamp {
    /// Reads `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DDTHH:MM:SS`, each with optional fractional seconds and
    /// an optional offset (`Z`, `+09:00`, `+0900`, `+09`). Without an offset the time is UTC.
    /// Digits past the sixth fractional one are dropped. Returns nil for anything else.
    public init?(parsing text: some StringProtocol) {
        var copy = String(text)
        guard let value = copy.withUTF8({ Timestamp.parse($0) }) else { return nil }
        self = value
    }

    /// Reads a time as `init(parsing:)` does, or a bare date `YYYY-MM-DD` as the range bound a
    /// person means by it: its first instant as a lower bound, its last microsecond as an upper one.
    public init?(parsingBound text: some StringProtocol, upper: Bool) {
        if let exact = Timestamp(parsing: text) {
            self = exact
            return
        }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            year >= 1, (1...12).contains(month), day >= 1, day <= CivilCalendar.daysIn(month: month, year: year)
        else { return nil }
        let start = CivilCalendar.microseconds(year: year, month: month, day: day)
        self.init(microseconds: upper ? start + 86_400_000_000 - 1 : start)
    }

    /// Reads a time as `init(parsing:)` does; a time without an offset is the zone's local time.
    public init?(parsing text: some StringProtocol, zone: PlantTimeZone) {
        var copy = String(text)
        var reader = PlantTimeZone.Reader(zone)
        guard let value = copy.withUTF8({ Timestamp.parse($0, localTimes: &reader) }) else { return nil }
        self = value
    }

    /// Reads a range bound as `init(parsingBound:upper:)` does; a time or date without an offset
    /// is the zone's local time (a bare date is the zone's local day).
    public init?(parsingBound text: some StringProtocol, upper: Bool, zone: PlantTimeZone) {
        if let exact = Timestamp(parsing: text, zone: zone) {
            self = exact
            return
        }
        guard let day = Timestamp(parsingBound: text, upper: upper) else { return nil }
        let local = zone.utc(fromLocal: day.microseconds)
        guard local >= Timestamp.earliest.microseconds, local <= Timestamp.latest.microseconds else { return nil }
        self.init(microseconds: local)
    }

    /// `parse(_:)`, reading a time without an offset as a local time of the reader's zone.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, localTimes: inout PlantTimeZone.Reader) -> Timestamp? {
        guard let parts = parts(bytes) else { return nil }
        let utc = parts.offsetSeconds.map { parts.local - Int64($0) * 1_000_000 } ?? localTimes.utc(fromLocal: parts.local)
        let value = Timestamp(microseconds: utc)
        guard value >= .earliest, value <= .latest else { return nil }
        return value
    }

    /// The parser behind `init(parsing:)`, on raw UTF-8 so that the CSV reader can call it
    /// without making a String per field.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Timestamp? {
        guard let parts = parts(bytes) else { return nil }
        let value = Timestamp(microseconds: parts.local - Int64(parts.offsetSeconds ?? 0) * 1_000_000)
        guard value >= .earliest, value <= .latest else { return nil }
        return value
    }

    /// The wall-clock time as microseconds (as if it were UTC) and the offset it was written with,
    /// nil when it had none.
    static func parts(_ bytes: UnsafeBufferPointer<UInt8>) -> (local: Int64, offsetSeconds: Int?)? {
        let n = bytes.count
        guard n >= 19 else { return nil }
        @inline(__always) func digits(_ start: Int, _ count: Int) -> Int? {
            var value = 0
            for i in start..<(start + count) {
                let d = Int(bytes[i]) &- 48
                guard d >= 0 && d <= 9 else { return nil }
                value = value * 10 + d
            }
            return value
        }
        guard let year = digits(0, 4), bytes[4] == UInt8(ascii: "-"),
            let month = digits(5, 2), bytes[7] == UInt8(ascii: "-"),
            let day = digits(8, 2),
            bytes[10] == UInt8(ascii: " ") || bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
            let hour = digits(11, 2), bytes[13] == UInt8(ascii: ":"),
            let minute = digits(14, 2), bytes[16] == UInt8(ascii: ":"),
            let second = digits(17, 2)
        else { return nil }
        guard year >= 1, (1...12).contains(month), day >= 1, day <= CivilCalendar.daysIn(month: month, year: year),
            hour <= 23, minute <= 59, second <= 59
        else { return nil }

        var i = 19
        var fraction = 0
        if i < n && (bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: ",")) {
            i += 1
            var scale = 100_000
            let start = i
            while i < n, bytes[i] >= 48, bytes[i] <= 57 {
                fraction += Int(bytes[i] - 48) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }

        var offsetSeconds: Int?
        if i < n {
            let sign = bytes[i]
            if sign == UInt8(ascii: "Z") || sign == UInt8(ascii: "z") {
                offsetSeconds = 0
                i += 1
            } else if sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                i += 1
                guard i + 2 <= n, let oh = digits(i, 2) else { return nil }
                i += 2
                var om = 0
                if i < n {
                    if bytes[i] == UInt8(ascii: ":") { i += 1 }
                    guard i + 2 <= n, let m = digits(i, 2) else { return nil }
                    om = m
                    i += 2
                }
                guard oh <= 23, om <= 59 else { return nil }
                offsetSeconds = (oh * 3600 + om * 60) * (sign == UInt8(ascii: "-") ? -1 : 1)
            } else {
                return nil
            }
        }
        guard i == n else { return nil }

        let local =
            CivilCalendar.microseconds(year: year, month: month, day: day)
            + Int64(hour * 3600 + minute * 60 + second) * 1_000_000 + Int64(fraction)
        return (local, offsetSeconds)
    }

    /// RFC 3339 in UTC: `2025-01-01T00:00:00Z`, with as many fractional digits as needed (at most six).
    public var rfc3339: String { format(separator: "T", zone: "Z") }

    /// The CSV form: `2025-01-01 00:00:00`, with fractional seconds when there are any.
    public var csv: String { format(separator: " ", zone: "") }

    private func format(separator: Character, zone: String) -> String {
        let (days, micro) = microseconds.floorDivided(by: 86_400_000_000)
        let (year, month, day) = CivilCalendar.civil(fromDays: days)
        let secondOfDay = Int(micro / 1_000_000)
        var fraction = Int(micro % 1_000_000)
        var text = ""
        text.reserveCapacity(32)
        text += pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
        text.append(separator)
        text += pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2)
        if fraction != 0 {
            var width = 6
            while fraction % 10 == 0 {
                fraction /= 10
                width -= 1
            }
            text += "." + pad(fraction, width)
        }
        return text + zone
    }

    private func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let q = self / divisor
        let r = self % divisor
        return r < 0 ? (q - 1, r + divisor) : (q, r)
    }
}

/// Proleptic Gregorian date arithmetic (H. Hinnant's days-from-civil), free of Foundation's calendars.
enum CivilCalendar {
    static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func microseconds(year: Int, month: Int, day: Int) -> Int64 {
        days(year: year, month: month, day: day) * 86_400_000_000
    }

    static func civil(fromDays z0: Int64) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (Int(y), Int(m), Int(d))
    }
}

extension Timestamp {
    public init(_ date: Date) {
        self.init(secondsSince1970: date.timeIntervalSince1970)
    }

    public var date: Date { Date(timeIntervalSince1970: secondsSince1970) }

    public static var now: Timestamp { Timestamp(Date()) }
}
