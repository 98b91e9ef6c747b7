import Synchronization

/// A one-way signal between tasks: unset until `set()`, then set for good.
public final class Latch: Sendable {
    private let value = Mutex(false)

    public init() {}

    public var isSet: Bool { value.withLock { $0 } }

    public func set() { value.withLock { $0 = true } }
}
