/// Writes samples in the product's CSV layout, the one `SampleCSVParser` reads back to the same rows.
public struct SampleCSVWriter: Sendable {
    public static let header =
        "machine_name,sensor_no,collected_at,measured_time,normal,unbalance,looseness,unbalance_looseness\n"

    public enum Precision: Sendable {
        /// Six decimals: the generator's data, compact and fast.
        case fixed6
        /// The shortest text that reads back to the same Double: exports of stored values.
        case exact
    }

    private let precision: Precision
    private var timestamps = TimestampWriter()
    private var escaped: [String: [UInt8]] = [:]
    /// The names of the last sensor written and their text: rows of one sensor repeat them.
    private var lastSensor: (machineName: String, sensorNo: String, names: [UInt8])?

    public init(precision: Precision) {
        self.precision = precision
    }

    public mutating func append(_ sample: VibrationSample, to out: inout [UInt8]) {
        let names: [UInt8]
        if let last = lastSensor, last.machineName == sample.machineName, last.sensorNo == sample.sensorNo {
            names = last.names
        } else {
            names = self.names(machineName: sample.machineName, sensorNo: sample.sensorNo)
            lastSensor = (sample.machineName, sample.sensorNo, names)
        }
        append(
            names: names, collectedAt: sample.collectedAt, measuredTime: sample.measuredTime, sample.normal, sample.unbalance,
            sample.looseness, sample.unbalanceLooseness, to: &out)
    }

    /// The text of a sensor's names with the commas after them, once per sensor for `append(names:...)`.
    public mutating func names(machineName: String, sensorNo: String) -> [UInt8] {
        var bytes: [UInt8] = []
        appendName(machineName, to: &bytes)
        bytes.append(UInt8(ascii: ","))
        appendName(sensorNo, to: &bytes)
        bytes.append(UInt8(ascii: ","))
        return bytes
    }

    /// A row of a sensor whose `names` were written once: for generators writing millions of rows a second.
    public mutating func append(
        names: [UInt8], collectedAt: Timestamp, measuredTime: Double, _ normal: Double, _ unbalance: Double,
        _ looseness: Double, _ unbalanceLooseness: Double, to out: inout [UInt8]
    ) {
        out.append(contentsOf: names)
        // The fields after the names, built in a buffer on the stack and appended at once.
        let capacity = TimestampWriter.maximumLength + 5 * (NumberFormatting.maximumLength + 1) + 1
        let precision = precision
        ByteCursor.append(to: &out, capacity: capacity) { row in
            func value(_ v: Double) {
                row.put(UInt8(ascii: ","))
                switch precision {
                case .fixed6: NumberFormatting.appendFixed6(v, to: &row)
                case .exact: NumberFormatting.appendShortest(v, to: &row)
                }
            }
            timestamps.append(collectedAt, to: &row)
            value(measuredTime)
            value(normal)
            value(unbalance)
            value(looseness)
            value(unbalanceLooseness)
            row.put(UInt8(ascii: "\n"))
        }
    }

    /// Names a spreadsheet would run as a formula are marked (see `SpreadsheetText`); names are
    /// quoted only when they must be (a comma, quote or line break inside).
    private mutating func appendName(_ name: String, to out: inout [UInt8]) {
        if let known = escaped[name] {
            out.append(contentsOf: known)
            return
        }
        var bytes = SpreadsheetText.escaped(Array(name.utf8))
        if bytes.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D })
            || bytes.first == 0x20 || bytes.last == 0x20
        {
            bytes = [UInt8(ascii: "\"")] + bytes.flatMap { $0 == UInt8(ascii: "\"") ? [$0, $0] : [$0] } + [UInt8(ascii: "\"")]
        }
        if escaped.count < 10_000 { escaped[name] = bytes }
        out.append(contentsOf: bytes)
    }
}

extension PlantGenerator {
    /// The whole plant as one CSV file in the product's layout, handed out in chunks of about `chunkBytes`.
    public func writeCSV(chunkBytes: Int = 1 << 20, _ emit: ([UInt8]) throws -> Void) throws {
        var out: [UInt8] = Array(SampleCSVWriter.header.utf8)
        out.reserveCapacity(chunkBytes + 4096)
        var writer = SampleCSVWriter(precision: .fixed6)
        for channel in channels {
            var failure: (any Error)?
            forEachSample(of: channel) { collectedAt, measuredTime, v in
                guard failure == nil else { return }
                writer.append(
                    VibrationSample(
                        machineName: channel.machineName, sensorNo: channel.sensorNo, collectedAt: collectedAt,
                        measuredTime: measuredTime, normal: v.normal, unbalance: v.unbalance, looseness: v.looseness,
                        unbalanceLooseness: v.unbalanceLooseness), to: &out)
                if out.count >= chunkBytes {
                    do { try emit(out) } catch { failure = error }
                    out.removeAll(keepingCapacity: true)
                }
            }
            if let failure { throw failure }
        }
        if !out.isEmpty { try emit(out) }
    }

    /// One channel in the original data set's layout: headerless `time,normal,type1,type2,type3`.
    public func writeOriginalCSV(of channel: Channel, chunkBytes: Int = 1 << 20, _ emit: ([UInt8]) throws -> Void) throws {
        var out: [UInt8] = []
        out.reserveCapacity(chunkBytes + 4096)
        var failure: (any Error)?
        var offset = 0.0
        var previous = -1.0
        forEachSample(of: channel) { _, measuredTime, v in
            guard failure == nil else { return }
            // The original files hold one recording per file: time runs on across recordings.
            if measuredTime < previous { offset += previous + 1 / options.rateHz }
            previous = measuredTime
            for (i, value) in [offset + measuredTime, v.normal, v.unbalance, v.looseness, v.unbalanceLooseness].enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                NumberFormatting.appendFixed6(value, to: &out)
            }
            out.append(UInt8(ascii: "\n"))
            if out.count >= chunkBytes {
                do { try emit(out) } catch { failure = error }
                out.removeAll(keepingCapacity: true)
            }
        }
        if let failure { throw failure }
        if !out.isEmpty { try emit(out) }
    }
}
