#ifndef CSQLITESETTINGS_H
#define CSQLITESETTINGS_H

/// Process-wide SQLite settings that must be made before the first connection opens, through
/// `sqlite3_config`, a C variadic function Swift cannot call.
///
/// - Multi-thread mode: no mutex around each call on a connection. GRDB already gives every
///   connection to one thread at a time, which is all this mode asks.
/// - No memory statistics: without them, allocations take no process-wide mutex, so readers and
///   the writer stop waiting on each other for every allocation.
///
/// Returns 0 when both settings took effect; SQLite's error code otherwise (SQLITE_MISUSE when a
/// connection was opened before), in which case SQLite keeps its defaults, slower but correct.
int himmes_sqlite_configure(void);

#endif
