import Foundation
import Testing

@testable import VibrationCore

/// Hostile input for the two streaming sample decoders (CSV and NDJSON) and the JSON array reader:
/// a fixed corpus of the inputs outside systems are known to send, then seeded random mutations of
/// valid files. Whatever the bytes, a decoder must not crash, must account for every row it read
/// (stored or rejected with its line, column and reason), must keep only finite values within
/// range, and must give the same answer however the input is cut into chunks.
@Suite("Parser fuzzing")
struct ParserFuzzTests {
    static let header = "machine_name,sensor_no,collected_at,measured_time,normal,unbalance,looseness,unbalance_looseness\n"

    static func validCSV(rows: Int = 12) -> [UInt8] {
        Array(
            (header + (0..<rows).map { "m\($0 % 3),s\($0 % 2),2025-01-01T00:00:0\($0 % 10)Z,\(Double($0) / 100),0.1,-0.2,3e-1,\($0)\n" }.joined())
                .utf8)
    }

    static func validNDJSON(rows: Int = 12) -> [UInt8] {
        Array(
            (0..<rows).map {
                #"{"machine_name": "m\#($0 % 3)", "sensor_no": "s1", "collected_at": "2025-01-01T00:00:00Z", "measured_time": \#(Double($0) / 100), "normal": 0.1, "unbalance": -0.2, "looseness": 0.3, "unbalance_looseness": 4}"#
                    + "\n"
            }.joined().utf8)
    }

    /// What a decoder made of some bytes: the rows kept, the rows refused, or the reason it stopped.
    struct Outcome: Equatable {
        var kept: [String] = []
        var rejected: [RowError] = []
        var rowsRead = 0
        var failure: String?
    }

    static func decode<D: SampleChunkDecoder>(_ bytes: [UInt8], with decoder: D, chunk: Int) -> Outcome {
        var decoder = decoder
        var batch = SampleBatch()
        var outcome = Outcome()
        do {
            try decoder.decodeAll(bytes, chunk: chunk, into: &batch)
        } catch {
            outcome.failure = "\(error)"
            return outcome
        }
        outcome.rowsRead = batch.rowsRead
        outcome.rejected = batch.rejected
        outcome.kept = (0..<batch.count).map { (i: Int) -> String in
            let values: [Double] = [batch.measuredTime[i], batch.normal[i], batch.unbalance[i], batch.looseness[i], batch.unbalanceLooseness[i]]
            return "\(batch.stream[i])|\(batch.collectedAt[i])|\(batch.line[i])|" + values.map { "\($0)" }.joined(separator: "|")
        }
        // Every row read is either kept or refused with a reason; every kept value is a finite number.
        #expect(batch.count + batch.rejected.count == batch.rowsRead, "\(String(decoding: bytes, as: UTF8.self).debugDescription) \(batch.rejected) rows read \(batch.rowsRead), kept \(batch.count), refused \(batch.rejected.count)")
        for index in 0..<batch.count {
            for value in [batch.measuredTime[index], batch.normal[index], batch.unbalance[index], batch.looseness[index], batch.unbalanceLooseness[index]] {
                #expect(value.isFinite)
            }
            #expect(Int(batch.stream[index]) < batch.newStreams.count)
        }
        for error in batch.rejected {
            #expect(error.line >= 1 && !error.message.isEmpty)
        }
        for key in batch.newStreams {
            #expect(!key.machineName.isEmpty && key.machineName.utf8.count <= 255 && !key.sensorNo.isEmpty)
        }
        return outcome
    }

    /// Decodes whole and in random chunks, and checks both say the same.
    static func check<D: SampleChunkDecoder>(_ bytes: [UInt8], _ make: () -> D, rng: inout SplitMix64) -> Outcome {
        let whole = decode(bytes, with: make(), chunk: max(1, bytes.count))
        let chunked = decode(bytes, with: make(), chunk: Int.random(in: 1...64, using: &rng))
        // The same rows kept and refused (a line over the length limit may be refused for its length
        // when it arrives in pieces, for its field when whole).
        #expect(whole.kept == chunked.kept && whole.rejected.map(\.line) == chunked.rejected.map(\.line) && whole.failure == chunked.failure, "the outcome depends on the chunk size for \(String(decoding: bytes.prefix(200), as: UTF8.self).debugDescription)")
        return whole
    }

