import Hummingbird
import Prometheus
import Synchronization
import VibrationCore
import VibrationStore

/// What `/metrics` reports, in Prometheus' text format: requests per route (count and latency
/// histogram), rows stored, duplicate and rejected, diagnoses per fault type, and at each scrape the
/// open alarms, the database's size and connections, uploads in flight and open event streams.
/// Each application has its own registry, so that several can run in one process (the tests).
public final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let routes = Mutex<[RouteKey: RouteMetrics]>([:])
    private let inFlight: Gauge

    static let latencyBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10),
    ]

    public init() {
        inFlight = registry.makeGauge(
            descriptor: .init(namespace: "himmes", metricName: "http_requests_in_flight", unitName: "", helpText: "Requests being handled now."))
    }

    struct RouteKey: Hashable {
        var route: String
        var method: HTTPRequest.Method
        var status: Int
    }

    struct RouteMetrics {
        let count: Counter
        let latency: DurationHistogram
    }

    func requestStarted() { inFlight.increment() }

    func requestFinished(route: String, method: HTTPRequest.Method, status: HTTPResponse.Status, duration: Duration) {
        inFlight.decrement()
        let key = RouteKey(route: route, method: method, status: Int(status.code))
        let metrics = routes.withLock { cache in
            if let known = cache[key] { return known }
            let made = RouteMetrics(
                count: registry.makeCounter(
                    descriptor: .init(namespace: "himmes", metricName: "http_requests", unitName: "total", helpText: "Requests answered, by route, method and status."),
                    labels: [("route", route), ("method", method.rawValue), ("status", String(key.status))]),
                latency: registry.makeDurationHistogram(
                    descriptor: .init(namespace: "himmes", metricName: "http_request_duration", unitName: "seconds", helpText: "Time from the request to its answer (to the first byte of a streamed answer), by route and method."),
                    labels: [("route", route), ("method", method.rawValue)], buckets: Self.latencyBuckets))
            cache[key] = made
            return made
        }
        metrics.count.increment()
        metrics.latency.record(duration)
    }

    /// Rows of an upload or a single write: stored, already stored, refused.
    func ingested(table: String, inserted: Int, duplicates: Int, rejected: Int) {
        for (result, count) in [("inserted", inserted), ("duplicate", duplicates), ("rejected", rejected)] where count > 0 {
            registry.makeCounter(
                descriptor: .init(namespace: "himmes", metricName: "ingested_rows", unitName: "total", helpText: "Rows received, by table and what became of them."),
                labels: [("table", table), ("result", result)]
            ).increment(by: Int64(count))
        }
    }

    /// Diagnoses stored, by fault type and by who made them (the engine or an API client).
    func diagnosed(_ byFault: [FaultType: Int], source: String) {
        for (fault, count) in byFault where count > 0 {
            registry.makeCounter(
                descriptor: .init(namespace: "himmes", metricName: "diagnoses", unitName: "total", helpText: "Diagnoses stored, by fault type (0 normal, 1 mass unbalance, 2 support looseness, 3 both) and source."),
                labels: [("fault_type", String(fault.rawValue)), ("source", source)]
            ).increment(by: Int64(count))
        }
    }

    /// The exposition, with the figures read at scrape time brought up to date first.
    func render(store: some Store, imports: ImportSlots, events: EventHub) async throws -> [UInt8] {
        let statistics = try await store.statistics()
        func gauge(_ name: String, _ help: String, _ value: Int, labels: [(String, String)] = []) {
            registry.makeGauge(descriptor: .init(namespace: "himmes", metricName: name, unitName: "", helpText: help), labels: labels).set(to: Double(value))
        }
        gauge("alarms_open", "Alarms not yet closed.", statistics.openAlarms)
        gauge("database_size_bytes", "Size of the database on disk, by file.", statistics.databaseBytes, labels: [("file", "main")])
        gauge("database_size_bytes", "Size of the database on disk, by file.", statistics.walBytes, labels: [("file", "wal")])
        gauge("database_connections_max", "Connections the store may hold open at once (readers and the writer).", statistics.maximumConnections)
        gauge("imports_in_flight", "Bulk uploads being stored now.", imports.busy)
        gauge("imports_max", "Bulk uploads taken at once before 429.", imports.capacity)
        gauge("event_streams_open", "Dashboards listening on /events.", events.subscriberCount)
        return registry.emitToBuffer()
    }
}

/// Counts and times every request by its route (the pattern, not the path, so that series stay few).
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        metrics.requestStarted()
        do {
            let response = try await next(request, context)
            metrics.requestFinished(
                route: context.endpointPath ?? "NotFound", method: request.method, status: response.status, duration: .now - started)
            return response
        } catch {
            let status = Problem(from: error).status
            metrics.requestFinished(route: context.endpointPath ?? "NotFound", method: request.method, status: status, duration: .now - started)
            throw error
        }
    }
}
