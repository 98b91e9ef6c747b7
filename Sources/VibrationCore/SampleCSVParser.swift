import Foundation

/// A CSV input that cannot be read at all (as opposed to single bad rows, which are reported and skipped).
public struct CSVFormatError: Error, Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }
}

/// Reads vibration samples from CSV text fed in chunks of any size, with constant memory.
///
/// Two layouts are understood:
/// - the product's: a header naming the columns `machine_name, sensor_no, collected_at,
///   measured_time, normal, unbalance, looseness, unbalance_looseness` in any order (`id` is
///   ignored; without `collected_at`, or with an empty cell, the time is the import's "now");
/// - the original data set's: no header (or `time,normal,type1,type2,type3`), five numeric columns,
///   one machine and sensor per file, given by the caller; `collected_at` is the recording's start
///   plus `measured_time`.
///
/// Fields may be quoted (RFC 4180); lines may end in LF or CRLF; a UTF-8 byte order mark is skipped;
/// blank lines are skipped. A bad row is reported with its line, column and reason and the rest is read.
public struct SampleCSVParser: Sendable {
    public enum Layout: Sendable, Hashable {
        /// Decide from the first line; a headerless file needs `original` set.
        case detect(original: OriginalSource?)
        case product
        case original(OriginalSource)
    }

    /// Where the rows of an original-layout file belong.
    public struct OriginalSource: Sendable, Hashable {
        public var machineName: String
        public var sensorNo: String
        public var start: Timestamp

        public init(machineName: String, sensorNo: String, start: Timestamp) {
            self.machineName = machineName
            self.sensorNo = sensorNo
            self.start = start
        }
    }

    public static let maximumLineBytes = 1 << 20
    static let productColumns = [
        "machine_name", "sensor_no", "collected_at", "measured_time", "normal", "unbalance", "looseness",
        "unbalance_looseness",
    ]
    static let originalColumns = ["time", "normal", "type1", "type2", "type3"]

    private enum Role: UInt8 {
        case machine, sensor, collectedAt, measuredTime, normal, unbalance, looseness, unbalanceLooseness, ignored
    }

    private enum State: Sendable {
        case awaitingHeader
        case product(roles: [Role])
        case original(OriginalSource, streamIndex: Int32?)
    }

    private var layout: Layout
    private var state: State = .awaitingHeader
    private let now: Timestamp
    public private(set) var streams = StreamTable()
    /// Lines consumed so far, header and blank lines included.
    public private(set) var lineNumber = 0
    private var pending: [UInt8] = []
    private var pendingOverflow = false
    private var lastStream: (machine: [UInt8], sensor: [UInt8], index: Int32)?
    /// `,`, or a tab for the tab-separated files `mysql --batch` writes (told by their header line).
    private var delimiter = UInt8(ascii: ",")
    private var fieldStarts: [Int] = []
    private var fieldEnds: [Int] = []
    private var unquoted: [UInt8] = []

    /// Reads times written without an offset as the plant's local times.
    private var localTimes: PlantTimeZone.Reader

    /// - Parameters:
    ///   - now: the time given to rows without `collected_at`.
    ///   - zone: the zone of times written without an offset.
    public init(layout: Layout = .detect(original: nil), now: Timestamp, zone: PlantTimeZone = .utc) {
        self.layout = layout
        self.now = now
        self.localTimes = PlantTimeZone.Reader(zone)
        fieldStarts.reserveCapacity(16)
        fieldEnds.reserveCapacity(16)
    }

    /// Parses every complete line of the chunk; an incomplete last line waits for the next chunk.
    public mutating func parse(_ chunk: UnsafeRawBufferPointer, into batch: inout SampleBatch) throws(CSVFormatError) {
        guard let base = chunk.baseAddress?.assumingMemoryBound(to: UInt8.self), chunk.count > 0 else { return }
        batch.bytesRead += chunk.count
        let n = chunk.count
        var start = 0
        if !pending.isEmpty || pendingOverflow {
            guard let newline = firstNewline(base, from: 0, to: n) else {
                appendPending(base, from: 0, to: n)
                return
            }
            appendPending(base, from: 0, to: newline)
            start = newline + 1
            try finishPendingLine(into: &batch)
        }
        while start < n {
            guard let newline = firstNewline(base, from: start, to: n) else {
                appendPending(base, from: start, to: n)
                return
            }
            try line(base + start, count: newline - start, into: &batch)
            start = newline + 1
        }
    }

