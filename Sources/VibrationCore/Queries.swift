/// Which samples a list asks for. Bounds are inclusive.
public struct SampleFilter: Hashable, Sendable {
    public var machineName: String?
    public var sensorNo: String?
    public var from: Timestamp?
    public var to: Timestamp?
    /// Oldest first (the default) or newest first; a cursor continues in the order it was made in.
    public var order: ListOrder

    public init(
        machineName: String? = nil, sensorNo: String? = nil, from: Timestamp? = nil, to: Timestamp? = nil,
        order: ListOrder = .oldestFirst
    ) {
        self.machineName = machineName
        self.sensorNo = sensorNo
        self.from = from
        self.to = to
        self.order = order
    }

    public func validated() throws(ValidationError) -> SampleFilter {
        try Page.checkRange(from: from, to: to)
        return self
    }
}

/// Which diagnoses a list asks for. Bounds are inclusive.
public struct DiagnosisFilter: Hashable, Sendable {
    public var machineName: String?
    public var faultType: FaultType?
    public var from: Timestamp?
    public var to: Timestamp?
    public var order: ListOrder

    public init(
        machineName: String? = nil, faultType: FaultType? = nil, from: Timestamp? = nil, to: Timestamp? = nil,
        order: ListOrder = .oldestFirst
    ) {
        self.machineName = machineName
        self.faultType = faultType
        self.from = from
        self.to = to
        self.order = order
    }

    public func validated() throws(ValidationError) -> DiagnosisFilter {
        try Page.checkRange(from: from, to: to)
        return self
    }
}

/// The time order of a list.
public enum ListOrder: String, Hashable, Sendable, CaseIterable {
    case oldestFirst = "asc"
    case newestFirst = "desc"

    /// SQL's keyword for the order, and the comparison that continues after a cursor.
    public var sql: (keyword: String, after: String) { self == .oldestFirst ? ("ASC", ">") : ("DESC", "<") }
}

/// Where the previous page of samples ended: the order is (collected_at, measured_time, id).
public struct SampleCursor: Hashable, Sendable {
    public var collectedAt: Timestamp
    public var measuredTime: Double
    public var id: Int64

    public init(collectedAt: Timestamp, measuredTime: Double, id: Int64) {
        self.collectedAt = collectedAt
        self.measuredTime = measuredTime
        self.id = id
    }

    public init(after row: StoredSample) {
        self.init(collectedAt: row.sample.collectedAt, measuredTime: row.sample.measuredTime, id: row.id)
    }

    /// Opaque to clients; the measured time travels as its bit pattern so that the next page
    /// starts exactly where this one ended.
    public var token: String {
        "s" + [String(collectedAt.microseconds, radix: 16), String(measuredTime.bitPattern, radix: 16), String(id, radix: 16)]
            .joined(separator: ".")
    }

    public init(token: String) throws(ValidationError) {
        let parts = token.dropFirst().split(separator: ".", omittingEmptySubsequences: false)
        guard token.first == "s", parts.count == 3,
            let micro = Int64(parts[0], radix: 16), let bits = UInt64(parts[1], radix: 16),
            let id = Int64(parts[2], radix: 16), Page.isCursorTime(micro), Double(bitPattern: bits).isFinite
        else { throw Page.badCursor }
        self.init(collectedAt: Timestamp(microseconds: micro), measuredTime: Double(bitPattern: bits), id: id)
    }
}

/// Where the previous page of diagnoses ended: the order is (detected_at, id).
public struct DiagnosisCursor: Hashable, Sendable {
    public var detectedAt: Timestamp
    public var id: Int64

    public init(detectedAt: Timestamp, id: Int64) {
        self.detectedAt = detectedAt
        self.id = id
    }

    public init(after row: StoredDiagnosis) {
        self.init(detectedAt: row.diagnosis.detectedAt, id: row.id)
    }

    public var token: String {
        "d" + String(detectedAt.microseconds, radix: 16) + "." + String(id, radix: 16)
    }

    public init(token: String) throws(ValidationError) {
        let parts = token.dropFirst().split(separator: ".", omittingEmptySubsequences: false)
        guard token.first == "d", parts.count == 2,
            let micro = Int64(parts[0], radix: 16), let id = Int64(parts[1], radix: 16), Page.isCursorTime(micro)
        else { throw Page.badCursor }
        self.init(detectedAt: Timestamp(microseconds: micro), id: id)
    }
}

/// The paging rules every list shares.
public enum Page {
    public static let defaultLimit = 100
    public static let maximumLimit = 10_000

    static let badCursor = ValidationError(
        field: "cursor", message: "is not a cursor this server gave out; pass the next_cursor of the previous page")

    /// A cursor names a stored row, whose time is within the calendar: any other is forged, and
    /// would carry a time no database arithmetic is ready for.
    static func isCursorTime(_ microseconds: Int64) -> Bool {
        (Timestamp.earliest.microseconds...Timestamp.latest.microseconds).contains(microseconds)
    }

    public static func limit(_ requested: Int?) throws(ValidationError) -> Int {
        guard let requested else { return defaultLimit }
        guard (1...maximumLimit).contains(requested) else {
            throw ValidationError(field: "limit", message: "must be between 1 and \(maximumLimit), got \(requested)")
        }
        return requested
    }

    static func checkRange(from: Timestamp?, to: Timestamp?) throws(ValidationError) {
        if let from, let to, from > to {
            throw ValidationError(field: "from", message: "must not be later than to (\(from) > \(to))")
        }
    }
}
