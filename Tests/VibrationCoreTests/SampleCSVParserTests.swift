import Foundation
import Testing

@testable import VibrationCore

/// Parses text fed in chunks of the given size.
func parse(
    _ text: String, chunk: Int = 1 << 20, layout: SampleCSVParser.Layout = .detect(original: nil),
    now: Timestamp = Timestamp(microseconds: 42)
) throws -> (batch: SampleBatch, parser: SampleCSVParser) {
    var parser = SampleCSVParser(layout: layout, now: now)
    var batch = SampleBatch()
    let bytes = Array(text.utf8)
    var start = 0
    while start < bytes.count {
        let end = min(bytes.count, start + chunk)
        try bytes[start..<end].withUnsafeBytes { try parser.parse($0, into: &batch) }
        start = end
    }
    try parser.finish(into: &batch)
    return (batch, parser)
}

let header = "machine_name,sensor_no,collected_at,measured_time,normal,unbalance,looseness,unbalance_looseness\n"

@Suite("CSV parser")
struct SampleCSVParserTests {
    @Test("reads rows of the product layout into columns")
    func basic() throws {
        let (batch, parser) = try parse(header + "g1,sensor1,2025-01-01 00:00:00.5,0.000740,0.1,-0.2,3e-1,4\ng2,s,2025-01-01T09:00:00+09:00,1,0,0,0,0\n")
        #expect(batch.count == 2)
        #expect(batch.rowsRead == 2)
        #expect(batch.rejected.isEmpty)
        #expect(parser.streams.keys == [StreamKey(machineName: "g1", sensorNo: "sensor1"), StreamKey(machineName: "g2", sensorNo: "s")])
        let first = batch.sample(at: 0, streams: parser.streams.keys)
        #expect(first.collectedAt == Timestamp(parsing: "2025-01-01T00:00:00.5Z"))
        #expect(first.measuredTime == 0.000740)
        #expect([first.normal, first.unbalance, first.looseness, first.unbalanceLooseness] == [0.1, -0.2, 0.3, 4])
        #expect(batch.sample(at: 1, streams: parser.streams.keys).collectedAt == Timestamp(parsing: "2025-01-01T00:00:00Z"))
        #expect(batch.line == [2, 3])
    }

    @Test("the result does not depend on how the input is cut into chunks", arguments: [1, 2, 7, 64, 4096])
    func chunking(size: Int) throws {
        let generator = PlantGenerator(options: .init(rows: 2_000, machines: 2, sensors: 2, seed: 5))
        var bytes: [UInt8] = []
        try generator.writeCSV { bytes += $0 }
        let text = String(decoding: bytes, as: UTF8.self)
        let whole = try parse(text).batch
        let cut = try parse(text, chunk: size).batch
        #expect(cut.count == 2_000)
        #expect(cut.collectedAt == whole.collectedAt)
        #expect(cut.measuredTime == whole.measuredTime)
        #expect(cut.looseness == whole.looseness)
        #expect(cut.stream == whole.stream)
    }

    @Test("reads back exactly what the generator wrote")
    func generatorRoundTrip() throws {
        let generator = PlantGenerator(options: .init(rows: 3_000, machines: 1, sensors: 3, seed: 9, recordingSeconds: 0.5))
        var bytes: [UInt8] = []
        try generator.writeCSV { bytes += $0 }
        let (batch, parser) = try parse(String(decoding: bytes, as: UTF8.self))
        #expect(batch.count == 3_000)
        var expected: [VibrationSample] = []
        for channel in generator.channels {
            generator.forEachSample(of: channel) { at, t, v in
                expected.append(
                    VibrationSample(
                        machineName: channel.machineName, sensorNo: channel.sensorNo, collectedAt: at, measuredTime: t,
                        normal: v.normal, unbalance: v.unbalance, looseness: v.looseness, unbalanceLooseness: v.unbalanceLooseness))
            }
        }
        for i in stride(from: 0, to: 3_000, by: 97) {
            let got = batch.sample(at: i, streams: parser.streams.keys)
            #expect(got.collectedAt == expected[i].collectedAt)
            #expect(got.measuredTime == expected[i].measuredTime)
            #expect(abs(got.looseness - expected[i].looseness) <= 5e-7)
        }
        // measured_time restarts at 0 for every recording: 3 sensors x 1000 rows / 675 per recording.
        #expect(batch.measuredTime.filter { $0 == 0 }.count == 6)
    }

