import Synchronization

/// A store's background work run by the store itself, for tools and tests that use a store outside
/// a service group: started once, cancelled by `stop` (or when the store is released).
final class BackgroundRun: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Runs `work` in a task of its own unless it runs already. `work` must not hold the store, so
    /// that releasing the store stops it.
    func start(_ work: @escaping @Sendable () async -> Void) {
        task.withLock { task in
            guard task == nil else { return }
            task = Task.immediate { await work() }
        }
    }

    func stop() {
        task.withLock { $0?.cancel() }
    }
}
