import Foundation
import Hummingbird
import Mustache
import Synchronization
import VibrationCore
import VibrationStore

/// The operator's pages, rendered on the server from the templates beside this file: the status
/// board, the fault timeline, the machine page, the vibration data table and the diagnosis table. Filters live in the URL, so a link
/// shows what its sender saw; times are sent in UTC and shown in the viewer's zone by app.js.
struct DashboardController<S: Store> {
    let store: S
    let assets: DashboardAssets
    /// The engine's window, the default length of a spectrum on the machine page.
    let windowSeconds: Double
    /// The plant's zone: a date or time typed without an offset is its local time.
    var zone: PlantTimeZone = .utc
    static var library: MustacheLibrary {
        var library = MustacheLibrary()
        for (name, bytes) in [
            ("layout", PackageResources.layout_mustache), ("board", PackageResources.board_mustache),
            ("data", PackageResources.data_mustache), ("diagnosis", PackageResources.diagnosis_mustache),
            ("timeline", PackageResources.timeline_mustache), ("machine", PackageResources.machine_mustache),
            ("login", PackageResources.login_mustache),
        ] {
            // The templates ship inside the binary; a broken one is a build defect, caught by the tests.
            try! library.register(String(decoding: bytes, as: UTF8.self), named: name)
        }
        return library
    }
    let library = Self.library
    /// The machine list of the table pages' filters.
    let machineNames = MachineNameList()

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/") { request, _ in try await board(request) }
        router.get("/data") { request, _ in try await data(request) }
        router.get("/diagnosis") { request, _ in try await diagnoses(request) }
        router.get("/timeline") { request, _ in try await timeline(request) }
        // The original dashboard's addresses, so that bookmarks and links keep working.
        for (old, new) in [("/vibration-table", "/data"), ("/diagnosis-dashboard", "/diagnosis"), ("/machine-fault-timeline", "/timeline")] {
            router.get(RouterPath(old)) { request, _ -> Response in
                Response.redirect(to: new + (request.uri.query.map { "?" + $0 } ?? ""), type: .permanent)
            }
        }
        // GET /machines/{name} is also the API's JSON; browsers, which ask for HTML, get the page.
        router.add(middleware: MachinePageMiddleware { request, name in try await machinePage(request, name: name) })
        router.get("/assets/app.css") { _, _ in Self.asset(PackageResources.app_css, type: "text/css; charset=utf-8") }
        router.get("/assets/app.js") { _, _ in Self.asset(PackageResources.app_js, type: "text/javascript; charset=utf-8") }
        router.get("/assets/machine.js") { _, _ in Self.asset(PackageResources.machine_js, type: "text/javascript; charset=utf-8") }
        if let chart = assets.localChartScript {
            router.get("/assets/chart.min.js") { _, _ in Self.asset(chart, type: "text/javascript; charset=utf-8") }
        }
    }

    static func asset(_ bytes: [UInt8], type: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "public, max-age=3600"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func page(_ template: String, _ context: [String: Any]) -> Response {
        var context = context
        // Reads from a standby that lags by more than a few seconds: the page says so.
        if let reads = store as? StandbyReads, let lag = reads.lagToShow,
            let text = (context["text"] as? [String: String])?["standbyBehind"]
        {
            context["standbyNotice"] = String(format: text, Int(lag))
        }
        let html = library.render(context, withTemplate: template) ?? ""
        return Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    // MARK: Status board

    func board(_ request: Request) async throws -> Response {
        let text = DashboardText.for(request)
        let query = request.uri.queryParameters
        let lineFilter = query["line"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        let stateFilter = query["state"].flatMap { Int(String($0)) }.flatMap(FaultType.init(rawValue:))
        // Three independent reads, side by side.
        async let statusRead = store.machineStatuses()
        async let summaryRead = store.machines()
        async let openRead = store.alarms(openOnly: true, machineName: nil, limit: 1_000)
        let statuses = try await statusRead
        let summaries = Dictionary(uniqueKeysWithValues: try await summaryRead.map { ($0.machineName, $0) })
        let open = try await openRead
        let openByMachine = Dictionary(grouping: open, by: \.machineName)
        let shown = statuses.filter {
            (lineFilter == nil || $0.config.line == lineFilter) && (stateFilter == nil || $0.state.faultType == stateFilter)
        }
        let cards = shown.map { status in
            HTMLRows.Card(
                name: status.config.machineName, state: status.state.faultType, line: status.config.line, since: status.state.since,
                lastData: summaries[status.config.machineName]?.lastCollectedAt, zone: status.state.zone,
                samples: summaries[status.config.machineName]?.sampleCount ?? 0,
                openAlarms: openByMachine[status.config.machineName]?.count ?? 0)
        }
        let counts: [[String: Any]] = FaultType.allCases.map { type in
            [
                "code": type.rawValue, "name": text.faultName(type), "icon": Self.icon(type), "help": text.faultHelp(type),
                "count": statuses.filter { $0.state.faultType == type }.count, "line": lineFilter ?? "",
            ]
        }
        let lines = Set(statuses.compactMap(\.config.line)).sorted().map { ["value": $0, "selected": $0 == lineFilter] }
        let states = FaultType.allCases.map {
            ["code": $0.rawValue, "name": text.faultName($0), "selected": $0 == stateFilter] as [String: Any]
        }
        let alarms: [[String: Any]] = open.prefix(50).map {
            var row: [String: Any] = [
                "machine": $0.machineName, "message": $0.message, "openedAt": $0.openedAt.rfc3339, "code": $0.faultType.rawValue,
            ]
            row["acknowledgedBy"] = $0.acknowledgedBy
            return row
        }
        return page(
            "board",
            [
                "lang": text.lang, "text": text.strings, "nav": ["board": true], "counts": counts, "hasMachines": !cards.isEmpty,
                "cards": HTMLRows.cards(cards, text: text, icon: Self.icon),
                "lines": lines, "states": states, "openAlarms": open.count, "alarms": alarms,
            ])
    }

    static func icon(_ type: FaultType) -> String {
        switch type {
        case .normal: "✔"
        case .massUnbalance: "⚠"
        case .supportLooseness: "⚠"
        case .unbalanceAndLooseness: "✖"
        }
    }

    // MARK: Tables

    /// The filter fields of a table page, echoed back into its form and links.
    struct TableQuery {
        var machine = ""
        var sensor = ""
        var from = ""
        var to = ""
        var faultType: FaultType?
        /// The tables show the newest rows first unless asked otherwise.
        var order = ListOrder.newestFirst
        var cursor: String?

        init(_ request: Request) {
            let value = request.queryValue
            machine = value("machine_name")
            sensor = value("sensor_no")
            from = value("from")
            to = value("to")
            faultType = Int(value("fault_type")).flatMap(FaultType.init(rawValue:))
            order = ListOrder(rawValue: value("order")) ?? .newestFirst
            cursor = request.uri.queryParameters["cursor"].map(String.init)
        }

        /// The query string of these filters, without the cursor.
        var encoded: String {
            var items: [URLQueryItem] = []
            for (key, value) in [("machine_name", machine), ("sensor_no", sensor), ("from", from), ("to", to)] where !value.isEmpty {
                items.append(URLQueryItem(name: key, value: value))
            }
            if let faultType { items.append(URLQueryItem(name: "fault_type", value: String(faultType.rawValue))) }
            if order != .newestFirst { items.append(URLQueryItem(name: "order", value: order.rawValue)) }
            var components = URLComponents()
            components.queryItems = items
            return components.percentEncodedQuery ?? ""
        }

        func with(cursor: String) -> String {
            var components = URLComponents()
            components.percentEncodedQuery = encoded.isEmpty ? nil : encoded
            components.queryItems = (components.queryItems ?? []) + [URLQueryItem(name: "cursor", value: cursor)]
            return components.percentEncodedQuery ?? ""
        }

        /// The same filters in the other time order, from the first page.
        var reversed: String {
            var other = self
            other.order = order == .newestFirst ? .oldestFirst : .newestFirst
            other.cursor = nil
            return other.encoded
        }

        /// What the table's sortable header says and links to.
        func sortContext(_ text: DashboardText) -> [String: Any] {
            [
                "arrow": order == .newestFirst ? "↓" : "↑", "query": reversed, "current": order.rawValue,
                "help": order == .newestFirst ? text.strings["sortedNewest"] ?? "" : text.strings["sortedOldest"] ?? "",
            ]
        }

        func bounds(zone: PlantTimeZone) throws(ValidationError) -> (Timestamp?, Timestamp?) {
            (try Timestamp.bound("from", from.isEmpty ? nil : from, upper: false, zone: zone),
             try Timestamp.bound("to", to.isEmpty ? nil : to, upper: true, zone: zone))
        }
    }

    func data(_ request: Request) async throws -> Response {
        let text = DashboardText.for(request)
        let query = TableQuery(request)
        // The filter's machine list and the rows are read side by side.
        async let names = machineNames.read(from: store)
        var context: [String: Any] = [
            "lang": text.lang, "text": text.strings, "nav": ["data": true],
            "filter": ["machine": query.machine, "sensor": query.sensor, "from": query.from, "to": query.to],
            "query": query.encoded, "sort": query.sortContext(text),
        ]
        do {
            let (from, to) = try query.bounds(zone: zone)
            let filter = try SampleFilter(
                machineName: query.machine.isEmpty ? nil : query.machine, sensorNo: query.sensor.isEmpty ? nil : query.sensor,
                from: from, to: to, order: query.order
            ).validated()
            let cursor = try query.cursor.map { token throws(ValidationError) in try SampleCursor(token: token) }
            let rows = try await store.samples(matching: filter, after: cursor, limit: 101)
            if !rows.isEmpty { context["rows"] = HTMLRows.samples(rows.prefix(100)) }
            if rows.count > 100 { context["next"] = query.with(cursor: SampleCursor(after: rows[99]).token) }
        } catch let error as ValidationError {
            context["error"] = error.description
        }
        context["machineOptions"] = try await names.options
        return page("data", context)
    }

    func diagnoses(_ request: Request) async throws -> Response {
        let text = DashboardText.for(request)
        let query = TableQuery(request)
        // The filter's machine list and the rows are read side by side.
        async let names = machineNames.read(from: store)
        var context: [String: Any] = [
            "lang": text.lang, "text": text.strings, "nav": ["diagnosis": true],
            "filter": ["machine": query.machine, "from": query.from, "to": query.to],
            "states": FaultType.allCases.map {
                ["code": $0.rawValue, "name": text.faultName($0), "selected": $0 == query.faultType] as [String: Any]
            },
            "sort": query.sortContext(text),
        ]
        do {
            let (from, to) = try query.bounds(zone: zone)
            let filter = try DiagnosisFilter(
                machineName: query.machine.isEmpty ? nil : query.machine, faultType: query.faultType, from: from, to: to,
                order: query.order
            ).validated()
            let cursor = try query.cursor.map { token throws(ValidationError) in try DiagnosisCursor(token: token) }
            async let counts = store.faultTypeCounts(machineName: filter.machineName, from: from, to: to)
            let rows = try await store.diagnoses(matching: filter, after: cursor, limit: 101)
            let distribution = try await counts
            if !distribution.isEmpty { context["distribution"] = HTMLRows.distribution(distribution, text: text) }
            if !rows.isEmpty { context["rows"] = HTMLRows.diagnoses(rows.prefix(100), text: text, icon: Self.icon) }
            if rows.count > 100 { context["next"] = query.with(cursor: DiagnosisCursor(after: rows[99]).token) }
        } catch let error as ValidationError {
            context["error"] = error.description
        }
        context["machineOptions"] = try await names.options
        return page("diagnosis", context)
    }
}

/// Answers a browser's GET /machines/{name} with the machine page and passes everything else on.
struct MachinePageMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let render: @Sendable (Request, String) async throws -> Response

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get, (request.headers[.accept] ?? "").contains("text/html") else {
            return try await next(request, context)
        }
        let parts = request.uri.path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].isEmpty, parts[1] == "machines", !parts[2].isEmpty,
            let name = String(parts[2]).removingPercentEncoding
        else { return try await next(request, context) }
        return try await render(request, name)
    }
}