    @Test("columns in any order, an ignored id, no collected_at, CRLF, BOM, quotes and blank lines")
    func layouts() throws {
        let text = "\u{FEFF}id,normal,unbalance,looseness,unbalance_looseness,measured_time,sensor_no,machine_name\r\n"
            + "7,1,2,3,4,0.5,\"s,1\",\"g \"\"1\"\"\"\r\n\r\n   \n8, 1 ,2,3,4,0.25,s2,g1\r\n"
        let now = Timestamp(microseconds: 1_000)
        let (batch, parser) = try parse(text, now: now)
        #expect(batch.rejected.isEmpty, "\(batch.rejected)")
        #expect(batch.count == 2)
        #expect(parser.streams.keys.first == StreamKey(machineName: "g \"1\"", sensorNo: "s,1"))
        #expect(batch.collectedAt == [1_000, 1_000])
        #expect(batch.normal == [1, 1])
        #expect(batch.line == [2, 5])
    }

    @Test("an empty collected_at cell means now")
    func emptyTime() throws {
        let (batch, _) = try parse(header + "g1,s1,,0,1,2,3,4\n", now: Timestamp(microseconds: 77))
        #expect(batch.collectedAt == [77])
    }

    @Test("each bad row is reported with its line, column and reason, and the rest is read")
    func badRows() throws {
        let rows = [
            "g1,s1,2025-01-01 00:00:00,0,1,2,3,4",  // 2 good
            "g1,s1,2025-01-01 00:00:00,0,1,2,3",  // 3 too few
            "g1,s1,2025-01-01 00:00:00,0,NaN,2,3,4",  // 4 NaN
            "g1,s1,2025-01-01 00:00:00,0,1,inf,3,4",  // 5 inf
            "g1,s1,2025-01-01 00:00:00,0,1,2,1e999,4",  // 6 overflow
            "g1,s1,2025-01-01 00:00:00,abc,1,2,3,4",  // 7 not a number
            "g1,s1,2025-02-30 00:00:00,0,1,2,3,4",  // 8 bad date
            ",s1,2025-01-01 00:00:00,1,1,2,3,4",  // 9 empty machine
            "g1,\(String(repeating: "s", count: 21)),2025-01-01 00:00:00,1,1,2,3,4",  // 10 long sensor
            "g1,\"s1,2025-01-01 00:00:00,1,1,2,3,4",  // 11 unclosed quote
            "g1,s1,2025-01-01 00:00:00,0x10,1,2,3,4",  // 12 hex
            "g1,s1,2025-01-01 00:00:00,1,1,2,3,4,5",  // 13 too many
            "g1,s1,2025-01-01 00:00:01,0,1,2,3,4",  // 14 good
        ]
        let (batch, _) = try parse(header + rows.joined(separator: "\n"))
        #expect(batch.count == 2)
        #expect(batch.line == [2, 14])
        #expect(batch.rowsRead == 13)
        let found = batch.rejected.map { "\($0.line) \($0.column)" }
        #expect(found == [
            "3 ", "4 normal", "5 unbalance", "6 looseness", "7 measured_time", "8 collected_at", "9 machine_name",
            "10 sensor_no", "11 ", "12 measured_time", "13 ",
        ])
        #expect(batch.rejected[1].message.contains("'NaN'"))
        #expect(batch.rejected[0].message == "expected 8 fields, found 7")
    }

    @Test("names that are not UTF-8 are refused")
    func invalidUTF8() throws {
        var bytes = Array(header.utf8)
        bytes += Array("g".utf8) + [0xFF, 0xFE] + Array(",s1,2025-01-01 00:00:00,0,1,2,3,4\n".utf8)
        var parser = SampleCSVParser(now: Timestamp(microseconds: 0))
        var batch = SampleBatch()
        try bytes.withUnsafeBytes { try parser.parse($0, into: &batch) }
        try parser.finish(into: &batch)
        #expect(batch.count == 0)
        #expect(batch.rejected.map(\.column) == ["machine_name"])
    }

    @Test("a line over the limit is rejected whole, with constant memory, and reading goes on")
    func longLine() throws {
        let long = "g1,s1,2025-01-01 00:00:00,0,1,2,3," + String(repeating: "9", count: SampleCSVParser.maximumLineBytes + 10)
        let (batch, _) = try parse(header + long + "\ng1,s1,2025-01-01 00:00:00,1,1,2,3,4\n", chunk: 65_536)
        #expect(batch.count == 1)
        #expect(batch.rejected.map(\.line) == [2])
        #expect(batch.line == [3])
    }

    @Test(
        "a file that cannot be read at all is refused before any row",
        arguments: [
            "", "machine_name,sensor_no,measured_time\n", "machine_name,sensor_no,colour,measured_time,normal,unbalance,looseness,unbalance_looseness\n",
            "machine_name,machine_name,sensor_no,measured_time,normal,unbalance,looseness,unbalance_looseness\n",
            "hello world\n", "0.1,0.2,0.3,0.4,0.5\n",
        ])
    func fatal(text: String) {
        #expect(throws: CSVFormatError.self) { try parse(text, layout: text.isEmpty ? .product : .detect(original: nil)) }
    }

    @Test("the original data set's headerless files take machine, sensor and start from the caller")
    func original() throws {
        let source = SampleCSVParser.OriginalSource(
            machineName: "g1", sensorNo: "sensor3", start: Timestamp(parsing: "2025-05-01T00:00:00Z")!)
        let text = "0.000000,0.1,0.2,0.3,0.4\n0.000740,0.5,0.6,0.7,0.8\n0.001481,x,0,0,0\n"
        let (batch, parser) = try parse(text, layout: .detect(original: source))
        #expect(parser.streams.keys == [StreamKey(machineName: "g1", sensorNo: "sensor3")])
        #expect(batch.count == 2)
        #expect(batch.collectedAt[1] == Timestamp(parsing: "2025-05-01T00:00:00.00074Z")!.microseconds)
        #expect(batch.unbalanceLooseness == [0.4, 0.8])
        #expect(batch.line == [1, 2])
        #expect(batch.rejected.map { "\($0.line) \($0.column)" } == ["3 normal"])
        let withHeader = try parse("time,normal,type1,type2,type3\n" + text, layout: .detect(original: source)).batch
        #expect(withHeader.count == 2)
        #expect(withHeader.line == [2, 3])
    }
}

