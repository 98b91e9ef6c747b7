import Foundation
import Hummingbird
import VibrationCore
import VibrationStore

extension DashboardController {
    /// The preset spans of the timeline, in seconds.
    static var timelineSpans: [(key: String, seconds: Int64)] {
        [("15m", 900), ("1h", 3_600), ("6h", 21_600), ("24h", 86_400), ("7d", 604_800)]
    }

    /// `/timeline`: one lane per machine with a band per run of equal verdicts over the range.
    /// Without `from`/`to` it shows the hour up to the newest diagnosis.
    func timeline(_ request: Request) async throws -> Response {
        let text = DashboardText.for(request)
        let value = request.queryValue
        let line = value("line")
        let span = Self.timelineSpans.first { $0.key == value("span") } ?? Self.timelineSpans[1]
        var context: [String: Any] = [
            "lang": text.lang, "text": text.strings, "nav": ["timeline": true], "line": line,
        ]
        let all = try await store.machineStatuses()
        let statuses = all.filter { line.isEmpty || $0.config.line == line }
        context["lines"] = Set(all.compactMap(\.config.line)).sorted().map {
            ["value": $0, "selected": $0 == line]
        }
        do {
            var from = try Timestamp.bound("from", value("from").isEmpty ? nil : value("from"), upper: false, zone: zone)
            var to = try Timestamp.bound("to", value("to").isEmpty ? nil : value("to"), upper: true, zone: zone)
            if to == nil {
                let newest = try await store.latestDiagnoses(machineName: nil).map(\.diagnosis.detectedAt).max()
                to = from.map { Timestamp(microseconds: $0.microseconds + span.seconds * 1_000_000) } ?? newest ?? .now
            }
            if from == nil { from = Timestamp(microseconds: to!.microseconds - span.seconds * 1_000_000) }
            guard let from, let to, to > from else {
                throw ValidationError(field: "to", message: "must be later than from")
            }
            context["filter"] = ["from": value("from").isEmpty ? from.rfc3339 : value("from"), "to": value("to").isEmpty ? to.rfc3339 : value("to")]
            context["spans"] = Self.timelineSpans.map { s -> [String: Any] in
                var items = [URLQueryItem(name: "span", value: s.key), URLQueryItem(name: "to", value: to.rfc3339)]
                if !line.isEmpty { items.append(URLQueryItem(name: "line", value: line)) }
                var c = URLComponents()
                c.queryItems = items
                return ["key": s.key, "query": c.percentEncodedQuery ?? "", "selected": s.key == span.key && value("from").isEmpty]
            }
            let runs = Dictionary(grouping: try await store.diagnosisRuns(machineName: nil, from: from, to: to, slots: 1_000), by: \.machineName)
            let width = Double(to.microseconds - from.microseconds)
            func percent(_ t: Timestamp) -> Double { max(0, min(100, Double(t.microseconds - from.microseconds) / width * 100)) }
            context["lanes"] = statuses.map { status -> [String: Any] in
                let name = status.config.machineName
                let machineRuns = runs[name] ?? []
                let path = HTMLRows.urlComponent(name)
                var bands = ""
                for (i, run) in machineRuns.enumerated() {
                    // A verdict holds until the next one; the last holds through its last diagnosis.
                    let end = i + 1 < machineRuns.count ? machineRuns[i + 1].first : run.last
                    let left = percent(run.first)
                    let width = max(0.15, percent(end) - left)
                    let state = HTMLRows.escape(text.faultName(run.faultType))
                    let start = run.first.rfc3339
                    bands += "<a class=\"band s\(run.faultType.rawValue)\" href=\"/machines/\(HTMLRows.escape(path))?at=\(start)\" "
                    bands += "style=\"left:\(String(format: "%.3f", left))%;width:\(String(format: "%.3f", width))%\" "
                    bands += "data-state=\"\(state)\" data-code=\"\(run.faultType.rawValue)\" data-start=\"\(start)\" "
                    bands += "data-end=\"\(end.rfc3339)\" data-count=\"\(run.count)\" data-diagnosis=\"\(run.lastID)\" aria-label=\"\(state)\"></a>"
                }
                return ["name": name, "line": status.config.line ?? "", "bands": bands, "empty": machineRuns.isEmpty]
            }
            context["ticks"] = (0...5).map { i -> [String: Any] in
                let t = Timestamp(microseconds: from.microseconds + Int64(Double(i) / 5 * width))
                return ["left": i * 20, "time": t.rfc3339]
            }
            context["legend"] = FaultType.allCases.map {
                ["code": $0.rawValue, "name": text.faultName($0), "help": text.faultHelp($0), "icon": Self.icon($0)] as [String: Any]
            }
        } catch let error as ValidationError {
            context["error"] = error.description
        }
        return page("timeline", context)
    }
}
