import Foundation
import Hummingbird
import VibrationCore
import VibrationStore

extension DashboardController {
    /// `/machines/{name}`: the machine's state and registry entry, its waveform over a range (drawn
    /// by machine.js from `/machines/{name}/waveform`), the spectrum of a window, feature trends and
    /// the latest diagnoses. `at` (from the timeline) centres the view on a moment.
    func machinePage(_ request: Request, name: String) async throws -> Response {
        let text = DashboardText.for(request)
        guard let status = try await store.machineStatus(named: name) else {
            throw Problem(status: .notFound, detail: "No machine is named '\(name)'.")
        }
        let summary = try await store.machine(named: name)
        let value = request.queryValue
        let sensors = summary?.sensors ?? []
        let sensor = sensors.contains(value("sensor_no")) ? value("sensor_no") : (sensors.first ?? "")
        let channel = SignalChannel(rawValue: value("channel")) ?? status.config.channel
        let state = status.state
        var context: [String: Any] = [
            "lang": text.lang, "text": text.strings, "nav": ["board": true], "name": name,
            "stateCode": state.faultType.rawValue, "stateName": text.faultName(state.faultType),
            "stateHelp": text.faultHelp(state.faultType), "icon": Self.icon(state.faultType),
            "sensors": sensors.map { ["value": $0, "selected": $0 == sensor] },
            "channels": SignalChannel.allCases.map { ["value": $0.rawValue, "selected": $0 == channel] },
            "sensor": sensor, "channel": channel.rawValue, "from": value("from"), "to": value("to"), "at": value("at"),
            "windowSeconds": windowSeconds, "chart": assets.chartScript,
        ]
        context["line"] = status.config.line
        context["rpm"] = status.config.rpm.map { String(format: "%.0f rpm", $0) }
        context["rpmValue"] = status.config.rpm.map { String($0) } ?? ""
        context["since"] = state.since?.rfc3339
        context["lastData"] = summary?.lastCollectedAt?.rfc3339
        context["firstData"] = summary?.firstCollectedAt?.rfc3339
        if let zone = state.zone {
            context["zone"] = zone.rawValue
            context["zoneHelp"] = "ISO 10816-3 \(zone.rawValue): \(zone.meaning)"
        }
        let recent = try await store.diagnoses(
            matching: DiagnosisFilter(machineName: name, order: .newestFirst), after: nil, limit: 20)
        context["history"] = recent.map { row -> [String: Any] in
            let d = row.diagnosis
            return [
                "id": row.id, "detectedAt": d.detectedAt.rfc3339, "code": d.faultType.rawValue, "name": text.faultName(d.faultType),
                "icon": Self.icon(d.faultType), "help": text.faultHelp(d.faultType),
            ]
        }
        context["alarms"] = try await store.alarms(openOnly: true, machineName: name, limit: 20).map {
            ["message": $0.message, "openedAt": $0.openedAt.rfc3339, "code": $0.faultType.rawValue] as [String: Any]
        }
        return page("machine", context)
    }
}