    /// Parses the last line when the input does not end with a newline.
    public mutating func finish(into batch: inout SampleBatch) throws(CSVFormatError) {
        if !pending.isEmpty || pendingOverflow { try finishPendingLine(into: &batch) }
        if case .awaitingHeader = state, case .product = layout {
            throw CSVFormatError(line: max(lineNumber, 1), message: "the input is empty: expected a header line")
        }
    }

    private func firstNewline(_ base: UnsafePointer<UInt8>, from: Int, to: Int) -> Int? {
        guard from < to else { return nil }
        guard let found = memchr(base + from, 0x0A, to - from) else { return nil }
        return UnsafeRawPointer(found).assumingMemoryBound(to: UInt8.self) - base
    }

    static func headerTooLong(line: Int) -> CSVFormatError {
        CSVFormatError(line: line, message: "the header line is longer than \(maximumLineBytes) bytes; is this a CSV file?")
    }

    private mutating func appendPending(_ base: UnsafePointer<UInt8>, from: Int, to: Int) {
        guard !pendingOverflow else { return }
        if pending.count + (to - from) > Self.maximumLineBytes {
            pendingOverflow = true
            pending.removeAll(keepingCapacity: false)
            return
        }
        pending.append(contentsOf: UnsafeBufferPointer(start: base + from, count: to - from))
    }

    private mutating func finishPendingLine(into batch: inout SampleBatch) throws(CSVFormatError) {
        if pendingOverflow {
            pendingOverflow = false
            if case .awaitingHeader = state, case .product = layout {
                throw Self.headerTooLong(line: lineNumber + 1)
            }
            lineNumber += 1
            batch.rowsRead += 1
            batch.rejected.append(
                RowError(line: lineNumber, column: "", message: "line is longer than \(Self.maximumLineBytes) bytes"))
            return
        }
        let text = pending
        pending.removeAll(keepingCapacity: true)
        try text.withUnsafeBufferPointer { (buffer) throws(CSVFormatError) in
            try line(buffer.baseAddress!, count: buffer.count, into: &batch)
        }
    }

    // MARK: Lines

    private mutating func line(_ p: UnsafePointer<UInt8>, count: Int, into batch: inout SampleBatch)
        throws(CSVFormatError)
    {
        lineNumber += 1
        var p = p
        var n = count
        if n > 0, p[n - 1] == 0x0D { n -= 1 }
        if lineNumber == 1, n >= 3, p[0] == 0xEF, p[1] == 0xBB, p[2] == 0xBF {
            p += 3
            n -= 3
        }
        if n == 0 || isBlank(p, n) { return }
        switch state {
        case .product(let roles):
            batch.rowsRead += 1
            productRow(p, n, roles: roles, into: &batch)
        case .original(let source, let index):
            batch.rowsRead += 1
            originalRow(p, n, source: source, streamIndex: index, into: &batch)
        case .awaitingHeader:
            try header(p, n, into: &batch)
        }
    }

    private func isBlank(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        for i in 0..<n where p[i] != 0x20 && p[i] != 0x09 { return false }
        return true
    }

