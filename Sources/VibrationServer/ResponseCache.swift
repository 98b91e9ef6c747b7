import Foundation
import HTTPTypes
import OpenAPIRuntime
import Synchronization

/// Keeps the encoded answer of hot reads that only change when something is written: the latest
/// diagnosis per machine, polled by every dashboard and MES client. An answer is reused while no
/// change of its kind was published in this process since it was made, and for at most `maximumAge`,
/// which bounds staleness from writers outside the process (the CLI on the same database).
final class ResponseCache: ServerMiddleware {
    struct Entry {
        var generation: Int
        var made: ContinuousClock.Instant
        var response: HTTPResponse
        var body: [UInt8]
    }

    /// Which operations are cached, and which kind of change makes their answers old.
    let operations: [String: LiveEvent]
    let events: EventHub
    let maximumAge: Duration
    /// Distinct queries kept per operation; beyond that the cache starts over.
    let capacity = 1_000
    private let entries = Mutex<[String: Entry]>([:])

    init(operations: [String: LiveEvent], events: EventHub, maximumAge: Duration = .seconds(1)) {
        self.operations = operations
        self.events = events
        self.maximumAge = maximumAge
    }

    /// Answers being made now, by key: concurrent misses wait for the one being made instead of
    /// each asking the database (after every write, all polling clients miss at once).
    private let inFlight = Mutex<[String: Flight]>([:])

    /// One answer being made, and the requests waiting for it.
    final class Flight: Sendable {
        private let state = Mutex<(done: Bool, entry: Entry?, waiters: [CheckedContinuation<Entry?, Never>])>((false, nil, []))

        func wait() async -> Entry? {
            await withCheckedContinuation { continuation in
                let ready: Entry?? = state.withLock { state in
                    if state.done { return .some(state.entry) }
                    state.waiters.append(continuation)
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }

        func finish(_ entry: Entry?) {
            let waiters = state.withLock { state in
                state.done = true
                state.entry = entry
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: entry) }
        }
    }

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        guard request.method == .get, let kind = operations[operationID] else { return try await next(request, body, metadata) }
        let key = operationID + " " + (request.path ?? "")
        let generation = events.generation(of: kind)
        let now = ContinuousClock.now
        if let hit = entries.withLock({ $0[key] }), hit.generation == generation, now - hit.made < maximumAge {
            return (hit.response, HTTPBody(hit.body))
        }
        // One request makes the answer; the others that missed meanwhile wait for it.
        let flight = Flight()
        let running = inFlight.withLock { flights -> Flight? in
            if let running = flights[key] { return running }
            flights[key] = flight
            return nil
        }
        if let running {
            if let entry = await running.wait(), entry.generation == generation {
                return (entry.response, HTTPBody(entry.body))
            }
            return try await next(request, body, metadata)
        }
        var made: Entry?
        defer {
            _ = inFlight.withLock { $0.removeValue(forKey: key) }
            flight.finish(made)
        }
        let (response, answer) = try await next(request, body, metadata)
        guard response.status == .ok, let answer else { return (response, answer) }
        let bytes = try await [UInt8](collecting: answer, upTo: 16 << 20)
        let entry = Entry(generation: generation, made: now, response: response, body: bytes)
        made = entry
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll() }
            entries[key] = entry
        }
        return (response, HTTPBody(bytes))
    }
}
