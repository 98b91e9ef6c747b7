import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import VibrationPipeline
import VibrationServer
import VibrationStore

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP API (OpenAPI docs at /docs) and the dashboard, on SQLite or PostgreSQL.")

    @OptionGroup var database: DatabaseOptions

    @Option(name: .long, help: "Address to listen on. [env: HIMMES_HOST] (default: 127.0.0.1)")
    var host: String?

    @Option(name: .long, help: "Port to listen on. [env: HIMMES_PORT] (default: 8080)")
    var port: Int?

    @Option(
        name: .customLong("cors-origin"),
        help: """
            Origin allowed to read and write from a browser; repeat for several, or '*' for any. \
            Without one, any origin may read and none may write. [env: HIMMES_CORS_ORIGINS, comma-separated]
            """)
    var corsOrigins: [String] = []

    @Option(help: "URL to POST each opened alarm to, as JSON, with retries. [env: HIMMES_ALARM_WEBHOOK]")
    var alarmWebhook: String?

    @Option(help: "Consecutive windows that must agree before a machine's state changes. (default: 3)")
    var confirmations: Int?

    @Option(
        help: """
            Folder holding chart.min.js (Chart.js 3.9.1) for the dashboard. Default: the distribution's \
            copy under /usr/share/javascript/chart.js when installed, else the CDN. [env: HIMMES_ASSETS_DIR]
            """)
    var assetsDir: String?

    @Flag(
        help: """
            Reads need an API key too (a read-only one is enough): API clients send 'Authorization: Bearer KEY', \
            browsers sign in at /login. Probes (/health, /ready) and the API docs stay open. [env: HIMMES_REQUIRE_AUTH_FOR_READS]
            """)
    var requireAuthForReads = false

    @Option(
        help: """
            'original': GET /vibration-data and GET /vibration-diagnosis answer the original system's plain \
            arrays (every row, streamed), for a plant whose dashboards and scripts read them. \
            [env: HIMMES_COMPAT] (default: current)
            """)
    var compat: String?

    @Option(
        help: """
            IANA time zone of the plant (Asia/Seoul, Europe/Berlin): times sent without an offset are its local \
            times, as the original system's clients send them; storage stays UTC. [env: HIMMES_TIME_ZONE] (default: UTC)
            """)
    var timeZone: String?

    @Option(
        name: .customLong("trust-network"),
        help: """
            Network (CIDR, or one address) whose writes need no API key while none is presented, for a plant's \
            uploaders that cannot send one; repeat for several. A key that is sent is still checked. \
            [env: HIMMES_TRUST_NETWORKS, comma-separated]
            """)
    var trustNetworks: [String] = []

    @Option(
        name: .customLong("tls-proxy"),
        help: """
            Address or network (CIDR) of a reverse proxy that ends TLS in front of the server; repeat for several. \
            Requests from it with 'X-Forwarded-Proto: https' get a Secure sign-in cookie. \
            [env: HIMMES_TLS_PROXIES, comma-separated]
            """)
    var tlsProxies: [String] = []

    @Option(help: "Largest JSON request body in bytes; larger ones get 413. [env: HIMMES_MAX_JSON_BYTES] (default: 67108864)")
    var maxJsonBytes: Int?

    @Option(help: "Most rows in one JSON array upload; more get 413 (CSV and NDJSON stream without a limit). [env: HIMMES_MAX_JSON_ROWS] (default: 100000)")
    var maxJsonRows: Int?

    @Option(help: "Bulk uploads handled at once; more get 429 with Retry-After. [env: HIMMES_MAX_CONCURRENT_IMPORTS] (default: 32)")
    var maxConcurrentImports: Int?

    @Option(help: "Seconds a connection may wait between requests, or for a request's headers, before it is closed. [env: HIMMES_IDLE_TIMEOUT] (default: 75)")
    var idleTimeout: Int?

    @Option(
        help: """
            Keep the samples of this period only (90d, 36h, 2w): older ones are pruned at start and then daily; \
            diagnoses and alarms are kept. [env: HIMMES_RETENTION] (default: keep everything)
            """)
    var retention: RetentionPeriod?

    @Option(help: "Seconds a request's body may stall before the request is dropped. [env: HIMMES_BODY_TIMEOUT] (default: 60)")
    var bodyTimeout: Int?

    @Flag(help: "Do not diagnose arriving data (himmes diagnose can do it later).")
    var noAutoDiagnose = false

    @Flag(
        help: """
            Start on a fresh database in a temporary folder (unless --db is given) with a living demo \
            plant of twelve machines on three lines: three hours of history, then live data every second \
            through the bulk API; within minutes machines develop faults, one is repaired, and alarms \
            open and close.
            """)
    var demo = false

    @OptionGroup var logging: LoggingOptions

    func config() throws -> ServerConfig {
        let portText = port.map(String.init) ?? Environment.value(flag: nil, variable: "HIMMES_PORT", default: "8080")
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ValidationError("port must be a number from 0 to 65535, got '\(portText)'")
        }
        var diagnosis = DiagnosisService.Options()
        if let confirmations {
            guard confirmations >= 1 else { throw ValidationError("--confirmations must be at least 1") }
            diagnosis.confirmations = confirmations
        }
        let webhook = alarmWebhook ?? ProcessInfo.processInfo.environment["HIMMES_ALARM_WEBHOOK"].flatMap { $0.isEmpty ? nil : $0 }
        if let webhook, URL(string: webhook)?.scheme.map({ ["http", "https"].contains($0) }) != true {
            throw ValidationError("--alarm-webhook must be an http or https URL, got '\(webhook)'")
        }
        var config = ServerConfig(
            host: Environment.value(flag: host, variable: "HIMMES_HOST", default: "127.0.0.1"),
            port: port,
            databasePath: demo && database.db == nil ? Self.demoDatabasePath() : database.path,
            corsOrigins: Environment.list(flag: corsOrigins, variable: "HIMMES_CORS_ORIGINS"),
            logLevel: try logging.level(), automaticDiagnosis: !noAutoDiagnose, diagnosis: diagnosis,
            alarmWebhook: webhook,
            assetsDirectory: assetsDir ?? ProcessInfo.processInfo.environment["HIMMES_ASSETS_DIR"].flatMap { $0.isEmpty ? nil : $0 })
        func networks(_ flag: [String], _ variable: String, _ name: String) throws -> [NetworkRange] {
            try Environment.list(flag: flag, variable: variable).map { text in
                guard let range = NetworkRange(text) else {
                    throw ValidationError("\(name) must be an IP address or a network in CIDR notation (10.0.0.0/8), got '\(text)'")
                }
                return range
            }
        }
        let compatText = compat ?? Environment.value(flag: nil, variable: "HIMMES_COMPAT", default: "current")
        guard let compatibility = APICompatibility(rawValue: compatText) else {
            throw ValidationError("--compat must be current or original, got '\(compatText)'")
        }
        config.compatibility = compatibility
        config.timeZone = try Environment.timeZone(flag: timeZone)
        config.tlsProxies = try networks(tlsProxies, "HIMMES_TLS_PROXIES", "--tls-proxy")
        config.trustedNetworks = try networks(trustNetworks, "HIMMES_TRUST_NETWORKS", "--trust-network")
        config.requireAuthForReads = Environment.flag(requireAuthForReads, variable: "HIMMES_REQUIRE_AUTH_FOR_READS")
        config.maximumJSONBytes = try Environment.integer(
            flag: maxJsonBytes, variable: "HIMMES_MAX_JSON_BYTES", default: config.maximumJSONBytes, minimum: 1024, name: "--max-json-bytes")
        config.maximumJSONRows = try Environment.integer(
            flag: maxJsonRows, variable: "HIMMES_MAX_JSON_ROWS", default: config.maximumJSONRows, minimum: 1, name: "--max-json-rows")
        config.maximumConcurrentImports = try Environment.integer(
            flag: maxConcurrentImports, variable: "HIMMES_MAX_CONCURRENT_IMPORTS", default: config.maximumConcurrentImports,
            minimum: 1, name: "--max-concurrent-imports")
        config.idleTimeout = .seconds(
            try Environment.integer(
                flag: idleTimeout, variable: "HIMMES_IDLE_TIMEOUT", default: Int(config.idleTimeout.components.seconds), minimum: 1,
                name: "--idle-timeout"))
        config.bodyTimeout = .seconds(
            try Environment.integer(
                flag: bodyTimeout, variable: "HIMMES_BODY_TIMEOUT", default: Int(config.bodyTimeout.components.seconds), minimum: 1,
                name: "--body-timeout"))
        if let retention {
            config.retention = retention.duration
        } else if let text = ProcessInfo.processInfo.environment["HIMMES_RETENTION"], !text.isEmpty {
            guard let period = RetentionPeriod(argument: text) else {
                throw ValidationError("HIMMES_RETENTION must be a number and a unit (h, d or w), as in 90d; got '\(text)'")
            }
            config.retention = period.duration
        }
        return config
    }

    static func demoDatabasePath() -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("himmes-demo-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent("demo.sqlite").path
    }

    func run() async throws {
        let config = try config()
        let logger = try logging.bootstrap()
        // The store runs beside the application and stops after it: the application's services
        // (engine, webhook, retention, the demo) finish their work on it first.
        try await StoreLocation.withStore(config.databasePath, logger: logger) { store in
            var services: [any Service] = []
            if demo {
                // A plant that is alive: its history, then live data, through the public bulk API as
                // edge gateways would send them, with a key of its own.
                let host = config.host == "0.0.0.0" ? "127.0.0.1" : config.host
                let name = "demo-gateway-\(UUID().uuidString.prefix(8).lowercased())"
                let (_, secret) = try await store.createKey(name: name, readOnly: false)
                let stream = DemoStream(url: "http://\(host):\(config.port)", historyHours: 3, apiKey: secret, logger: logger)
                try await stream.register(in: store)
                logger.notice("the demo's gateways write with the key \(secret) (Authorization: Bearer KEY); use it for your own writes too")
                services.append(stream)
            } else if try await !store.hasKeys() {
                logger.warning(
                    "no API key exists: writes are taken from this machine only; make one with 'himmes keys create --name NAME' and send it as 'Authorization: Bearer KEY'"
                )
            }
            let app = try buildApplication(store: store, config: config, logger: logger, services: services)
            announce(config, logger: logger)
            try await app.runService()
        }
        if demo && database.db == nil {
            // The demo's own temporary database goes with it (it grows by gigabytes an hour).
            try? FileManager.default.removeItem(atPath: (config.databasePath as NSString).deletingLastPathComponent)
            logger.notice("removed the demo database")
        }
    }

    /// What the server's settings mean for its users, in the log as it starts.
    func announce(_ config: ServerConfig, logger: Logger) {
        let shownHost = config.host == "0.0.0.0" ? "localhost" : config.host
        logger.notice("times without an offset are read as local times of \(config.timeZone)", metadata: ["time_zone": "\(config.timeZone)"])
        if config.compatibility == .original {
            logger.notice("GET /vibration-data and GET /vibration-diagnosis answer the original system's plain arrays (--compat original)")
        }
        if !config.trustedNetworks.isEmpty {
            logger.warning(
                "writes from these networks need no API key while none is presented (--trust-network)",
                metadata: ["networks": "\(config.trustedNetworks)"])
        }
        if !config.tlsProxies.isEmpty {
            logger.notice("sign-in cookies are Secure for requests from these TLS proxies", metadata: ["proxies": "\(config.tlsProxies)"])
        }
        if config.requireAuthForReads {
            logger.notice("reads need an API key (--require-auth-for-reads): browsers sign in at /login; /health, /ready and /docs stay open")
        }
        logger.notice(
            "HIM-MES is up: open http://\(shownHost):\(config.port)/ (API docs at /docs)",
            metadata: ["database": .string(StoreLocation.display(config.databasePath))])
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the database or bring its schema up to date, then list the migrations.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = try logging.bootstrap()
        try await database.withStore(logger: logger) { store in
            for migration in try await store.migrationStatus() {
                print("\(migration.applied ? "applied" : "pending") \(migration.name)")
            }
            print("\(StoreLocation.display(database.path)) is up to date")
        }
    }
}
