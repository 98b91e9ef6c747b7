import Foundation
import HTTPTypes
import OpenAPIRuntime
import VibrationCore
import VibrationStore

/// Which answers the list routes give: this API's pages (`{items, next_cursor}`), or, for a plant
/// whose clients were written for the original system, its plain arrays.
public enum APICompatibility: String, Sendable, CaseIterable {
    case current
    case original
}

/// The original system's two grouped reads, which its dashboards make: the rows of each group
/// read through the store one group at a time.
enum OriginalGroups {
    /// The range of `measured_time` the original's sample reads were limited to.
    static let measuredTimes: ClosedRange<Double> = 0...140

    static func firstSamples(_ store: any Store, perSensor limit: Int) async throws -> [StoredSample] {
        var rows: [StoredSample] = []
        for machine in try await store.machines() {
            for sensor in machine.sensors.sorted() {
                rows += try await store.samplesByMeasuredTime(
                    machineName: machine.machineName, sensorNo: sensor, within: measuredTimes, limit: limit)
            }
        }
        return rows
    }

    static func recentDiagnoses(_ store: any Store, perMachine limit: Int) async throws -> [StoredDiagnosis] {
        var rows: [StoredDiagnosis] = []
        for machine in try await store.latestDiagnoses(machineName: nil).map(\.diagnosis.machineName).sorted() {
            rows += try await store.diagnoses(
                matching: DiagnosisFilter(machineName: machine, order: .newestFirst), after: nil, limit: limit)
        }
        return rows
    }

    static func limit(_ requested: Int?) throws(ValidationError) -> Int {
        let limit = requested ?? 1_000
        guard (1...10_000).contains(limit) else {
            throw ValidationError(field: "per_group_limit", message: "must be between 1 and 10000, got \(limit)")
        }
        return limit
    }
}

extension VibrationAPI {
    func listVibrationDataGroupedRange(_ input: Operations.ListVibrationDataGroupedRange.Input) async throws
        -> Operations.ListVibrationDataGroupedRange.Output
    {
        let rows = try await OriginalGroups.firstSamples(store, perSensor: try OriginalGroups.limit(input.query.perGroupLimit))
        return .ok(.init(body: .json(rows.map(Components.Schemas.VibrationData.init))))
    }

    func listDiagnosesGroupedRecent(_ input: Operations.ListDiagnosesGroupedRecent.Input) async throws
        -> Operations.ListDiagnosesGroupedRecent.Output
    {
        let rows = try await OriginalGroups.recentDiagnoses(store, perMachine: try OriginalGroups.limit(input.query.perGroupLimit))
        return .ok(.init(body: .json(rows.map(Components.Schemas.Diagnosis.init))))
    }
}

