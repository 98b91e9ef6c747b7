import VibrationCore

/// The long repeated parts of the pages (table rows, timeline bands), written straight into a
/// string: the template engine spends about 40 µs on each row, which is most of a page's time when
/// it holds a hundred rows or a thousand bands. The templates place the result unescaped; every
/// value here goes through `escape`.
enum HTMLRows {
    static func escape(_ text: String) -> String {
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
}
