import Logging
import VibrationCore
import VibrationPipeline

/// Everything `himmes serve` can be told; the command line fills it from flags, then `HIMMES_*`
/// variables, then these defaults.
public struct ServerConfig: Sendable {
    public var host: String
    public var port: Int
    /// The SQLite database file, or a PostgreSQL URL (postgres://…).
    public var databasePath: String
    /// Origins allowed to call the API from a browser. Empty: any origin may read, none may write.
    /// `*`: any origin may read and write.
    public var corsOrigins: [String]
    public var logLevel: Logger.Level
    /// The largest JSON request body accepted; larger ones are refused with 413.
    public var maximumJSONBytes: Int
    /// Whether the built-in engine diagnoses new data as it arrives.
    public var automaticDiagnosis: Bool
    public var diagnosis: DiagnosisService.Options
    /// Where to post each opened alarm, if anywhere.
    public var alarmWebhook: String?
    /// A PostgreSQL standby of the database that takes the dashboard's and the lists' reads.
    public var readDatabase: String?
    /// A folder holding the dashboard's charting library (chart.min.js); when nil, the
    /// distribution's copy under /usr/share/javascript is used if installed, else a CDN.
    public var assetsDirectory: String?
    /// How long one `/events` stream stays open before the browser is asked to reconnect.
    public var eventStreamLifetime: Duration = .seconds(300)
    /// Whether reads need an API key too (any key, read-only is enough); the dashboard then asks for one at `/login`.
    public var requireAuthForReads = false
    /// Times sent without an offset are this zone's local times (`--time-zone`); storage stays UTC.
    public var timeZone = PlantTimeZone.utc
    /// `.original`: the list routes answer the original system's plain arrays (`--compat original`).
    public var compatibility = APICompatibility.current
    /// The most rows one JSON array upload may hold (413 beyond it); CSV and NDJSON stream and have no such limit.
    public var maximumJSONRows = 100_000
    /// Bulk uploads handled at once; more are refused with 429 and `Retry-After`.
    public var maximumConcurrentImports = 32
    /// A connection with no request in progress is closed after this long (waiting keep-alive clients, slow headers).
    public var idleTimeout: Duration = .seconds(75)
    /// How long a client may take to send a request's head and body (see `RequestDeadlines`).
    public var deadlines = RequestDeadlines()
    /// A request whose body stops arriving for this long is dropped and its connection closed.
    public var bodyTimeout: Duration {
        get { deadlines.bodyStall }
        set { deadlines.bodyStall = newValue }
    }
    /// Networks whose writes need no API key while none is presented: a plant's uploaders that cannot
    /// be changed to send one. A key that is presented is still checked.
    public var trustedNetworks: [NetworkRange] = []
    /// Reverse proxies that end TLS in front of the server: a request from one of them that says
    /// `X-Forwarded-Proto: https` came over TLS, and the sign-in cookie it gets is `Secure`.
    public var tlsProxies: [NetworkRange] = []
    /// When set, samples older than this are pruned at start and then daily; nil keeps everything.
    public var retention: Duration?

    public init(
        host: String = "127.0.0.1", port: Int = 8080, databasePath: String = "himmes.sqlite",
        corsOrigins: [String] = [], logLevel: Logger.Level = .info, maximumJSONBytes: Int = 64 << 20,
        automaticDiagnosis: Bool = true, diagnosis: DiagnosisService.Options = .init(), alarmWebhook: String? = nil,
        assetsDirectory: String? = nil
    ) {
        self.assetsDirectory = assetsDirectory
        self.alarmWebhook = alarmWebhook
        self.automaticDiagnosis = automaticDiagnosis
        self.diagnosis = diagnosis
        self.maximumJSONBytes = maximumJSONBytes
        self.host = host
        self.port = port
        self.databasePath = databasePath
        self.corsOrigins = corsOrigins
        self.logLevel = logLevel
    }
}