    private mutating func header(_ p: UnsafePointer<UInt8>, _ n: Int, into batch: inout SampleBatch)
        throws(CSVFormatError)
    {
        if case .product = layout, n > Self.maximumLineBytes { throw Self.headerTooLong(line: lineNumber) }
        // A header of tab-separated names and no comma is a MySQL batch export (`mysql --batch`).
        let bytes = UnsafeBufferPointer(start: p, count: n)
        if bytes.contains(0x09), !bytes.contains(UInt8(ascii: ",")) { delimiter = 0x09 }
        guard let count = splitFields(p, n) else {
            throw CSVFormatError(line: lineNumber, message: "the first line is not valid CSV (an unclosed quote)")
        }
        let names = (0..<count).map { i in
            String(decoding: fieldBytes(p, i), as: UTF8.self).trimmingSpaces().lowercased()
        }
        let original: OriginalSource?
        switch layout {
        case .product: original = nil
        case .original(let source): original = source
        case .detect(let source): original = source
        }
        if names.contains("machine_name") || names.contains("measured_time") {
            if case .original = layout {
                throw CSVFormatError(line: lineNumber, message: "expected the original five-column layout, found a header \(names)")
            }
            var roles: [Role] = []
            var seen = Set<String>()
            for name in names {
                guard !seen.contains(name) else {
                    throw CSVFormatError(line: lineNumber, message: "column '\(name)' appears twice in the header")
                }
                seen.insert(name)
                switch name {
                case "machine_name": roles.append(.machine)
                case "sensor_no": roles.append(.sensor)
                case "collected_at": roles.append(.collectedAt)
                case "measured_time": roles.append(.measuredTime)
                case "normal": roles.append(.normal)
                case "unbalance": roles.append(.unbalance)
                case "looseness": roles.append(.looseness)
                case "unbalance_looseness": roles.append(.unbalanceLooseness)
                case "id": roles.append(.ignored)
                default:
                    throw CSVFormatError(
                        line: lineNumber,
                        message: "unknown column '\(name)'; the columns are \(Self.productColumns.joined(separator: ", "))")
                }
            }
            let missing = Self.productColumns.filter { $0 != "collected_at" && !seen.contains($0) }
            guard missing.isEmpty else {
                throw CSVFormatError(
                    line: lineNumber, message: "the header lacks the column(s) \(missing.joined(separator: ", "))")
            }
            state = .product(roles: roles)
            return
        }
        if names == Self.originalColumns || names == ["time", "normal", "unbalance", "looseness", "unbalance_looseness"] {
            guard let original else {
                throw CSVFormatError(
                    line: lineNumber,
                    message: "a file of the original layout needs its machine and sensor (from a name like g1_sensor1.csv, or --machine and --sensor)")
            }
            state = .original(original, streamIndex: nil)
            return
        }
        // No header: the original data set's five numeric columns.
        let numeric = count == 5 && (0..<count).allSatisfy { i in
            let field = fieldBytes(p, i)
            return field.withUnsafeBufferPointer { NumberParsing.double($0.baseAddress!, count: $0.count) != nil }
        }
        if numeric, case .product = layout {} else if numeric {
            guard let original else {
                throw CSVFormatError(
                    line: lineNumber,
                    message: "a headerless five-column file (the original data set's layout) needs its machine and sensor: name it like g1_sensor1.csv or pass --machine and --sensor")
            }
            state = .original(original, streamIndex: nil)
            lineNumber -= 1
            try line(p, count: n, into: &batch)
            return
        }
        if case .product = layout {
            throw CSVFormatError(
                line: lineNumber, message: "expected a header naming the columns \(Self.productColumns.joined(separator: ","))")
        }
        throw CSVFormatError(
            line: lineNumber,
            message: "expected a header naming the columns \(Self.productColumns.joined(separator: ",")), or five numeric columns of the original data set")
    }

    // MARK: Rows

    private mutating func productRow(_ p: UnsafePointer<UInt8>, _ n: Int, roles: [Role], into batch: inout SampleBatch) {
        guard let count = splitFields(p, n) else {
            batch.rejected.append(RowError(line: lineNumber, column: "", message: "an unclosed quote"))
            return
        }
        guard count == roles.count else {
            batch.rejected.append(
                RowError(line: lineNumber, column: "", message: "expected \(roles.count) fields, found \(count)"))
            return
        }
        var machine = -1
        var sensor = -1
        var collectedAt = now.microseconds
        var measuredTime = 0.0
        var values = (0.0, 0.0, 0.0, 0.0)
        for i in 0..<count {
            let role = roles[i]
            switch role {
            case .machine: machine = i
            case .sensor: sensor = i
            case .ignored: continue
            case .collectedAt:
                var reader = localTimes
                let ok = withField(p, i) { f, len -> Bool in
                    if len == 0 { return true }
                    guard let t = Timestamp.parse(UnsafeBufferPointer(start: f, count: len), localTimes: &reader) else { return false }
                    collectedAt = t.microseconds
                    return true
                }
                localTimes = reader
                if !ok {
                    reject(p, i, column: "collected_at", reason: "is not a time like 2025-01-01 00:00:00 or 2025-01-01T00:00:00Z", into: &batch)
                    return
                }
            default:
                guard let value = withField(p, i, { f, len in NumberParsing.double(f, count: len) }) else {
                    reject(p, i, column: Self.name(of: role), reason: "is not a finite number", into: &batch)
                    return
                }
                if role == .measuredTime, abs(value) >= Validation.measuredTimeLimit {
                    reject(p, i, column: "measured_time", reason: Validation.measuredTimeMessage, into: &batch)
                    return
                }
                if role != .measuredTime, !Validation.isAcceleration(value) {
                    reject(p, i, column: Self.name(of: role), reason: Validation.accelerationMessage, into: &batch)
                    return
                }
                switch role {
                case .measuredTime: measuredTime = value
                case .normal: values.0 = value
                case .unbalance: values.1 = value
                case .looseness: values.2 = value
                default: values.3 = value
                }
            }
        }
        guard let stream = streamIndex(p, machineField: machine, sensorField: sensor, into: &batch) else { return }
        batch.append(
            stream: stream, collectedAt: collectedAt, measuredTime: measuredTime, values.0, values.1, values.2, values.3,
            line: lineNumber)
    }

