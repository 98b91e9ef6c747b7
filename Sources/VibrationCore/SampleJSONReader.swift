/// A JSON body that is not well-formed: the request is refused whole.
public struct JSONFormatError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The 1-based array element, or NDJSON line, where reading stopped.
    public var element: Int
    public var message: String

    public init(element: Int, message: String) {
        self.element = element
        self.message = message
    }

    public var description: String { "element \(element): \(message)" }
}

/// Reads samples written as JSON objects with the fields of `POST /vibration-data`, as a JSON
/// array (the original clients' 1000-row batches) or as NDJSON, one object per line.
///
/// Written for this one schema: Foundation's JSONDecoder manages about 200k rows/s here, this about
/// ten times that. Unknown keys are ignored; a well-formed object with a missing or bad field is
/// reported (element, field, reason) and skipped; JSON that is not well-formed stops the read.
public struct SampleJSONReader: Sendable {
    public private(set) var streams = StreamTable()
    private let now: Timestamp
    /// NDJSON lines consumed so far.
    public private(set) var lineNumber = 0
    private var pending: [UInt8] = []
    private var pendingOverflow = false

    /// Reads times written without an offset as the plant's local times.
    private var localTimes: PlantTimeZone.Reader

    /// - Parameters:
    ///   - now: the time given to rows without `collected_at`.
    ///   - zone: the zone of times written without an offset.
    public init(now: Timestamp, zone: PlantTimeZone = .utc) {
        self.now = now
        self.localTimes = PlantTimeZone.Reader(zone)
    }

    // MARK: Array

