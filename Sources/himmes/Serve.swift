import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import VibrationCore
import VibrationPipeline
import VibrationServer
import VibrationStore

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP API (OpenAPI docs at /docs) and the dashboard, on SQLite or PostgreSQL.")

    @OptionGroup var database: DatabaseOptions

    @Option(
        name: .customLong("config"),
        help: """
            YAML file of settings, keyed by the flags' names (port: 8080, time-zone: Asia/Seoul, cors-origins: [...]). \
            A flag wins over its environment variable, which wins over the file. [env: HIMMES_CONFIG]
            """)
    var configFile: String?

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

    @Option(
        name: .customLong("read-db"),
        help: """
            postgres:// URL of a streaming-replication standby of --db: the dashboard and the list endpoints read \
            from it (writes, the engine and API keys stay on --db); while it does not answer, they read from \
            --db. [env: HIMMES_READ_DB]
            """)
    var readDatabase: String?

    @Option(help: "Consecutive windows that must agree before a machine's state changes. [env: HIMMES_CONFIRMATIONS] (default: 3)")
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

    @Flag(help: "Do not diagnose arriving data (himmes diagnose can do it later). [env: HIMMES_AUTO_DIAGNOSE=false]")
    var noAutoDiagnose = false

    @Flag(
        help: """
            Start on a fresh database in a temporary folder, removed at the end (unless --db, HIMMES_DB or the config file names one) with a living demo \
            plant of twelve machines on three lines: three hours of history, then live data every second \
            through the bulk API; within minutes machines develop faults, one is repaired, and alarms \
            open and close.
            """)
    var demo = false

    @Flag(help: "Print each setting's value and where it came from (flag, environment, config file, default), then exit.")
    var showConfig = false

    @OptionGroup var logging: LoggingOptions

    /// The settings given as flags; the rest come from the environment, the config file and the
    /// defaults (`Settings`).
    func settings(environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> Settings {
        try await Settings(
            flags: [
                "db": database.db, "host": host, "port": port.map(String.init), "log-level": logging.logLevel,
                "alarm-webhook": alarmWebhook, "confirmations": confirmations.map(String.init), "assets-dir": assetsDir,
                "require-auth-for-reads": requireAuthForReads ? "true" : nil, "compat": compat, "time-zone": timeZone,
                "max-json-bytes": maxJsonBytes.map(String.init), "max-json-rows": maxJsonRows.map(String.init),
                "max-concurrent-imports": maxConcurrentImports.map(String.init), "idle-timeout": idleTimeout.map(String.init),
                "body-timeout": bodyTimeout.map(String.init), "retention": retention?.text, "auto-diagnose": noAutoDiagnose ? "false" : nil,
                "read-db": readDatabase,
            ],
            lists: ["cors-origins": corsOrigins, "trust-networks": trustNetworks, "tls-proxies": tlsProxies],
            environment: environment, file: configFile)
    }

    func config(environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> ServerConfig {
        let settings = try await settings(environment: environment)
        var config = ServerConfig(host: try await settings.string("host") ?? "127.0.0.1", port: 8080, databasePath: "")
        config.port = try await settings.integer("port", default: 8080, minimum: 0)
        guard config.port <= 65535 else {
            throw ValidationError("port (\(settings.sources("port"))) must be a number from 0 to 65535, got \(config.port)")
        }
        let db = try await settings.string("db")
        config.databasePath = demo && db == nil ? Self.demoDatabasePath() : db ?? "himmes.sqlite"
        config.logLevel = try LoggingOptions.level(try await settings.string("log-level") ?? "info")
        config.corsOrigins = try await settings.list("cors-origins")
        config.automaticDiagnosis = try await settings.bool("auto-diagnose", default: true)
        config.diagnosis.confirmations = try await settings.integer("confirmations", default: config.diagnosis.confirmations, minimum: 1)
        config.alarmWebhook = try await settings.string("alarm-webhook")
        if let webhook = config.alarmWebhook, URL(string: webhook)?.scheme.map({ ["http", "https"].contains($0) }) != true {
            throw ValidationError("alarm-webhook (\(settings.sources("alarm-webhook"))) must be an http or https URL, got '\(webhook)'")
        }
        config.assetsDirectory = try await settings.string("assets-dir")
        config.readDatabase = try await settings.string("read-db")
        if let read = config.readDatabase {
            guard PostgresLocation.isURL(read), PostgresLocation.isURL(config.databasePath) else {
                throw ValidationError("read-db (\(settings.sources("read-db"))) must be a postgres:// URL, and db a PostgreSQL database too")
            }
            _ = try PostgresLocation(url: read)
        }
        func networks(_ key: String, flag: String) async throws -> [NetworkRange] {
            try await settings.list(key).map { text in
                guard let range = NetworkRange(text) else {
                    throw ValidationError(
                        "\(key) (\(settings.sources(key, flag: flag))) must be an IP address or a network in CIDR notation (10.0.0.0/8), got '\(text)'")
                }
                return range
            }
        }
        let compatText = try await settings.string("compat") ?? "current"
        guard let compatibility = APICompatibility(rawValue: compatText) else {
            throw ValidationError("compat (\(settings.sources("compat"))) must be current or original, got '\(compatText)'")
        }
        config.compatibility = compatibility
        config.timeZone = try PlantTimeZone.named(try await settings.string("time-zone"))
        config.tlsProxies = try await networks("tls-proxies", flag: "tls-proxy")
        config.trustedNetworks = try await networks("trust-networks", flag: "trust-network")
        config.requireAuthForReads = try await settings.bool("require-auth-for-reads", default: false)
        config.maximumJSONBytes = try await settings.integer("max-json-bytes", default: config.maximumJSONBytes, minimum: 1024)
        config.maximumJSONRows = try await settings.integer("max-json-rows", default: config.maximumJSONRows, minimum: 1)
        config.maximumConcurrentImports = try await settings.integer(
            "max-concurrent-imports", default: config.maximumConcurrentImports, minimum: 1)
        config.idleTimeout = .seconds(try await settings.integer("idle-timeout", default: Int(config.idleTimeout.components.seconds), minimum: 1))
        config.bodyTimeout = .seconds(try await settings.integer("body-timeout", default: Int(config.bodyTimeout.components.seconds), minimum: 1))
        if let text = try await settings.string("retention") {
            guard let period = RetentionPeriod(argument: text) else {
                throw ValidationError("retention (\(settings.sources("retention"))) must be a number and a unit (h, d or w), as in 90d; got '\(text)'")
            }
            config.retention = period.duration
        }
        return config
    }

    /// Every setting of `serve`, by key, with its effective value as a config file would write it:
    /// the keys a config file may hold (`Settings.keys`) and what `--show-config` prints.
    static let shown: [(key: String, value: @Sendable (ServerConfig) -> String)] = {
        @Sendable func list(_ items: [String]) -> String { "[" + items.joined(separator: ", ") + "]" }
        return [
            ("db", { StoreLocation.display($0.databasePath) }), ("host", \.host), ("port", { "\($0.port)" }),
            ("log-level", \.logLevel.rawValue), ("cors-origins", { list($0.corsOrigins) }),
            ("alarm-webhook", { $0.alarmWebhook == nil ? "~" : "(set)" }), ("confirmations", { "\($0.diagnosis.confirmations)" }),
            ("assets-dir", { $0.assetsDirectory ?? "~" }), ("require-auth-for-reads", { "\($0.requireAuthForReads)" }),
            ("compat", \.compatibility.rawValue), ("time-zone", \.timeZone.identifier),
            ("trust-networks", { list($0.trustedNetworks.map(\.description)) }), ("tls-proxies", { list($0.tlsProxies.map(\.description)) }),
            ("max-json-bytes", { "\($0.maximumJSONBytes)" }), ("max-json-rows", { "\($0.maximumJSONRows)" }),
            ("max-concurrent-imports", { "\($0.maximumConcurrentImports)" }),
            ("idle-timeout", { "\($0.idleTimeout.components.seconds)" }), ("body-timeout", { "\($0.bodyTimeout.components.seconds)" }),
            ("retention", { $0.retention.map { "\($0.components.seconds / 3600)h" } ?? "~" }),
            ("auto-diagnose", { "\($0.automaticDiagnosis)" }), ("read-db", { $0.readDatabase.map(StoreLocation.display) ?? "~" }),
        ]
    }()

    /// Each setting's effective value, ordered by key.
    static func described(_ config: ServerConfig) -> [(key: String, value: String)] {
        shown.map { ($0.key, $0.value(config)) }.sorted { $0.key < $1.key }
    }

    /// A database file in a new temporary folder of the demo's own (made when the server starts).
    static func demoDatabasePath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("himmes-demo-\(UUID().uuidString)")
            .appendingPathComponent("demo.sqlite").path
    }

    /// The demo's temporary folder when the database is in one; nil for a database named by --db,
    /// HIMMES_DB or the config file, which is never removed.
    static func demoFolder(of databasePath: String) -> URL? {
        let folder = URL(fileURLWithPath: databasePath).deletingLastPathComponent()
        guard folder.lastPathComponent.hasPrefix("himmes-demo-"),
            folder.deletingLastPathComponent().standardizedFileURL == FileManager.default.temporaryDirectory.standardizedFileURL
        else { return nil }
        return folder
    }

    func run() async throws {
        let config = try await config()
        if showConfig {
            let settings = try await settings()
            for (key, value) in Self.described(config) {
                print("\(key): \(value)".padding(toLength: max(40, key.count + value.count + 4), withPad: " ", startingAt: 0) + "# \(settings.source(of: key))")
            }
            return
        }
        let logger = logging.bootstrap(level: config.logLevel)
        let demoFolder = demo ? Self.demoFolder(of: config.databasePath) : nil
        if let demoFolder { try FileManager.default.createDirectory(at: demoFolder, withIntermediateDirectories: true) }
        // The store runs beside the application and stops after it: the application's services
        // (engine, webhook, retention, the demo) finish their work on it first.
        try await StoreLocation.withStore(config.databasePath, logger: logger) { primary in
            var store = primary
            var services: [any Service] = []
            if let read = config.readDatabase, let primary = primary as? PostgresStore {
                // The standby's connections and the watch on it run as a service of the application.
                let standby = PostgresStore.standby(try PostgresLocation(url: read), logger: logger)
                let reads = StandbyReads(primary: primary, standby: standby, logger: logger)
                services.append(reads)
                store = reads
                logger.notice("the dashboard and the lists read from the standby", metadata: ["standby": "\(StoreLocation.display(read))"])
            }
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
        if let demoFolder {
            // The demo's own temporary database goes with it (it grows by gigabytes an hour).
            try? FileManager.default.removeItem(at: demoFolder)
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