    private mutating func originalRow(
        _ p: UnsafePointer<UInt8>, _ n: Int, source: OriginalSource, streamIndex: Int32?, into batch: inout SampleBatch
    ) {
        guard let count = splitFields(p, n) else {
            batch.rejected.append(RowError(line: lineNumber, column: "", message: "an unclosed quote"))
            return
        }
        guard count == 5 else {
            batch.rejected.append(RowError(line: lineNumber, column: "", message: "expected 5 fields, found \(count)"))
            return
        }
        var values = (0.0, 0.0, 0.0, 0.0, 0.0)
        for i in 0..<5 {
            guard let value = withField(p, i, { f, len in NumberParsing.double(f, count: len) }) else {
                reject(p, i, column: Self.originalColumns[i], reason: "is not a finite number", into: &batch)
                return
            }
            if i > 0, !Validation.isAcceleration(value) {
                reject(p, i, column: Self.originalColumns[i], reason: Validation.accelerationMessage, into: &batch)
                return
            }
            switch i {
            case 0: values.0 = value
            case 1: values.1 = value
            case 2: values.2 = value
            case 3: values.3 = value
            default: values.4 = value
            }
        }
        // collected_at is start + time: keep it within the years a timestamp can name.
        guard abs(values.0) < Validation.measuredTimeLimit else {
            reject(p, 0, column: "time", reason: "is out of range for seconds within a recording", into: &batch)
            return
        }
        var stream = streamIndex
        if stream == nil {
            switch streams.index(of: StreamKey(machineName: source.machineName, sensorNo: source.sensorNo), into: &batch) {
            case .success(let index):
                stream = index
                state = .original(source, streamIndex: index)
            case .failure(let error):
                batch.rejected.append(RowError(line: lineNumber, column: "", message: error.description))
                return
            }
        }
        let collectedAt = source.start.microseconds + Int64((values.0 * 1_000_000).rounded())
        batch.append(
            stream: stream!, collectedAt: collectedAt, measuredTime: values.0, values.1, values.2, values.3, values.4,
            line: lineNumber)
    }

    private static func name(of role: Role) -> String {
        switch role {
        case .machine: "machine_name"
        case .sensor: "sensor_no"
        case .collectedAt: "collected_at"
        case .measuredTime: "measured_time"
        case .normal: "normal"
        case .unbalance: "unbalance"
        case .looseness: "looseness"
        case .unbalanceLooseness: "unbalance_looseness"
        case .ignored: "id"
        }
    }

    private mutating func reject(
        _ p: UnsafePointer<UInt8>, _ field: Int, column: String, reason: String, into batch: inout SampleBatch
    ) {
        var text = String(decoding: fieldBytes(p, field).prefix(40), as: UTF8.self)
        if fieldEnds[field] - fieldStarts[field] > 40 { text += "…" }
        batch.rejected.append(RowError(line: lineNumber, column: column, message: "'\(text)' \(reason)"))
    }

    /// The stream of the row, reusing the previous row's when the names are the same bytes.
    private mutating func streamIndex(
        _ p: UnsafePointer<UInt8>, machineField: Int, sensorField: Int, into batch: inout SampleBatch
    ) -> Int32? {
        if let last = lastStream, fieldEquals(p, machineField, last.machine), fieldEquals(p, sensorField, last.sensor) {
            return last.index
        }
        let machine = fieldBytes(p, machineField)
        let sensor = fieldBytes(p, sensorField)
        // Names an export marked against spreadsheet formulas read back as they were stored; a MySQL
        // batch export writes a backslash in a name as two.
        let tsv = delimiter == 0x09
        guard let machineName = String(validating: SpreadsheetText.unescaped(tsv ? Self.mysqlUnescaped(machine) : machine), as: UTF8.self)
        else {
            batch.rejected.append(RowError(line: lineNumber, column: "machine_name", message: "is not valid UTF-8"))
            return nil
        }
        guard let sensorNo = String(validating: SpreadsheetText.unescaped(tsv ? Self.mysqlUnescaped(sensor) : sensor), as: UTF8.self)
        else {
            batch.rejected.append(RowError(line: lineNumber, column: "sensor_no", message: "is not valid UTF-8"))
            return nil
        }
        switch streams.index(of: StreamKey(machineName: machineName, sensorNo: sensorNo), into: &batch) {
        case .success(let index):
            lastStream = (machine, sensor, index)
            return index
        case .failure(let error):
            // One refusal per row, naming every field at fault: the report counts refused rows.
            let first = error.violations[0]
            let message = ([first.message] + error.violations.dropFirst().map { "\($0.field) \($0.message)" }).joined(separator: "; ")
            batch.rejected.append(RowError(line: lineNumber, column: first.field, message: message))
            return nil
        }
    }

