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
        let (response, answer) = try await next(request, body, metadata)
        guard response.status == .ok, let answer else { return (response, answer) }
        let bytes = try await [UInt8](collecting: answer, upTo: 16 << 20)
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll() }
            entries[key] = Entry(generation: generation, made: now, response: response, body: bytes)
        }
        return (response, HTTPBody(bytes))
    }
}