@Suite("Number parsing")
struct NumberParsingTests {
    @Test("agrees bit for bit with the standard library on many decimals")
    func exact() {
        var rng = SplitMix64(seed: 3)
        var texts = ["0", "-0", "1", "0.1", "0.000740", "123456789012345678901234567890", "1e22", "1e23", "2.2250738585072014e-308",
            "4.9e-324", "1.7976931348623157e308", "0.30000000000000004", "9007199254740993", "-12.5e-3", "+3"]
        for _ in 0..<20_000 {
            let value = (rng.unit() - 0.5) * pow(10, Double(Int(rng.next() % 40) - 20))
            texts.append(value.description)
            var fixed: [UInt8] = []
            NumberFormatting.appendFixed6(value, to: &fixed)
            texts.append(String(decoding: fixed, as: UTF8.self))
        }
        for text in texts {
            let ours = NumberParsing.double(text)
            #expect(ours?.bitPattern == Double(text)?.bitPattern, "\(text)")
        }
    }

    @Test("refuses what is not plain decimal notation", arguments: ["", "-", ".", "e5", "1e", "1.2.3", "nan", "inf", "0x1p3", "1,5", " 1", "1e999", "--1"])
    func refuses(text: String) {
        #expect(NumberParsing.double(text) == nil)
    }

    @Test("integers are written as the standard library writes them")
    func integers() {
        var rng = SplitMix64(seed: 11)
        var values: [Int64] = [0, 9, 10, 99, 100, 12_345, .max, -1, -10, -987_654_321, .min + 1]
        for _ in 0..<1_000 { values.append(Int64(bitPattern: rng.next()) >> Int64(rng.next() % 63)) }
        for value in values {
            var out: [UInt8] = []
            NumberFormatting.appendInteger(value, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(value))
        }
    }

    @Test("grouped integers put a comma between every three digits, sign first", arguments: [
        (Int64(0), "0"), (999, "999"), (1_000, "1,000"), (-1_000, "-1,000"), (16_000_000, "16,000,000"), (-12_345, "-12,345"),
        (.min, "-9,223,372,036,854,775,808"),
    ])
    func grouped(value: Int64, text: String) {
        #expect(value.grouped == text)
        #expect(Int(value).grouped == text)
    }

    @Test("the timestamp writer writes what Timestamp.csv writes")
    func timestampWriter() {
        var writer = TimestampWriter()
        for micro: Int64 in [0, 1, 999_999, 1_000_000, 1_735_689_600_000_740, 1_735_689_600_500_000, -1, -1_000_001] {
            var out: [UInt8] = []
            writer.append(Timestamp(microseconds: micro), to: &out)
            #expect(String(decoding: out, as: UTF8.self) == Timestamp(microseconds: micro).csv)
        }
    }
}
