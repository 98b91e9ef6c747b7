// libFuzzer targets for the decoders an outside system reaches: the sample CSV and NDJSON streams,
// the JSON array reader, the diagnosis readers and the list queries' parameters. Built with the
// product's Core sources by scripts/fuzz.sh; `HIMMES_FUZZ_TARGET` names the target. A crash, a
// sanitizer report or a broken invariant (a trap here) is a finding; libFuzzer saves its input.
import Foundation

let target = ProcessInfo.processInfo.environment["HIMMES_FUZZ_TARGET"] ?? "csv"
let now = Timestamp(microseconds: 1_700_000_000_000_000)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    switch target {
    case "csv": checkStream(bytes) { SampleCSVParser(layout: .product, now: now) }
    case "ndjson": checkStream(bytes) { SampleJSONReader(now: now) }
    case "json-array": checkArray(bytes)
    case "diagnoses": checkDiagnoses(bytes)
    case "query": checkQuery(bytes)
    default: fatalError("unknown HIMMES_FUZZ_TARGET '\(target)' (csv, ndjson, json-array, diagnoses, query)")
    }
    return 0
}

/// An invariant of the decoders: broken, it is said on standard error and the process aborts, which
/// libFuzzer records as a finding with its input.
func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String = "an invariant broke") {
    guard !condition() else { return }
    FileHandle.standardError.write(Data("finding: \(message())\n".utf8))
    abort()
}

/// What a decoder kept and refused, in a form two runs can be compared by.
struct Outcome: Equatable {
    var kept: [String] = []
    var refusedLines: [Int] = []
    var failed = false
}

func decode<D: SampleChunkDecoder>(_ bytes: [UInt8], _ decoder: D, chunk: Int) -> Outcome {
    var decoder = decoder
    var batch = SampleBatch()
    var outcome = Outcome()
    do {
        try decoder.decodeAll(bytes, chunk: chunk, into: &batch)
    } catch {
        check("\(error)".contains("line") || "\(error)".contains("element"), "an error that names no place: \(error)")
        outcome.failed = true
        return outcome
    }
    check(batch.count + batch.rejected.count == batch.rowsRead, "a row neither kept nor refused")
    for i in 0..<batch.count {
        for value in [batch.normal[i], batch.unbalance[i], batch.looseness[i], batch.unbalanceLooseness[i]] {
            check(Validation.isAcceleration(value), "kept an acceleration beyond the bound: \(value)")
        }
        check(abs(batch.measuredTime[i]) < Validation.measuredTimeLimit, "kept a measured_time out of range")
        check(Timestamp(microseconds: batch.collectedAt[i]) >= .earliest && Timestamp(microseconds: batch.collectedAt[i]) <= .latest)
        check(Int(batch.stream[i]) < batch.newStreams.count)
        outcome.kept.append("\(batch.stream[i])|\(batch.collectedAt[i])|\(batch.measuredTime[i])|\(batch.normal[i])")
    }
    for error in batch.rejected { check(error.line >= 1 && !error.message.isEmpty, "a refusal without line or reason") }
    outcome.refusedLines = batch.rejected.map(\.line)
    return outcome
}

/// Whole and cut into chunks, a stream must give the same rows.
func checkStream<D: SampleChunkDecoder>(_ bytes: [UInt8], _ make: () -> D) {
    let whole = decode(bytes, make(), chunk: max(1, bytes.count))
    let chunked = decode(bytes, make(), chunk: 1 + Int(bytes.first ?? 0) % 61)
    check(whole.kept == chunked.kept && whole.failed == chunked.failed, "the outcome depends on the chunking")
}

func checkArray(_ bytes: [UInt8]) {
    var reader = SampleJSONReader(now: now)
    var batch = SampleBatch()
    do {
        try bytes.withUnsafeBytes { try reader.parseArray($0, into: &batch) }
    } catch {
        return
    }
    check(batch.count + batch.rejected.count == batch.rowsRead)
    for i in 0..<batch.count { check(Validation.isAcceleration(batch.normal[i]) && Validation.isAcceleration(batch.unbalanceLooseness[i])) }
}

func checkDiagnoses(_ bytes: [UInt8]) {
    let data = Data(bytes)
    var results: [DiagnosisRows] = [DiagnosisReader.ndjson(data, now: now)]
    if let csv = try? DiagnosisReader.csv(data, now: now) { results.append(csv) }
    if let json = try? DiagnosisReader.jsonArray(data, now: now) { results.append(json) }
    for rows in results {
        check(rows.rows.count + rows.rejected.count == rows.received, "a diagnosis neither kept nor refused")
        for row in rows.rows {
            check(row.detectedAt >= .earliest && row.detectedAt <= .latest)
            check(!row.machineName.isEmpty && row.machineName.count <= 50)
        }
    }
}

/// The input as a query string: every value read as each kind of parameter the lists take.
func checkQuery(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    var bounds: [Timestamp] = []
    for pair in text.split(separator: "&") {
        let value = String(pair.split(separator: "=", maxSplits: 1).last ?? "")
        for upper in [false, true] {
            if let t = Timestamp(parsingBound: value, upper: upper) {
                check(t >= .earliest && t <= .latest, "a time outside the calendar: \(t.microseconds)")
                check(Timestamp(parsing: t.rfc3339) == t, "a time that does not read back")
                bounds.append(t)
            }
        }
        if let cursor = try? SampleCursor(token: value) {
            check(cursor.collectedAt >= .earliest && cursor.collectedAt <= .latest && cursor.measuredTime.isFinite)
            check(try! SampleCursor(token: cursor.token) == cursor)
        }
        if let cursor = try? DiagnosisCursor(token: value) {
            check(cursor.detectedAt >= .earliest && cursor.detectedAt <= .latest)
        }
        if let limit = try? Page.limit(Int(value)) { check((1...Page.maximumLimit).contains(limit)) }
    }
    if bounds.count >= 2 {
        let filter = SampleFilter(from: bounds[0], to: bounds[1])
        if (try? filter.validated()) != nil { check(bounds[0] <= bounds[1]) }
    }
}