    /// A field of `mysql --batch` output as it was stored: `\\`, `\t`, `\n` and `\0` are a backslash,
    /// a tab, a line feed and a NUL.
    static func mysqlUnescaped(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(UInt8(ascii: "\\")) else { return bytes }
        var out: [UInt8] = []
        var escaped = false
        for byte in bytes {
            if escaped {
                switch byte {
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "0"): out.append(0)
                default: out.append(byte)
                }
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else {
                out.append(byte)
            }
        }
        return out
    }

    /// Whether an unquoted field is exactly these bytes (quoted fields take the slow path).
    @inline(__always)
    private func fieldEquals(_ p: UnsafePointer<UInt8>, _ i: Int, _ bytes: [UInt8]) -> Bool {
        let start = fieldStarts[i]
        let end = fieldEnds[i]
        guard end - start == bytes.count, start == end || (p[start] != UInt8(ascii: "\"") && p[start] != 0x20 && p[end - 1] != 0x20)
        else { return false }
        return bytes.withUnsafeBufferPointer { memcmp(p + start, $0.baseAddress!, bytes.count) == 0 }
    }

    // MARK: Fields

    /// Finds the fields of a line; quoted fields keep their quotes here and are unquoted on access.
    /// Returns nil for an unclosed quote.
    private mutating func splitFields(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
        fieldStarts.removeAll(keepingCapacity: true)
        fieldEnds.removeAll(keepingCapacity: true)
        var i = 0
        while true {
            fieldStarts.append(i)
            if i < n, p[i] == UInt8(ascii: "\"") {
                i += 1
                while true {
                    guard i < n else { return nil }
                    if p[i] == UInt8(ascii: "\"") {
                        if i + 1 < n, p[i + 1] == UInt8(ascii: "\"") {
                            i += 2
                            continue
                        }
                        i += 1
                        break
                    }
                    i += 1
                }
                while i < n, p[i] != delimiter { i += 1 }
            } else {
                while i < n, p[i] != delimiter { i += 1 }
            }
            fieldEnds.append(i)
            if i >= n { break }
            i += 1
        }
        return fieldStarts.count
    }

    /// Calls `body` with the field's bytes, unquoted and trimmed of surrounding spaces.
    @inline(__always)
    private mutating func withField<R>(_ p: UnsafePointer<UInt8>, _ i: Int, _ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
        var start = fieldStarts[i]
        var end = fieldEnds[i]
        if start < end, p[start] == UInt8(ascii: "\"") {
            unquoted = fieldBytes(p, i)
            return unquoted.withUnsafeBufferPointer { body($0.baseAddress ?? p, $0.count) }
        }
        while start < end, p[start] == 0x20 { start += 1 }
        while end > start, p[end - 1] == 0x20 { end -= 1 }
        return body(p + start, end - start)
    }

    /// The field's bytes, unquoted (`""` inside quotes is one `"`).
    private func fieldBytes(_ p: UnsafePointer<UInt8>, _ i: Int) -> [UInt8] {
        let start = fieldStarts[i]
        let end = fieldEnds[i]
        guard start < end, p[start] == UInt8(ascii: "\"") else {
            var s = start
            var e = end
            while s < e, p[s] == 0x20 { s += 1 }
            while e > s, p[e - 1] == 0x20 { e -= 1 }
            return Array(UnsafeBufferPointer(start: p + s, count: e - s))
        }
        var out: [UInt8] = []
        var j = start + 1
        while j < end {
            if p[j] == UInt8(ascii: "\"") {
                if j + 1 < end, p[j + 1] == UInt8(ascii: "\"") {
                    out.append(UInt8(ascii: "\""))
                    j += 2
                    continue
                }
                break
            }
            out.append(p[j])
            j += 1
        }
        return out
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
