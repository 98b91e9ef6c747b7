import Foundation
import HTTPTypes
import Hummingbird
import ServiceLifecycle
import Synchronization
import VibrationCore
import VibrationPipeline
import VibrationStore

/// What changed in the store, as open dashboard pages learn it through `/events`.
public enum LiveEvent: String, Sendable, CaseIterable {
    case data
    case diagnosis
    case alarm
}

/// Fans changes out to every open `/events` stream. Bursts are coalesced: each kind of event goes
/// out at most once per `spacing`, and the last of a burst is never lost. As a service it sends the
/// events held back by the spacing when their time comes.
public final class EventHub: Service {
    private struct State {
        /// Each open stream; it also carries nil, the heartbeat.
        var subscribers: [UUID: AsyncStream<LiveEvent?>.Continuation] = [:]
        var lastSent: [LiveEvent: ContinuousClock.Instant] = [:]
        var deferred: Set<LiveEvent> = []
        /// How many times each kind of change was published; cached answers compare it.
        var generation: [LiveEvent: Int] = [:]

        mutating func send(_ event: LiveEvent, at now: ContinuousClock.Instant) {
            lastSent[event] = now
            for subscriber in subscribers.values { subscriber.yield(event) }
        }
    }

    private let state = Mutex(State())
    /// Events held back, with when they are due.
    private let held = AsyncStream.makeStream(of: (event: LiveEvent, due: ContinuousClock.Instant).self)
    let spacing: Duration

    public init(spacing: Duration = .milliseconds(250)) {
        self.spacing = spacing
    }

    public func publish(_ event: LiveEvent) {
        let now = ContinuousClock.now
        let due: ContinuousClock.Instant? = state.withLock { state in
            state.generation[event, default: 0] += 1
            if state.deferred.contains(event) { return nil }
            let since = state.lastSent[event].map { now - $0 } ?? spacing
            if since >= spacing {
                state.send(event, at: now)
                return nil
            }
            state.deferred.insert(event)
            return now + (spacing - since)
        }
        if let due { held.continuation.yield((event, due)) }
    }

    public func run() async throws {
        for await (event, due) in held.stream.cancelOnGracefulShutdown() {
            try? await Task.sleep(until: due)
            state.withLock { state in
                state.deferred.remove(event)
                state.send(event, at: .now)
            }
        }
    }

    /// Changes of a kind published so far in this process.
    func generation(of event: LiveEvent) -> Int { state.withLock { $0.generation[event, default: 0] } }

    /// Streams open now.
    var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// A stream of the events published from now on; `beat` puts a heartbeat (nil) in it, `end`
    /// closes it.
    func subscribe() -> (events: AsyncStream<LiveEvent?>, beat: @Sendable () -> Void, end: @Sendable () -> Void) {
        let id = UUID()
        let (events, output) = AsyncStream.makeStream(of: LiveEvent?.self, bufferingPolicy: .bufferingNewest(8))
        state.withLock { $0.subscribers[id] = output }
        output.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
        }
        return (events, { output.yield(nil) }, { output.finish() })
    }
}

/// Changes committed through other servers sharing the database, passed to this server's hub: its
/// open pages hear of them and its cached answers are dropped, as for changes made here.
struct SharedChanges: Service {
    let feed: any ChangeFeed
    let hub: EventHub

    func run() async throws {
        await cancelWhenGracefulShutdown { [hub] in
            await feed.followChanges { change in
                if let event = LiveEvent(rawValue: change.rawValue) { hub.publish(event) }
            }
        }
    }
}

/// Where the handlers report what they stored: the engine is told of new samples, open pages of
/// everything.
struct Changes: Sendable {
    let engine: DiagnosisService?
    let events: EventHub
    let metrics: ServerMetrics

    func samplesStored() {
        events.publish(.data)
        engine?.notify()
    }

    /// What became of the rows of a sample upload, for `/metrics`.
    func samplesReceived(_ report: IngestReport) {
        metrics.ingested(table: "vibration_data", inserted: report.inserted, duplicates: report.duplicates, rejected: report.rejected)
    }

    /// Diagnoses stored through the API.
    func diagnosesStored(_ faults: [FaultType], rejected: Int = 0) {
        metrics.ingested(table: "vibration_diagnosis", inserted: faults.count, duplicates: 0, rejected: rejected)
        metrics.diagnosed(Dictionary(grouping: faults, by: { $0 }).mapValues(\.count), source: "api")
        if !faults.isEmpty { events.publish(.diagnosis) }
    }

    func alarmsChanged() { events.publish(.alarm) }
}

/// `GET /events`: Server-Sent Events for the dashboard. Each event names what changed (`data`,
/// `diagnosis`, `alarm`) and carries the server time; a comment line every 15 s keeps the
/// connection alive. The stream ends after `lifetime`, and the browser reconnects by itself; it also
/// ends when the server begins a graceful shutdown, which would otherwise wait for it.
struct LiveEventsController {
    let hub: EventHub
    let lifetime: Duration

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/events") { _, _ in
            let (events, beat, end) = hub.subscribe()
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-store", HTTPField.Name("X-Accel-Buffering")!: "no"],
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: "retry: 2000\n: connected\n\n"))
                    try await withGracefulShutdownHandler {
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            // The heartbeat, so that proxies and the client see a live connection; it
                            // ends the stream when its lifetime is over.
                            group.addTask {
                                let clock = ContinuousClock()
                                let deadline = clock.now + lifetime
                                var pause = min(.seconds(15), lifetime)
                                while clock.now < deadline {
                                    try await Task.sleep(for: pause)
                                    beat()
                                    pause = min(.seconds(15), deadline - clock.now)
                                }
                                end()
                            }
                            for await event in events {
                                if let event {
                                    try await writer.write(
                                        ByteBuffer(string: "event: \(event.rawValue)\ndata: {\"at\":\"\(Timestamp.now.rfc3339)\"}\n\n"))
                                } else {
                                    try await writer.write(ByteBuffer(string: ": alive\n\n"))
                                }
                            }
                            group.cancelAll()
                        }
                    } onGracefulShutdown: {
                        end()
                    }
                    try await writer.finish(nil)
                })
        }
    }
}