    static let now = Timestamp(microseconds: 1_700_000_000_000_000)
    static func csvDecoder() -> SampleCSVParser { SampleCSVParser(layout: .product, now: now) }
    static func ndjsonDecoder() -> SampleJSONReader { SampleJSONReader(now: now) }

    // MARK: The corpus

    static let csvCorpus: [(String, [UInt8], expectKept: Int?)] = {
        let h = header
        let long = String(repeating: "x", count: 2 << 20)
        return [
            ("empty", [], 0),
            ("header only", Array(h.utf8), 0),
            ("BOM and CRLF", [0xEF, 0xBB, 0xBF] + Array((h + "m,s,2025-01-01T00:00:00Z,0.1,1,2,3,4\n").replacingOccurrences(of: "\n", with: "\r\n").utf8), 1),
            ("truncated last line", Array((h + "m,s,2025-01-01T00:00:00Z,0.1,1,2,3,4\nm,s,2025-01-01T00:00:00Z,0.2,1,2").utf8), 1),
            ("quoted fields with commas, quotes and a newline",
             Array((h + "\"m,1\",\"s \"\"a\"\"\",2025-01-01T00:00:00Z,0.1,1,2,3,4\n\"m\nx\",s,2025-01-01T00:00:00Z,0.2,1,2,3,4\n").utf8), nil),
            ("an unterminated quote", Array((h + "\"m,s,2025-01-01T00:00:00Z,0.1,1,2,3,4\nm,s,2025-01-01T00:00:00Z,0.2,1,2,3,4\n").utf8), nil),
            ("NaN and Infinity", Array((h + "m,s,,0.1,NaN,2,3,4\nm,s,,0.2,1,Infinity,3,4\nm,s,,0.3,1,2,-inf,4\nm,s,,0.4,1,2,3,1e400\n").utf8), 0),
            ("too few and too many columns", Array((h + "m,s,2025-01-01T00:00:00Z,0.1,1,2,3\nm,s,2025-01-01T00:00:00Z,0.1,1,2,3,4,5\n").utf8), 0),
            ("invalid UTF-8 in names", Array(h.utf8) + [0xFF, 0xFE, 0x2C, 0x73] + Array(",2025-01-01T00:00:00Z,0.1,1,2,3,4\n".utf8), 0),
            ("timestamps out of range",
             Array((h + "m,s,10000-01-01T00:00:00Z,0.1,1,2,3,4\nm,s,2025-13-01T00:00:00Z,0.2,1,2,3,4\nm,s,2025-02-30T00:00:00Z,0.3,1,2,3,4\nm,s,-0001-01-01T00:00:00Z,0.4,1,2,3,4\nm,s,2025-01-01T25:00:00Z,0.5,1,2,3,4\n").utf8), 0),
            // Seconds within a recording: beyond ±1e9 the time it names would leave the calendar.
            ("negative and huge measured_time", Array((h + "m,s,,-1,1,2,3,4\nm,s,,1e308,1,2,3,4\nm,s,,-2e9,1,2,3,4\n").utf8), 1),
            ("a very long field", Array((h + "\(long),s,,0.1,1,2,3,4\nm,s,,0.2,1,2,3,4\n").utf8), 1),
            ("NUL bytes", Array(h.utf8) + [0, 0, 0x0A] + Array("m\0,s,,0.1,1,2,3,4\n".utf8), nil),
            ("blank and whitespace lines", Array((h + "\n\n   \nm,s,,0.1,1,2,3,4\n\n").utf8), nil),
            ("a header of the wrong columns", Array("a,b,c\n1,2,3\n".utf8), 0),
            // Found by the fuzz target: each bad name was a refusal of its own, so one row counted twice.
            ("a row with two bad names is one refusal", Array((h + "=cmd\u{1},,,0,1,2,3,4\n").utf8), 0),
            ("random bytes", (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }, 0),
        ]
    }()

