import Foundation

/// Diagnoses read from an upload, each with its line (or element), and the rows refused.
public struct DiagnosisRows: Sendable {
    public var rows: [Diagnosis] = []
    public var lines: [Int] = []
    public var rejected: [RowError] = []
    public var received = 0

    public init() {}

    mutating func accept(_ diagnosis: Diagnosis, line: Int) {
        rows.append(diagnosis)
        lines.append(line)
    }
}

/// Reads diagnoses as a JSON array, NDJSON or CSV (`machine_name,detected_at,fault_type`). Volumes
/// are small beside samples', so the whole body is read at once and Foundation's parsers serve.
public enum DiagnosisReader {
    /// A JSON array of objects; malformed JSON refuses the whole body.
    public static func jsonArray(_ data: Data, now: Timestamp, zone: PlantTimeZone = .utc) throws(JSONFormatError) -> DiagnosisRows {
        guard JSONSyntax.isWellFormed(data), let array = try? JSONDecoder().decode([JSONValue].self, from: data) else {
            throw JSONFormatError(element: 0, message: "the body is not a JSON array of diagnoses")
        }
        var result = DiagnosisRows()
        for (index, element) in array.enumerated() {
            result.received += 1
            read(element, line: index + 1, now: now, zone: zone, into: &result)
        }
        return result
    }

    /// One JSON object per line; a line that is not one is a refused row.
    public static func ndjson(_ data: Data, now: Timestamp, zone: PlantTimeZone = .utc) -> DiagnosisRows {
        var result = DiagnosisRows()
        for (index, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.drop { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
            if trimmed.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            result.received += 1
            guard let object = try? JSONDecoder().decode(JSONValue.self, from: Data(line)) else {
                result.rejected.append(RowError(line: index + 1, column: "", message: "not a JSON object"))
                continue
            }
            read(object, line: index + 1, now: now, zone: zone, into: &result)
        }
        return result
    }

    /// CSV with a header naming `machine_name`, `fault_type` and optionally `detected_at` (`id` and
    /// `fault_name` are ignored); without `detected_at`, or with an empty cell, the time is now.
    public static func csv(_ data: Data, now: Timestamp, zone: PlantTimeZone = .utc) throws(CSVFormatError) -> DiagnosisRows {
        var result = DiagnosisRows()
        var columns: [String: Int]?
        var width = 0
        // `,`, or a tab for a `mysql --batch` export (told by the header).
        var delimiter: Character = ","
        var number = 0
        for bytes in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            number += 1
            let text: String
            if bytes.count > SampleCSVParser.maximumLineBytes {
                if columns == nil { throw CSVFormatError(line: number, message: "the header line is longer than \(SampleCSVParser.maximumLineBytes) bytes") }
                result.received += 1
                result.rejected.append(RowError(line: number, column: "", message: "line is longer than \(SampleCSVParser.maximumLineBytes) bytes"))
                continue
            } else if let valid = String(validating: bytes, as: UTF8.self) {
                text = valid
            } else {
                if columns == nil { throw CSVFormatError(line: number, message: "the header is not valid UTF-8") }
                result.received += 1
                result.rejected.append(RowError(line: number, column: "", message: "is not valid UTF-8"))
                continue
            }
            var line = Substring(text)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if number == 1, line.hasPrefix("\u{FEFF}") { line = line.dropFirst() }
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            if columns == nil, line.contains("\t"), !line.contains(",") { delimiter = "\t" }
            guard let fields = CSVLine.fields(line, delimiter: delimiter) else {
                if columns == nil { throw CSVFormatError(line: number, message: "the header is not valid CSV") }
                result.received += 1
                result.rejected.append(RowError(line: number, column: "", message: "an unclosed quote"))
                continue
            }
            guard let map = columns else {
                var found: [String: Int] = [:]
                for (i, name) in fields.enumerated() {
                    let key = name.trimmingSpaces().lowercased()
                    guard ["machine_name", "detected_at", "fault_type", "id", "fault_name"].contains(key) else {
                        throw CSVFormatError(line: number, message: "unknown column '\(key)'; the columns are machine_name, detected_at, fault_type")
                    }
                    found[key] = i
                }
                guard found["machine_name"] != nil, found["fault_type"] != nil else {
                    throw CSVFormatError(line: number, message: "the header needs the columns machine_name and fault_type")
                }
                columns = found
                width = fields.count
                continue
            }
            result.received += 1
            guard fields.count == width else {
                result.rejected.append(RowError(line: number, column: "", message: "expected \(width) fields, found \(fields.count)"))
                continue
            }
            var object: [String: JSONValue] = [
                "machine_name": .string(fields[map["machine_name"]!]),
                "fault_type": Int(fields[map["fault_type"]!].trimmingSpaces()).map { .number(Double($0)) }
                    ?? .string(fields[map["fault_type"]!]),
            ]
            if let i = map["detected_at"], !fields[i].trimmingSpaces().isEmpty {
                object["detected_at"] = .string(fields[i].trimmingSpaces())
            }
            read(.object(object), line: number, now: now, zone: zone, into: &result)
        }
        guard columns != nil else { throw CSVFormatError(line: 1, message: "the input is empty: expected a header line") }
        return result
    }