extension Request {
    /// A query parameter of a page's URL; empty when absent.
    func queryValue(_ key: String) -> String {
        uri.queryParameters[Substring(key)].map(String.init) ?? ""
    }
}

/// The machine names the table pages offer as a filter, read at most once a second and never
/// waited for once read: a page gets the list as it was last read, and a list older than the
/// lifetime is read again in the background for the pages after it (a machine added shows a second
/// later): under a stream of uploads a page must not wait for the registry. The `<option>` list is
/// written once per read, not by the template engine on every page.
final class MachineNameList: Sendable {
    struct Listed: Equatable {
        let names: [String]
        /// One `<option>` per name, escaped, for a `<datalist>`.
        let options: String
    }

    private struct State {
        var read: (listed: Listed, at: ContinuousClock.Instant)?
        var refreshing: Task<Void, Never>?
    }

    private let state = Mutex(State())
    let lifetime: Duration

    init(lifetime: Duration = .seconds(1)) {
        self.lifetime = lifetime
    }

    /// The names as last read (read now when they never were); a read of the store starts in
    /// the background when they are older than the lifetime at `now`.
    func read(from store: some Store, now: ContinuousClock.Instant = .now) async throws -> Listed {
        let listed = state.withLock { state -> Listed? in
            guard let read = state.read else { return nil }
            if now - read.at >= lifetime, state.refreshing == nil {
                state.refreshing = Task {
                    let fresh = try? await Self.load(from: store)
                    self.state.withLock { state in
                        if let fresh { state.read = (fresh, now) }
                        state.refreshing = nil
                    }
                }
            }
            return read.listed
        }
        if let listed { return listed }
        let fresh = try await Self.load(from: store)
        state.withLock { $0.read = (fresh, now) }
        return fresh
    }

    /// Waits for a background read in progress, if any.
    func settled() async {
        await state.withLock { $0.refreshing }?.value
    }

    private static func load(from store: some Store) async throws -> Listed {
        let names = try await store.machineStatuses().map(\.config.machineName)
        return Listed(names: names, options: names.map { "<option value=\"\(HTMLRows.escape($0))\">" }.joined())
    }
}
