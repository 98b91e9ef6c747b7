/// A kind of change to the stored data, as every process using the database may learn it.
public enum StoreChange: String, Sendable, CaseIterable {
    case data
    case diagnosis
    case alarm
}

/// A store that several processes share (PostgreSQL): it announces the changes each of them
/// commits, so that every server can tell its open pages and drop its cached answers. SQLite has
/// no such role: one process writes it.
public protocol ChangeFeed: Sendable {
    /// Calls `changed` for every change committed to this store's schema, by this process or
    /// another, as it commits, until cancelled. A lost connection is made again; once listening (at
    /// first and after each loss) every kind is announced once, for what may have changed unheard.
    func followChanges(_ changed: @escaping @Sendable (StoreChange) -> Void) async
}