/// Under `--compat original`, `GET /vibration-data` and `GET /vibration-diagnosis` answer as the
/// original system did: one plain array of every row (samples with `measured_time` up to 140 s),
/// ordered by machine name, whatever the table's size. The array is written as it is read, a page
/// at a time, so memory stays the same for a thousand rows or a billion. `machine_name` and
/// `sensor_no` narrow it (the original ignored every parameter; its clients filtered what came).
struct OriginalListsMiddleware: ServerMiddleware {
    let store: any Store
    /// The original wrote the plant's local times; these carry its offset too.
    let zone: PlantTimeZone
    static let pageRows = 5_000

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let query = Self.query(request.path ?? "")
        let machine = query["machine_name"].flatMap { $0.isEmpty ? nil : $0 }
        let chunks: OriginalArray
        switch operationID {
        case "listVibrationData":
            chunks = OriginalArray(store: store, kind: .samples(sensorNo: query["sensor_no"].flatMap { $0.isEmpty ? nil : $0 }), machine: machine, zone: zone)
        case "listDiagnoses":
            chunks = OriginalArray(store: store, kind: .diagnoses, machine: machine, zone: zone)
        case "createVibrationData", "createDiagnosis":
            return try await Self.originalCreated(next(request, body, metadata))
        default:
            return try await next(request, body, metadata)
        }
        var iterator = chunks.makeAsyncIterator()
        // The original answered 404 when there was nothing; its clients rely on raise_for_status.
        guard let first = try await iterator.next() else {
            throw Problem(status: .notFound, detail: operationID == "listDiagnoses" ? "No diagnosis data found." : "No vibration data found.")
        }
        return (
            HTTPResponse(status: .ok, headerFields: [.contentType: "application/json; charset=utf-8"]),
            HTTPBody(StartedArray(first: first, rest: iterator), length: .unknown, iterationBehavior: .single)
        )
    }

    /// The original answered a stored row with 200 and `{"status": "success", "data": row}`.
    static func originalCreated(_ answer: (HTTPResponse, HTTPBody?)) async throws -> (HTTPResponse, HTTPBody?) {
        var (response, body) = answer
        guard response.status == .created, let body else { return answer }
        let row = try await [UInt8](collecting: body, upTo: 1 << 20)
        response.status = .ok
        response.headerFields[.contentLength] = nil
        return (response, HTTPBody(Array(#"{"status":"success","data":"#.utf8) + row + [UInt8(ascii: "}")]))
    }

    /// The query's parameters, percent-decoded ('+' is a space, as forms send it).
    static func query(_ path: String) -> [String: String] {
        var components = URLComponents()
        components.percentEncodedQuery = path.split(separator: "?", maxSplits: 1).dropFirst().first
            .map { String($0).replacingOccurrences(of: "+", with: "%20") }
        var values: [String: String] = [:]
        for item in components.queryItems ?? [] where values[item.name] == nil { values[item.name] = item.value ?? "" }
        return values
    }
}

/// A list route's rows as the chunks of one JSON array, `[` first and `]` last; nil at once when
/// there is no row at all.
struct OriginalArray: AsyncSequence, Sendable {
    typealias Element = [UInt8]
    enum Kind: Sendable {
        case samples(sensorNo: String?)
        case diagnoses
    }

    let store: any Store
    let kind: Kind
    let machine: String?
    let zone: PlantTimeZone

    struct AsyncIterator: AsyncIteratorProtocol {
        let array: OriginalArray
        var machines: [String]?
        var sampleCursor: SampleCursor?
        var diagnosisCursor: DiagnosisCursor?
        var rowsWritten = 0
        var done = false

        mutating func next() async throws -> [UInt8]? {
            guard !done else { return nil }
            if machines == nil {
                machines = try await array.machineNames()
            }
            var out: [UInt8] = []
            while out.count < 1 << 20, let machine = machines?.first {
                let (bytes, finished) = try await page(of: machine)
                out += bytes
                if finished {
                    machines?.removeFirst()
                    sampleCursor = nil
                    diagnosisCursor = nil
                }
            }
            if machines?.isEmpty == true {
                done = true
                if rowsWritten == 0 { return nil }
                out.append(UInt8(ascii: "]"))
            }
            return out
        }

        /// One page of the machine's rows as JSON, and whether the machine is done.
        private mutating func page(of machine: String) async throws -> (bytes: [UInt8], finished: Bool) {
            var out: [UInt8] = []
            func separator(_ out: inout [UInt8], _ written: inout Int) {
                out.append(UInt8(ascii: written == 0 ? "[" : ","))
                written += 1
            }
            let limit = OriginalListsMiddleware.pageRows
            switch array.kind {
            case .samples(let sensorNo):
                let rows = try await array.store.samples(
                    matching: SampleFilter(machineName: machine, sensorNo: sensorNo), after: sampleCursor, limit: limit)
                for row in rows where row.sample.measuredTime <= OriginalGroups.measuredTimes.upperBound {
                    separator(&out, &rowsWritten)
                    OriginalJSON.append(row, zone: array.zone, to: &out)
                }
                sampleCursor = rows.last.map(SampleCursor.init(after:))
                return (out, rows.count < limit)
            case .diagnoses:
                let rows = try await array.store.diagnoses(
                    matching: DiagnosisFilter(machineName: machine), after: diagnosisCursor, limit: limit)
                for row in rows {
                    separator(&out, &rowsWritten)
                    OriginalJSON.append(row, zone: array.zone, to: &out)
                }
                diagnosisCursor = rows.last.map(DiagnosisCursor.init(after:))
                return (out, rows.count < limit)
            }
        }
    }

    func machineNames() async throws -> [String] {
        if let machine { return [machine] }
        switch kind {
        case .samples: return try await store.machines().map(\.machineName).sorted()
        case .diagnoses: return try await store.latestDiagnoses(machineName: nil).map(\.diagnosis.machineName).sorted()
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(array: self) }
}

/// An array whose first chunk was read to learn whether it is empty, then the rest as it is read.
struct StartedArray: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>
    let first: [UInt8]
    let rest: OriginalArray.AsyncIterator

    struct AsyncIterator: AsyncIteratorProtocol {
        var first: [UInt8]?
        var rest: OriginalArray.AsyncIterator

        mutating func next() async throws -> ArraySlice<UInt8>? {
            if let chunk = first {
                first = nil
                return chunk[...]
            }
            return try await rest.next()?[...]
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(first: first, rest: rest) }
}

/// Rows as the API's JSON objects (the members of `VibrationData` and `Diagnosis`, keys sorted),
/// written straight into bytes: a compatible list may hold millions of them.
enum OriginalJSON {
    /// One member after the first: `,"key":` and the value as the closure writes it.
    private static func member(_ key: String, _ out: inout [UInt8], _ value: (inout [UInt8]) -> Void) {
        out += #",""#.utf8
        out += key.utf8
        out += #"":"#.utf8
        value(&out)
    }

    static func append(_ row: StoredSample, zone: PlantTimeZone, to out: inout [UInt8]) {
        let s = row.sample
        out += #"{"collected_at":"#.utf8
        WaveformJSON.appendString(zone.rfc3339(s.collectedAt), to: &out)
        member("id", &out) { $0 += String(row.id).utf8 }
        member("looseness", &out) { WaveformJSON.appendNumber(s.looseness, to: &$0) }
        member("machine_name", &out) { WaveformJSON.appendString(s.machineName, to: &$0) }
        member("measured_time", &out) { WaveformJSON.appendNumber(s.measuredTime, to: &$0) }
        member("normal", &out) { WaveformJSON.appendNumber(s.normal, to: &$0) }
        member("sensor_no", &out) { WaveformJSON.appendString(s.sensorNo, to: &$0) }
        member("unbalance", &out) { WaveformJSON.appendNumber(s.unbalance, to: &$0) }
        member("unbalance_looseness", &out) { WaveformJSON.appendNumber(s.unbalanceLooseness, to: &$0) }
        out.append(UInt8(ascii: "}"))
    }

    static func append(_ row: StoredDiagnosis, zone: PlantTimeZone, to out: inout [UInt8]) {
        let d = row.diagnosis
        out += #"{"detected_at":"#.utf8
        WaveformJSON.appendString(zone.rfc3339(d.detectedAt), to: &out)
        member("fault_name", &out) { WaveformJSON.appendString(d.faultType.name, to: &$0) }
        member("fault_type", &out) { $0 += String(d.faultType.rawValue).utf8 }
        member("id", &out) { $0 += String(row.id).utf8 }
        member("machine_name", &out) { WaveformJSON.appendString(d.machineName, to: &$0) }
        out.append(UInt8(ascii: "}"))
    }
}
