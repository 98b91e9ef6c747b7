import Foundation

/// Runs blocking work (waiting on a child process, a socket, a pipe) on a thread of its own.
///
/// Swift concurrency's pool has one thread per core: on a two-core machine two tests blocked in
/// `poll` or `waitpid` on it would stall every other test, and the servers they run in process,
/// so that a timeout measured elsewhere in the suite fires seconds late.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}
