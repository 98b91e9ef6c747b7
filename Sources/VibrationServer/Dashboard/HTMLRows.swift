import Foundation
import VibrationCore

/// The long repeated parts of the pages (table rows, timeline bands), written straight into a
/// string: the template engine spends about 40 µs on each row, which is most of a page's time when
/// it holds a hundred rows or a thousand bands. The templates place the result unescaped; every
/// value here goes through `escape`.
enum HTMLRows {
    static func escape(_ text: String) -> String {
        // Most names and labels have nothing to escape.
        guard text.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// The text as one component of a URL, a path segment or a query value: everything but letters,
    /// digits, `-`, `_`, `.` and `~` percent-encoded (RFC 3986's unreserved characters), so that a
    /// name holding `/`, `?`, `#`, `&` or `+` stays one segment or one value.
    static func urlComponent(_ text: String) -> String {
        let unreserved: (UInt8) -> Bool = {
            (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x2D || $0 == 0x5F
                || $0 == 0x2E || $0 == 0x7E
        }
        guard !text.utf8.allSatisfy(unreserved) else { return text }
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            if unreserved(byte) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func samples(_ rows: some Sequence<StoredSample>) -> String {
        var html = ""
        for row in rows {
            let s = row.sample
            let at = s.collectedAt.rfc3339
            html += "<tr><td>\(row.id)</td><td>\(escape(s.machineName))</td><td>\(escape(s.sensorNo))</td>"
            html += "<td><time datetime=\"\(at)\">\(at)</time></td><td>\(s.measuredTime)</td><td>\(s.normal)</td>"
            html += "<td>\(s.unbalance)</td><td>\(s.looseness)</td><td>\(s.unbalanceLooseness)</td></tr>\n"
        }
        return html
    }

    static func diagnoses(_ rows: some Sequence<StoredDiagnosis>, text: DashboardText, icon: (FaultType) -> String) -> String {
        let evidenceHelp = escape(text.strings["evidenceHelp"] ?? "")
        var html = ""
        for row in rows {
            let d = row.diagnosis
            let at = d.detectedAt.rfc3339
            let code = d.faultType.rawValue
            html += "<tr class=\"state-\(code)\"><td><a href=\"/vibration-diagnosis/\(row.id)\" title=\"\(evidenceHelp)\">\(row.id)</a></td>"
            html += "<td>\(escape(d.machineName))</td><td><time datetime=\"\(at)\">\(at)</time></td>"
            html += "<td title=\"\(escape(text.faultHelp(d.faultType)))\"><span class=\"icon\" aria-hidden=\"true\">\(icon(d.faultType))</span> "
            html += "\(code) · \(escape(text.faultName(d.faultType)))</td></tr>\n"
        }
        return html
    }

    /// The fault types of each machine as one stacked bar: a segment per type, as wide as its share,
    /// with its count and share in words for tooltips and screen readers.
    static func distribution(_ counts: [(machineName: String, faultType: FaultType, count: Int)], text: DashboardText) -> String {
        var html = ""
        var names: [String] = []
        for row in counts where names.last != row.machineName { names.append(row.machineName) }
        for name in names {
            let rows = counts.filter { $0.machineName == name }
            let total = rows.reduce(0) { $0 + $1.count }
            html += "<div class=\"dist-row\"><a class=\"dist-name\" href=\"/diagnosis?machine_name=\(escape(urlComponent(name)))\">\(escape(name))</a>"
            html += "<div class=\"dist-bar\" role=\"img\" aria-label=\"\(escape(name))\">"
            for row in rows {
                let share = Double(row.count) / Double(max(total, 1)) * 100
                let label = escape("\(text.faultName(row.faultType)): \(row.count) (\(String(format: "%.1f", share))%)")
                html += "<span class=\"s\(row.faultType.rawValue)\" style=\"width:\(String(format: "%.3f", share))%\" title=\"\(label)\" data-count=\"\(row.count)\">\(share >= 8 ? String(row.count) : "")</span>"
            }
            html += "</div><span class=\"dist-total\">\(total)</span></div>\n"
        }
        return html
    }

    /// A machine's card on the status board.
    struct Card {
        var name: String
        var state: FaultType
        var line: String?
        var since: Timestamp?
        var lastData: Timestamp?
        var zone: ISO10816.Zone?
        var samples: Int64
        var openAlarms: Int
    }

    /// The status board's cards: a plant of a few hundred machines is a few hundred of them.
    static func cards(_ cards: [Card], text: DashboardText, icon: (FaultType) -> String) -> String {
        func label(_ key: String) -> String { escape(text.strings[key] ?? key) }
        func time(_ t: Timestamp?) -> String {
            guard let at = t?.rfc3339 else { return "—" }
            return "<time datetime=\"\(at)\">\(at)</time>"
        }
        let (line, since, lastData, zone, zoneHelp) = (label("line"), label("since"), label("lastData"), label("zone"), label("zoneHelp"))
        let (samples, samplesHelp, openAlarms) = (label("samples"), label("samplesHelp"), label("openAlarmsLabel"))
        var html = ""
        for card in cards {
            let name = escape(card.name)
            let path = escape(urlComponent(card.name))
            let query = path
            let code = card.state.rawValue
            html += "<article class=\"card state-\(code)\" data-machine=\"\(name)\">\n"
            html += "<h2><a href=\"/machines/\(path)\">\(name)</a></h2>\n"
            html += "<p class=\"state\" title=\"\(escape(text.faultHelp(card.state)))\"><span class=\"icon\" aria-hidden=\"true\">\(icon(card.state))</span> "
            html += "\(escape(text.faultName(card.state)))</p>\n<dl>\n"
            if let value = card.line { html += "<dt>\(line)</dt><dd>\(escape(value))</dd>\n" }
            html += "<dt>\(since)</dt><dd>\(time(card.since))</dd>\n"
            html += "<dt>\(lastData)</dt><dd>\(time(card.lastData))</dd>\n"
            html += "<dt title=\"\(zoneHelp)\">\(zone)</dt><dd>"
            if let value = card.zone {
                html += "<span class=\"zone zone-\(value.rawValue)\" title=\"\(escape("ISO 10816-3 \(value.rawValue): \(value.meaning)"))\">\(value.rawValue)</span>"
            } else {
                html += "—"
            }
            html += "</dd>\n<dt>\(samples)</dt><dd><a href=\"/data?machine_name=\(query)\" title=\"\(samplesHelp)\">\(card.samples.grouped)</a></dd>\n"
            html += "<dt>\(openAlarms)</dt><dd>\(card.openAlarms)</dd>\n</dl>\n</article>\n"
        }
        return html
    }
}
