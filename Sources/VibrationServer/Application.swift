import Foundation
import Hummingbird
import NIOCore
import Logging
import OpenAPIHummingbird
import OpenAPIRuntime
import ServiceLifecycle
import VibrationCore
import VibrationPipeline
import VibrationStore

/// The request context of every route: Hummingbird's, plus the client's address.
public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// nil when the request did not come over a socket (in-process tests).
    public let remoteAddress: SocketAddress?
    /// The key the request was made with, once checked.
    public var apiKey: APIKey?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// The whole HTTP application on a given store; `himmes serve` and the tests both start here.
/// Besides the HTTP server it runs, as services shut down with it: the engine (when automatic),
/// the live-event hub and the changes other servers make (on PostgreSQL), the alarm webhook and
/// retention, and `services` given here (the demo's
/// gateways). The store is the caller's: it runs it and closes it.
public func buildApplication(store: any Store, config: ServerConfig, logger: Logger? = nil, services: [any Service] = []) throws
    -> some ApplicationProtocol
{
    let logger = logger ?? {
        var logger = Logger(label: "himmes")
        logger.logLevel = config.logLevel
        return logger
    }()
    let webhook = config.alarmWebhook.map { AlarmWebhook(url: $0, logger: logger) }
    let events = EventHub()
    let metrics = ServerMetrics()
    var engineOptions = config.diagnosis
    if store is any EngineLeases, engineOptions.holder == nil {
        // Servers sharing the database share the engine's work: each names itself (host, process
        // and a random part, so that a restarted process is a new holder) and leases its machines.
        engineOptions.holder = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):\(UInt32.random(in: 0...UInt32.max))"
        engineOptions.tick = engineOptions.tick ?? .seconds(1)
    }
    let engine = DiagnosisService(
        store: store, options: engineOptions, logger: logger,
        alarmSink: webhook.map { hook in { @Sendable alarms in hook.enqueue(alarms) } }, events: events,
        metrics: metrics)
    let router = try buildRouter(
        store: store, config: config,
        changes: Changes(engine: config.automaticDiagnosis ? engine : nil, events: events, metrics: metrics))
    // Shut down in the reverse order, after the HTTP server: the engine finishes its round before
    // the webhook posts what it was handed.
    var ownServices: [any Service] = [events]
    if let feed = store as? any ChangeFeed { ownServices.append(SharedChanges(feed: feed, hub: events)) }
    if let webhook { ownServices.append(webhook) }
    if config.automaticDiagnosis { ownServices.append(engine.automatic) }
    if let period = config.retention {
        ownServices.append(RetentionService(store: store, period: period, interval: .seconds(86_400), logger: logger))
    }
    return Application(
        router: router,
        server: .http1(
            configuration: .init(
                additionalChannelHandlers: [ConnectionDeadlineHandler(limits: config.deadlines)],
                idleTimeout: TimeAmount(config.idleTimeout))),
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "himmes"),
        services: ownServices + services,
        logger: logger)
}

func buildRouter(store: some Store, config: ServerConfig, changes: Changes) throws -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    // Outermost first: CORS headers go on every answer, problems included.
    router.add(middleware: CORSPolicyMiddleware(origins: config.corsOrigins))
    router.add(middleware: SecurityHeadersMiddleware())
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: MetricsMiddleware(metrics: changes.metrics))
    router.add(middleware: LogRequestsMiddleware(.debug))
    router.add(middleware: ServerTimingMiddleware())
    router.add(middleware: ProblemMiddleware())
    router.add(
        middleware: APIKeyMiddleware(
            store: store, requireAuthForReads: config.requireAuthForReads, trustedNetworks: config.trustedNetworks))
    router.add(middleware: JSONBodyMiddleware(maximumBytes: config.maximumJSONBytes))
    DocsController().addRoutes(to: router)
    let dashboard = DashboardController(
        store: store, assets: DashboardAssets(directory: config.assetsDirectory), windowSeconds: config.diagnosis.windowSeconds,
        zone: config.timeZone)
    dashboard.addRoutes(to: router)
    LoginController(store: store, tlsProxies: config.tlsProxies, render: dashboard.page).addRoutes(to: router)
    LiveEventsController(hub: changes.events, lifetime: config.eventStreamLifetime).addRoutes(to: router)
    let imports = ImportSlots(capacity: config.maximumConcurrentImports)
    router.get("/metrics") { _, _ in
        let text = try await changes.metrics.render(store: store, imports: imports, events: changes.events)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: text)))
    }
    let api = VibrationAPI(
        store: store, maximumBodyBytes: config.maximumJSONBytes, changes: changes, diagnosis: config.diagnosis,
        maximumJSONRows: config.maximumJSONRows, zone: config.timeZone)
    var middlewares: [any ServerMiddleware] = [
        ResponseCache(operations: ["listLatestDiagnoses": .diagnosis], events: changes.events),
        ImportLimitMiddleware(slots: imports),
    ]
    if config.compatibility == .original { middlewares.append(OriginalListsMiddleware(store: store, zone: config.timeZone)) }
    middlewares += [BulkJSONFastPath(upload: api.bulk, maximumBytes: config.maximumJSONBytes), WaveformFastPath(api: api)]
    try api.registerHandlers(
        on: router, serverURL: try Servers.Server1.url(),
        configuration: .init(dateTranscoder: RFC3339DateTranscoder(), jsonEncodingOptions: [.sortedKeys]),
        middlewares: middlewares)
    return router
}


