import Foundation

/// The plant's time zone: how a time written without an offset is read (the original system and
/// its uploaders wrote local wall-clock times), and how the original's answers write times.
/// Storage stays UTC; a time with an offset is that instant whatever the zone.
public struct PlantTimeZone: Sendable, Hashable, CustomStringConvertible {
    public let identifier: String
    /// nil for UTC, which needs no look-up.
    private let zone: TimeZone?

    public static let utc = PlantTimeZone(utc: ())

    private init(utc: Void) {
        identifier = "UTC"
        zone = nil
    }

    /// An IANA zone name (`Asia/Seoul`, `Europe/Berlin`) or `UTC`; nil for a name the system's
    /// zone database does not know.
    public init?(identifier: String) {
        if ["UTC", "Etc/UTC", "Z", "GMT"].contains(identifier) {
            self = .utc
            return
        }
        guard identifier.contains("/"), let zone = TimeZone(identifier: identifier) else { return nil }
        self.identifier = identifier
        self.zone = zone
    }

    public var description: String { identifier }
    public var isUTC: Bool { zone == nil }

    /// Seconds east of UTC at an instant.
    public func offsetSeconds(atUTC microseconds: Int64) -> Int {
        guard let zone else { return 0 }
        return zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(microseconds.floorDividedBy(1_000_000))))
    }

    /// The instant a wall-clock time of this zone names. A time that the clocks skipped (spring
    /// forward) is read with the offset before the change, so it lands after it; a time they passed
    /// twice (fall back) is the earlier instant.
    public func utc(fromLocal local: Int64) -> Int64 {
        guard zone != nil else { return local }
        // Zones change their offset at most once a day: the offsets a day before and a day after
        // are the two candidates, each valid where the instant it gives has that offset.
        let day: Int64 = 86_400_000_000
        let early = Int64(offsetSeconds(atUTC: local - day)) * 1_000_000
        let late = Int64(offsetSeconds(atUTC: local + day)) * 1_000_000
        let a = local - early
        let b = local - late
        let aHolds = Int64(offsetSeconds(atUTC: a)) * 1_000_000 == early
        let bHolds = Int64(offsetSeconds(atUTC: b)) * 1_000_000 == late
        switch (aHolds, bHolds) {
        case (true, true): return min(a, b)
        case (false, true): return b
        default: return a
        }
    }

    /// The instant as RFC 3339 in this zone's local time with its offset
    /// (`2025-04-29T12:34:56+09:00`; UTC as `Z`).
    public func rfc3339(_ t: Timestamp) -> String {
        guard zone != nil else { return t.rfc3339 }
        let offset = offsetSeconds(atUTC: t.microseconds)
        let local = Timestamp(microseconds: t.microseconds + Int64(offset) * 1_000_000).rfc3339.dropLast()
        let sign = offset < 0 ? "-" : "+"
        let minutes = abs(offset) / 60
        return local + sign + String(format: "%02d:%02d", minutes / 60, minutes % 60)
    }

    /// `utc(fromLocal:)` for a stream of times, remembering the offset of the last quarter hour:
    /// zones change their offset on quarter hours, so a file of local times asks the zone database
    /// once per quarter hour it spans instead of once per row.
    public struct Reader: Sendable {
        public let zone: PlantTimeZone
        private var quarter = Int64.min
        private var offset: Int64 = 0

        public init(_ zone: PlantTimeZone) {
            self.zone = zone
        }

        @inline(__always)
        public mutating func utc(fromLocal local: Int64) -> Int64 {
            if zone.isUTC { return local }
            let q = local.floorDividedBy(900_000_000)
            if q != quarter {
                quarter = q
                let start = q * 900_000_000
                offset = start - zone.utc(fromLocal: start)
            }
            return local - offset
        }
    }
}

extension Int64 {
    @inline(__always)
    func floorDividedBy(_ divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }
}