    static func read(_ element: JSONValue, line: Int, now: Timestamp, zone: PlantTimeZone, into result: inout DiagnosisRows) {
        guard case .object(let object) = element else {
            result.rejected.append(RowError(line: line, column: "", message: "expected an object with machine_name and fault_type"))
            return
        }
        guard case .string(let name) = object["machine_name"] else {
            result.rejected.append(RowError(line: line, column: "machine_name", message: object["machine_name"] == nil ? "is required" : "must be a string"))
            return
        }
        var violations: [FieldViolation] = []
        Validation.checkMachineName(name, into: &violations)
        if let v = violations.first {
            result.rejected.append(RowError(line: line, column: v.field, message: v.message))
            return
        }
        guard case .number(let number) = object["fault_type"], number == number.rounded(), abs(number) < 1e9 else {
            result.rejected.append(RowError(line: line, column: "fault_type", message: object["fault_type"] == nil ? "is required" : "must be an integer from 0 to 3"))
            return
        }
        guard let faultType = FaultType(rawValue: Int(number)) else {
            result.rejected.append(RowError(line: line, column: "fault_type", message: "must be 0 (normal), 1 (mass unbalance), 2 (support looseness) or 3 (both), got \(Int(number))"))
            return
        }
        var detectedAt = now
        switch object["detected_at"] {
        case nil, .null?: break
        case .string(let text)?:
            guard let parsed = Timestamp(parsing: text, zone: zone) else {
                result.rejected.append(RowError(line: line, column: "detected_at", message: "'\(text.prefix(40))' is not an RFC 3339 time"))
                return
            }
            detectedAt = parsed
        default:
            result.rejected.append(RowError(line: line, column: "detected_at", message: "must be a string (RFC 3339 time)"))
            return
        }
        result.accept(Diagnosis(machineName: name, detectedAt: detectedAt, faultType: faultType), line: line)
    }
}

/// Any JSON value, for reading objects field by field with a message per bad field.
public enum JSONValue: Decodable, Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }
}

/// Splits one CSV line into its fields (RFC 4180 quotes); nil for an unclosed quote.
public enum CSVLine {
    public static func fields(_ line: Substring, delimiter: Character = ",") -> [String]? {
        var fields: [String] = []
        var current = ""
        var quoted = false
        var atFieldStart = true
        var iterator = line.makeIterator()
        while let c = iterator.next() {
            if quoted {
                if c == "\"" {
                    // A doubled quote is one quote; a single one closes the field.
                    var lookahead = iterator
                    if lookahead.next() == "\"" {
                        current.append("\"")
                        iterator = lookahead
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(c)
                }
            } else if c == delimiter {
                fields.append(current)
                current = ""
                atFieldStart = true
                continue
            } else if c == "\"" && atFieldStart {
                quoted = true
            } else {
                current.append(c)
            }
            atFieldStart = false
        }
        guard !quoted else { return nil }
        fields.append(current)
        return fields
    }
}