    @Test("the CSV corpus: clear errors, no crash, every row accounted for")
    func csvCorpusCases() {
        var rng = SplitMix64(seed: 1)
        for (name, bytes, expectKept) in Self.csvCorpus {
            let outcome = Self.check(bytes, Self.csvDecoder, rng: &rng)
            if let failure = outcome.failure {
                // A file that cannot be read at all says where and why.
                #expect(failure.contains("line"), "\(name): \(failure)")
            }
            if let expectKept { #expect(outcome.kept.count == expectKept, "\(name): kept \(outcome.kept.count), \(outcome.rejected), \(outcome.failure ?? "")") }
        }
    }

    static let ndjsonCorpus: [(String, [UInt8], expectKept: Int?)] = {
        let open = #"{"machine_name": "m", "sensor_no": "s", "measured_time": 0.1, "normal": 1, "unbalance": 2, "looseness": 3, "unbalance_looseness": 4"#
        let row = #"{"machine_name": "m", "sensor_no": "s", "measured_time": 0.1, "normal": 1, "unbalance": 2, "looseness": 3, "unbalance_looseness": 4}"#
        return [
            ("empty", [], 0),
            ("BOM and CRLF", [0xEF, 0xBB, 0xBF] + Array((row + "\r\n" + row + "\r\n").utf8), nil),
            ("truncated last line", Array((row + "\n" + row.prefix(40)).utf8), 1),
            ("NaN and Infinity", Array((row.replacingOccurrences(of: "\"normal\": 1", with: "\"normal\": NaN") + "\n" + row.replacingOccurrences(of: "2,", with: "Infinity,") + "\n" + row.replacingOccurrences(of: "\"looseness\": 3", with: "\"looseness\": 1e400") + "\n").utf8), 0),
            ("missing and extra fields", Array((#"{"machine_name": "m"}"# + "\n" + open + #", "extra": [1, {"a": null}]}"# + "\n").utf8), 1),
            ("wrong types", Array((row.replacingOccurrences(of: "\"normal\": 1", with: "\"normal\": \"1\"") + "\n" + row.replacingOccurrences(of: "\"m\"", with: "42") + "\n").utf8), 0),
            ("invalid UTF-8", Array(#"{"machine_name": ""#.utf8) + [0xC3, 0x28] + Array(#"", "sensor_no": "s", "measured_time": 0.1, "normal": 1, "unbalance": 2, "looseness": 3, "unbalance_looseness": 4}"#.utf8) + [0x0A], 0),
            ("timestamps out of range", Array((open + #", "collected_at": "99999-01-01T00:00:00Z"}"# + "\n" + open + #", "collected_at": 5}"# + "\n").utf8), 0),
            ("huge measured_time", Array((row.replacingOccurrences(of: "0.1,", with: "1e300,") + "\n").utf8), 0),
            ("an object followed by more text is refused, not kept", Array((row + #" "looseness": 3}"# + "\n" + row + " 5\n" + row + "\n").utf8), 1),
            ("not objects", Array("[1,2]\n\"text\"\nnull\n{}\n{\n".utf8), 0),
            ("deep nesting", Array((String(repeating: "[", count: 100_000) + "\n" + row + "\n").utf8), 1),
            ("a very long string", Array((row.replacingOccurrences(of: "\"m\"", with: "\"" + String(repeating: "y", count: 1 << 20) + "\"") + "\n" + row + "\n").utf8), 1),
            ("random bytes", (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 40_503 >> 3) }, 0),
        ]
    }()

    @Test("the NDJSON corpus: clear errors, no crash, every line accounted for")
    func ndjsonCorpusCases() {
        var rng = SplitMix64(seed: 2)
        for (name, bytes, expectKept) in Self.ndjsonCorpus {
            let outcome = Self.check(bytes, Self.ndjsonDecoder, rng: &rng)
            #expect(outcome.failure == nil, "\(name): NDJSON refuses lines, never the stream: \(outcome.failure ?? "")")
            if let expectKept { #expect(outcome.kept.count == expectKept, "\(name): kept \(outcome.kept.count), \(outcome.rejected)") }
        }
    }

    // MARK: Random mutations

    /// One random edit of the kind that truncation, bit rot and hostile clients produce.
    static func mutate(_ bytes: inout [UInt8], rng: inout SplitMix64) {
        let specials: [UInt8] = Array(",\"\n\r{}[]:\\ .-eE0123456789".utf8) + [0, 0xFF, 0xC3, 0xEF, 0xBB, 0xBF]
        let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &rng)
        switch Int.random(in: 0..<7, using: &rng) {
        case 0 where !bytes.isEmpty: bytes[position] = UInt8.random(in: 0...255, using: &rng)
        case 1 where !bytes.isEmpty: bytes[position] = specials.randomElement(using: &rng)!
        case 2: bytes.insert(contentsOf: (0..<Int.random(in: 1...8, using: &rng)).map { _ in specials.randomElement(using: &rng)! }, at: position)
        case 3 where !bytes.isEmpty: bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...40, using: &rng)))
        case 4 where !bytes.isEmpty:
            let end = min(bytes.count, position + Int.random(in: 1...200, using: &rng))
            bytes.insert(contentsOf: bytes[position..<end], at: Int.random(in: 0...bytes.count, using: &rng))
        case 5: bytes.removeSubrange(position..<bytes.count)
        default: bytes.insert(contentsOf: Array(["NaN", "Infinity", "-1e999", "\"\"", "9999-99-99T99:99:99Z", "null"].randomElement(using: &rng)!.utf8), at: position)
        }
    }

    @Test("mutated CSV files: every outcome is a clear error or rows accounted for, the same in any chunking")
    func csvMutations() {
        var rng = SplitMix64(seed: 0xC5F)
        let valid = Self.validCSV()
        var failures = 0
        for _ in 0..<1_500 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...6, using: &rng) { Self.mutate(&bytes, rng: &rng) }
            let outcome = Self.check(bytes, Self.csvDecoder, rng: &rng)
            if let failure = outcome.failure {
                failures += 1
                #expect(failure.contains("line"), "\(failure)")
            }
        }
        // Most damage is to rows, which are refused one by one; only a broken header stops the file.
        #expect(failures < 1_500 / 2)
    }

    @Test("mutated NDJSON: each line is kept or refused with a reason, the same in any chunking")
    func ndjsonMutations() {
        var rng = SplitMix64(seed: 0x4D5)
        let valid = Self.validNDJSON()
        for _ in 0..<1_500 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...6, using: &rng) { Self.mutate(&bytes, rng: &rng) }
            let outcome = Self.check(bytes, Self.ndjsonDecoder, rng: &rng)
            #expect(outcome.failure == nil)
        }
    }

    @Test("mutated JSON arrays: refused as a whole with the element at fault, or rows accounted for")
    func jsonArrayMutations() {
        var rng = SplitMix64(seed: 0x7A)
        let valid = Array(("[" + String(decoding: Self.validNDJSON(), as: UTF8.self).split(separator: "\n").joined(separator: ",") + "]").utf8)
        var refused = 0
        for _ in 0..<1_500 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...6, using: &rng) { Self.mutate(&bytes, rng: &rng) }
            let (batch, error) = Self.parseArray(bytes)
            if let error {
                refused += 1
                #expect(!error.isEmpty)
            } else {
                #expect(batch.count + batch.rejected.count == batch.rowsRead)
                #expect((0..<batch.count).allSatisfy { batch.normal[$0].isFinite && batch.unbalanceLooseness[$0].isFinite })
            }
        }
        #expect(refused > 0 && refused < 1_500)
    }

    static func parseArray(_ bytes: [UInt8]) -> (SampleBatch, String?) {
        var reader = SampleJSONReader(now: now)
        var batch = SampleBatch()
        do {
            try bytes.withUnsafeBytes { raw in try reader.parseArray(raw, into: &batch) }
        } catch {
            return (batch, "\(error)")
        }
        return (batch, nil)
    }
}

@Suite("Hostile values")
struct HostileValueTests {
    @Test("spreadsheet marks undo exactly, for any text of quotes, formula characters and others")
    func spreadsheetRoundTrip() {
        var rng = SplitMix64(seed: 0x5EED)
        let alphabet = Array("'=+-@a, \"\t\r".utf8)
        for _ in 0..<20_000 {
            let text = (0..<Int.random(in: 0...6, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            let escaped = SpreadsheetText.escaped(text)
            #expect(SpreadsheetText.unescaped(escaped) == text, "\(String(decoding: text, as: UTF8.self).debugDescription)")
            // What a spreadsheet runs never starts an escaped cell.
            if let first = escaped.first { #expect(!SpreadsheetText.startsFormula(first)) }
        }
    }

    @Test("values beyond ±100,000 g are refused in both streams with their column; the bound itself is kept")
    func accelerationBound() {
        let header = "machine_name,sensor_no,collected_at,measured_time,normal,unbalance,looseness,unbalance_looseness\n"
        let csv = header + "m,s,,0.1,1e300,0,0,0\nm,s,,0.2,0,-1e6,0,0\nm,s,,0.3,0,0,100000.001,0\nm,s,,0.4,-100000,100000,0,1e-300\n"
        var rng = SplitMix64(seed: 3)
        let outcome = ParserFuzzTests.check(Array(csv.utf8), ParserFuzzTests.csvDecoder, rng: &rng)
        #expect(outcome.kept.count == 1)
        #expect(outcome.rejected.map(\.column) == ["normal", "unbalance", "looseness"])
        #expect(outcome.rejected.allSatisfy { $0.message.contains("100,000 g") })
        let original = "0.1,1e300,0,0,0\n0.2,1,2,3,4\n"
        var parser = SampleCSVParser(layout: .original(.init(machineName: "m", sensorNo: "s", start: .earliest)), now: .earliest)
        var batch = SampleBatch()
        try? Array(original.utf8).withUnsafeBytes { try parser.decode($0, into: &batch) }
        try? parser.finish(into: &batch)
        #expect(batch.count == 1 && batch.rejected.first?.column == "normal")
    }

    @Test("a header line longer than the line limit is refused as a header, not as an empty file")
    func longHeader() {
        let header = Array(("machine_name," + String(repeating: "x", count: SampleCSVParser.maximumLineBytes + 10) + "\n").utf8)
        var rng = SplitMix64(seed: 4)
        let outcome = ParserFuzzTests.check(header, ParserFuzzTests.csvDecoder, rng: &rng)
        #expect(outcome.failure?.contains("header line is longer") == true, "\(outcome.failure ?? "none")")
        let diagnoses = Data(("machine_name,fault_type\n" + String(repeating: "y", count: 2 << 20) + ",1\ng1,1\n").utf8)
            + Data([0x67, 0xFF, 0x2C, 0x31, 0x0A])
        let rows = try? DiagnosisReader.csv(diagnoses, now: .earliest)
        #expect(rows?.rows.count == 1)
        #expect(rows?.rejected.map(\.message) == ["line is longer than \(SampleCSVParser.maximumLineBytes) bytes", "is not valid UTF-8"])
    }

    @Test("cursors a server never gave out are refused: times outside the calendar, measured times not finite")
    func forgedCursors() throws {
        for token in ["s7fffffffffffffff.0.1", "s-8000000000000000.0.1", "s0.7ff8000000000000.1", "s0.7ff0000000000000.1"] {
            #expect(throws: ValidationError.self) { try SampleCursor(token: token) }
        }
        for token in ["d7fffffffffffffff.1", "d-8000000000000000.1"] {
            #expect(throws: ValidationError.self) { try DiagnosisCursor(token: token) }
        }
        let real = SampleCursor(collectedAt: .latest, measuredTime: -1e9 + 1, id: .max)
        #expect(try SampleCursor(token: real.token) == real)
    }
}
