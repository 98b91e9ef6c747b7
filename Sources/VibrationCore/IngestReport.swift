/// What a bulk load did: the summary `himmes import` prints and `POST /vibration-data/bulk` answers.
public struct IngestReport: Sendable, Hashable, Codable {
    /// Data rows read (header and blank lines not counted).
    public var received = 0
    /// Rows newly stored.
    public var inserted = 0
    /// Rows whose identity was already stored, and so skipped.
    public var duplicates = 0
    /// Rows refused; the first of them are listed in `errors`.
    public var rejected = 0
    public var errors: [RowError] = []
    public var elapsedSeconds = 0.0

    /// How many rejected rows a report lists; the rest are only counted.
    public static let listedErrors = 100

    public init() {}

    public var rowsPerSecond: Double { elapsedSeconds > 0 ? Double(received) / elapsedSeconds : 0 }

    public mutating func record(_ rejected: [RowError]) {
        self.rejected += rejected.count
        let room = Self.listedErrors - errors.count
        if room > 0 { errors += rejected.prefix(room) }
    }

    enum CodingKeys: String, CodingKey {
        case received, inserted, duplicates, rejected, errors
        case elapsedSeconds = "elapsed_s"
    }
}

/// How many rows of a batch a store took and how many it already had.
public struct IngestCounts: Sendable, Hashable {
    public var inserted = 0
    public var duplicates = 0

    public init(inserted: Int = 0, duplicates: Int = 0) {
        self.inserted = inserted
        self.duplicates = duplicates
    }

    public static func += (lhs: inout IngestCounts, rhs: IngestCounts) {
        lhs.inserted += rhs.inserted
        lhs.duplicates += rhs.duplicates
    }
}

extension Duration {
    /// The duration as a number of seconds.
    public var inSeconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