    /// Reads a whole JSON array of sample objects.
    public mutating func parseArray(_ bytes: UnsafeRawBufferPointer, into batch: inout SampleBatch) throws(JSONFormatError) {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw JSONFormatError(element: 0, message: "the body is empty; expected a JSON array of samples")
        }
        batch.bytesRead += bytes.count
        var cursor = Cursor(p: base, n: bytes.count)
        cursor.skipSpace()
        guard cursor.peek == UInt8(ascii: "[") else {
            throw JSONFormatError(element: 0, message: "expected a JSON array of samples")
        }
        cursor.i += 1
        cursor.skipSpace()
        var element = 0
        if cursor.peek == UInt8(ascii: "]") {
            cursor.i += 1
        } else {
            while true {
                element += 1
                batch.rowsRead += 1
                try object(&cursor, element: element, into: &batch)
                cursor.skipSpace()
                if cursor.peek == UInt8(ascii: ",") {
                    cursor.i += 1
                    cursor.skipSpace()
                    continue
                }
                guard cursor.peek == UInt8(ascii: "]") else {
                    throw JSONFormatError(element: element, message: "expected ',' or ']' after the element")
                }
                cursor.i += 1
                break
            }
        }
        cursor.skipSpace()
        guard cursor.i == cursor.n else { throw JSONFormatError(element: element, message: "text after the array") }
    }

    // MARK: NDJSON

    /// Reads every complete line of an NDJSON chunk; a malformed line is a rejected row.
    public mutating func parseLines(_ chunk: UnsafeRawBufferPointer, into batch: inout SampleBatch) {
        guard let base = chunk.baseAddress?.assumingMemoryBound(to: UInt8.self), chunk.count > 0 else { return }
        batch.bytesRead += chunk.count
        var start = 0
        let n = chunk.count
        while start < n {
            var end = start
            while end < n, base[end] != 0x0A { end += 1 }
            if end == n {
                if pending.count + (n - start) > SampleCSVParser.maximumLineBytes {
                    pendingOverflow = true
                    pending.removeAll()
                } else if !pendingOverflow {
                    pending.append(contentsOf: UnsafeBufferPointer(start: base + start, count: n - start))
                }
                return
            }
            if pending.isEmpty && !pendingOverflow {
                line(base + start, count: end - start, into: &batch)
            } else {
                if !pendingOverflow { pending.append(contentsOf: UnsafeBufferPointer(start: base + start, count: end - start)) }
                finishPending(into: &batch)
            }
            start = end + 1
        }
    }

    public mutating func finishLines(into batch: inout SampleBatch) {
        if !pending.isEmpty || pendingOverflow { finishPending(into: &batch) }
    }

    private mutating func finishPending(into batch: inout SampleBatch) {
        if pendingOverflow {
            pendingOverflow = false
            lineNumber += 1
            batch.rowsRead += 1
            batch.rejected.append(
                RowError(line: lineNumber, column: "", message: "line is longer than \(SampleCSVParser.maximumLineBytes) bytes"))
            return
        }
        let text = pending
        pending.removeAll(keepingCapacity: true)
        text.withUnsafeBufferPointer { line($0.baseAddress!, count: $0.count, into: &batch) }
    }

    private mutating func line(_ p: UnsafePointer<UInt8>, count: Int, into batch: inout SampleBatch) {
        lineNumber += 1
        var cursor = Cursor(p: p, n: count)
        cursor.skipSpace()
        if cursor.i == cursor.n { return }
        batch.rowsRead += 1
        do throws(JSONFormatError) {
            try object(&cursor, element: lineNumber, into: &batch, wholeText: true)
        } catch {
            batch.rejected.append(RowError(line: lineNumber, column: "", message: "not a JSON object: \(error.message)"))
        }
    }

    // MARK: Objects

    private enum Field: Int {
        case machine, sensor, collectedAt, measuredTime, normal, unbalance, looseness, unbalanceLooseness
        static let names = [
            "machine_name", "sensor_no", "collected_at", "measured_time", "normal", "unbalance", "looseness",
            "unbalance_looseness",
        ]
    }

    private static let keys: [[UInt8]] = Field.names.map { Array($0.utf8) }

    /// Reads one object; a semantic fault is a rejected row, a syntax fault is thrown. With
    /// `wholeText` (an NDJSON line), text after the value is a syntax fault too, found before the
    /// row is kept or refused, so that a line is never both.
    private mutating func object(_ c: inout Cursor, element: Int, into batch: inout SampleBatch, wholeText: Bool = false)
        throws(JSONFormatError)
    {
        func checkEnd(_ c: inout Cursor) throws(JSONFormatError) {
            guard wholeText else { return }
            c.skipSpace()
            guard c.i == c.n else { throw JSONFormatError(element: element, message: "text after the object") }
        }
        guard c.peek == UInt8(ascii: "{") else {
            guard c.skipValue() else { throw JSONFormatError(element: element, message: "malformed JSON value") }
            try checkEnd(&c)
            batch.rejected.append(RowError(line: element, column: "", message: "expected an object with the sample's fields"))
            return
        }
        c.i += 1
        var machine: String?
        var sensor: String?
        var collectedAt: Int64?
        var numbers = (Double?.none, Double?.none, Double?.none, Double?.none, Double?.none)
        var fault: RowError?
        c.skipSpace()
        if c.peek == UInt8(ascii: "}") {
            c.i += 1
        } else {
            while true {
                c.skipSpace()
                guard let key = c.string() else { throw JSONFormatError(element: element, message: "expected a field name") }
                c.skipSpace()
                guard c.peek == UInt8(ascii: ":") else { throw JSONFormatError(element: element, message: "expected ':'") }
                c.i += 1
                c.skipSpace()
                let field = Self.keys.firstIndex(of: key).flatMap(Field.init(rawValue:))
                switch field {
                case .machine?, .sensor?:
                    if c.peek == UInt8(ascii: "\"") {
                        guard let bytes = c.string() else { throw JSONFormatError(element: element, message: "malformed string") }
                        guard let text = String(validating: bytes, as: UTF8.self) else {
                            fault = fault ?? RowError(line: element, column: Field.names[field!.rawValue], message: "is not valid UTF-8")
                            break
                        }
                        if field == .machine { machine = text } else { sensor = text }
                    } else {
                        guard c.skipValue() else { throw JSONFormatError(element: element, message: "malformed JSON value") }
                        fault = fault ?? RowError(line: element, column: Field.names[field!.rawValue], message: "must be a string")
                    }
                case .collectedAt?:
                    if c.peek == UInt8(ascii: "\"") {
                        guard let bytes = c.string() else { throw JSONFormatError(element: element, message: "malformed string") }
                        var reader = localTimes
                        let parsed = bytes.withUnsafeBufferPointer { Timestamp.parse($0, localTimes: &reader) }
                        localTimes = reader
                        if let parsed {
                            collectedAt = parsed.microseconds
                        } else {
                            let text = String(decoding: bytes.prefix(40), as: UTF8.self)
                            fault = fault ?? RowError(line: element, column: "collected_at", message: "'\(text)' is not an RFC 3339 time")
                        }
                    } else if c.literal("null") {
                        collectedAt = nil
                    } else {
                        guard c.skipValue() else { throw JSONFormatError(element: element, message: "malformed JSON value") }
                        fault = fault ?? RowError(line: element, column: "collected_at", message: "must be a string (RFC 3339 time)")
                    }
                case let numeric?:
                    let value: Double?
                    if let token = c.numberToken() {
                        value = NumberParsing.double(c.p + token.start, count: token.count)
                        if value == nil, !JSONSyntax.isWellFormed(UnsafeBufferPointer(start: c.p + token.start, count: token.count)) {
                            throw JSONFormatError(element: element, message: "malformed number")
                        }
                        if value == nil {
                            fault = fault ?? RowError(line: element, column: Field.names[numeric.rawValue], message: "must be a finite number")
                        }
                    } else {
                        guard c.skipValue() else { throw JSONFormatError(element: element, message: "malformed JSON value") }
                        value = nil
                        fault = fault ?? RowError(line: element, column: Field.names[numeric.rawValue], message: "must be a number")
                    }
                    switch numeric {
                    case .measuredTime: numbers.0 = value
                    case .normal: numbers.1 = value
                    case .unbalance: numbers.2 = value
                    case .looseness: numbers.3 = value
                    default: numbers.4 = value
                    }
                case nil:
                    guard c.skipValue() else { throw JSONFormatError(element: element, message: "malformed JSON value") }
                }
                c.skipSpace()
                if c.peek == UInt8(ascii: ",") {
                    c.i += 1
                    continue
                }
                guard c.peek == UInt8(ascii: "}") else { throw JSONFormatError(element: element, message: "expected ',' or '}'") }
                c.i += 1
                break
            }
        }
        try checkEnd(&c)
        if let fault {
            batch.rejected.append(fault)
            return
        }
        let missing = [
            machine == nil ? "machine_name" : nil, sensor == nil ? "sensor_no" : nil,
            numbers.0 == nil ? "measured_time" : nil, numbers.1 == nil ? "normal" : nil,
            numbers.2 == nil ? "unbalance" : nil, numbers.3 == nil ? "looseness" : nil,
            numbers.4 == nil ? "unbalance_looseness" : nil,
        ].compactMap { $0 }
        if let first = missing.first {
            batch.rejected.append(RowError(line: element, column: first, message: "is required"))
            return
        }
        guard abs(numbers.0!) < Validation.measuredTimeLimit else {
            batch.rejected.append(RowError(line: element, column: "measured_time", message: Validation.measuredTimeMessage))
            return
        }
        let accelerations = [numbers.1!, numbers.2!, numbers.3!, numbers.4!]
        if let beyond = accelerations.firstIndex(where: { !Validation.isAcceleration($0) }) {
            batch.rejected.append(
                RowError(line: element, column: Field.names[Field.normal.rawValue + beyond], message: Validation.accelerationMessage))
            return
        }
        switch streams.index(of: StreamKey(machineName: machine!, sensorNo: sensor!), into: &batch) {
        case .failure(let error):
            let v = error.violations[0]
            batch.rejected.append(RowError(line: element, column: v.field, message: v.message))
        case .success(let stream):
            batch.append(
                stream: stream, collectedAt: collectedAt ?? now.microseconds, measuredTime: numbers.0!, numbers.1!,
                numbers.2!, numbers.3!, numbers.4!, line: element)
        }
    }

    /// A position in a JSON text.
    struct Cursor {
        let p: UnsafePointer<UInt8>
        let n: Int
        var i = 0

        var peek: UInt8? { i < n ? p[i] : nil }

        mutating func skipSpace() {
            while i < n, p[i] == 0x20 || p[i] == 0x0A || p[i] == 0x0D || p[i] == 0x09 { i += 1 }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard i + count <= n else { return false }
            for k in 0..<count where p[i + k] != word.utf8Start[k] { return false }
            i += count
            return true
        }

        /// A JSON number's extent, or nil (cursor unmoved) when the value is not a number.
        mutating func numberToken() -> (start: Int, count: Int)? {
            let start = i
            var j = i
            if j < n, p[j] == UInt8(ascii: "-") { j += 1 }
            guard j < n, p[j] >= 48, p[j] <= 57 else { return nil }
            while j < n, (p[j] >= 48 && p[j] <= 57) || p[j] == UInt8(ascii: ".") || p[j] | 0x20 == UInt8(ascii: "e")
                || p[j] == UInt8(ascii: "+") || p[j] == UInt8(ascii: "-")
            {
                j += 1
            }
            i = j
            return (start, j - start)
        }

        /// A string's bytes with escapes resolved, or nil when malformed.
        mutating func string() -> [UInt8]? {
            guard peek == UInt8(ascii: "\"") else { return nil }
            i += 1
            let start = i
            while i < n, p[i] != UInt8(ascii: "\""), p[i] != UInt8(ascii: "\\"), p[i] >= 0x20 { i += 1 }
            guard i < n else { return nil }
            if p[i] == UInt8(ascii: "\"") {
                defer { i += 1 }
                return Array(UnsafeBufferPointer(start: p + start, count: i - start))
            }
            var out = Array(UnsafeBufferPointer(start: p + start, count: i - start))
            while i < n {
                let c = p[i]
                i += 1
                switch c {
                case UInt8(ascii: "\""): return out
                case UInt8(ascii: "\\"):
                    guard i < n else { return nil }
                    let e = p[i]
                    i += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        guard var scalar = hex4() else { return nil }
                        if (0xD800..<0xDC00).contains(scalar) {
                            guard literal("\\u"), let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let u = Unicode.Scalar(scalar) else { return nil }
                        out += Array(String(Character(u)).utf8)
                    default: return nil
                    }
                case 0..<0x20: return nil
                default: out.append(c)
                }
            }
            return nil
        }

        mutating func hex4() -> UInt32? {
            guard i + 4 <= n else { return nil }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let c = p[i]
                let d: UInt32
                switch c {
                case 48...57: d = UInt32(c - 48)
                case 65...70: d = UInt32(c - 55)
                case 97...102: d = UInt32(c - 87)
                default: return nil
                }
                value = value * 16 + d
                i += 1
            }
            return value
        }

        /// Moves past one well-formed JSON value of any kind; false when it is malformed.
        mutating func skipValue(depth: Int = 0) -> Bool {
            guard depth < JSONSyntax.maximumDepth, let c = peek else { return false }
            switch c {
            case UInt8(ascii: "\""): return string() != nil
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = c == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                i += 1
                skipSpace()
                if peek == close {
                    i += 1
                    return true
                }
                while true {
                    skipSpace()
                    if c == UInt8(ascii: "{") {
                        guard string() != nil else { return false }
                        skipSpace()
                        guard peek == UInt8(ascii: ":") else { return false }
                        i += 1
                        skipSpace()
                    }
                    guard skipValue(depth: depth + 1) else { return false }
                    skipSpace()
                    if peek == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    guard peek == close else { return false }
                    i += 1
                    return true
                }
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            default:
                guard let token = numberToken() else { return false }
                return JSONSyntax.isWellFormed(UnsafeBufferPointer(start: p + token.start, count: token.count))
            }
        }
    }
}
