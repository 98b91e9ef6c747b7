/// A machine and one of its sensors: the stream a sample belongs to.
public struct StreamKey: Hashable, Sendable {
    public var machineName: String
    public var sensorNo: String

    public init(machineName: String, sensorNo: String) {
        self.machineName = machineName
        self.sensorNo = sensorNo
    }
}

/// One rejected input row: where it was and why.
public struct RowError: Hashable, Sendable, Codable, CustomStringConvertible {
    /// 1-based line of the file or body, header included; for a JSON array, the 1-based element.
    public var line: Int
    /// The column (field) at fault; empty when the row as a whole is.
    public var column: String
    public var message: String

    public init(line: Int, column: String, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        column.isEmpty ? "line \(line): \(message)" : "line \(line), column \(column): \(message)"
    }
}

/// Parsed samples, column by column, ready for a bulk insert. A batch refers to its streams by
/// index into the parser's stream table; `newStreams` carries the entries it added, in order.
public struct SampleBatch: Sendable {
    public var newStreams: [StreamKey] = []
    public var stream: [Int32] = []
    public var collectedAt: [Int64] = []
    public var measuredTime: [Double] = []
    public var normal: [Double] = []
    public var unbalance: [Double] = []
    public var looseness: [Double] = []
    public var unbalanceLooseness: [Double] = []
    /// The input line (or element) of each row, for reports that must say which rows went in.
    public var line: [Int32] = []
    public var rejected: [RowError] = []
    /// Data rows looked at, accepted or not.
    public var rowsRead = 0
    /// Input bytes consumed, for progress.
    public var bytesRead = 0

    public init() {}

    public var count: Int { stream.count }

    public mutating func reserve(_ n: Int) {
        stream.reserveCapacity(n)
        collectedAt.reserveCapacity(n)
        measuredTime.reserveCapacity(n)
        normal.reserveCapacity(n)
        unbalance.reserveCapacity(n)
        looseness.reserveCapacity(n)
        unbalanceLooseness.reserveCapacity(n)
        line.reserveCapacity(n)
    }

    @inline(__always)
    public mutating func append(
        stream s: Int32, collectedAt c: Int64, measuredTime t: Double, _ n: Double, _ u: Double, _ l: Double,
        _ ul: Double, line number: Int
    ) {
        stream.append(s)
        collectedAt.append(c)
        measuredTime.append(t)
        normal.append(n)
        unbalance.append(u)
        looseness.append(l)
        unbalanceLooseness.append(ul)
        line.append(Int32(truncatingIfNeeded: number))
    }

    /// The row at `index` as a domain value, given the stream table it refers to.
    public func sample(at index: Int, streams: [StreamKey]) -> VibrationSample {
        let key = streams[Int(stream[index])]
        return VibrationSample(
            machineName: key.machineName, sensorNo: key.sensorNo, collectedAt: Timestamp(microseconds: collectedAt[index]),
            measuredTime: measuredTime[index], normal: normal[index], unbalance: unbalance[index],
            looseness: looseness[index], unbalanceLooseness: unbalanceLooseness[index])
    }
}

/// Assigns each (machine, sensor) a small index the first time it is seen, and checks the names
/// against the data contract once rather than on every row.
public struct StreamTable: Sendable {
    public private(set) var keys: [StreamKey] = []
    private var indexByKey: [StreamKey: Int32] = [:]

    public init() {}

    /// The index of the stream, adding it to `batch.newStreams` when new; nil with the violations
    /// when the names break the contract.
    public mutating func index(of key: StreamKey, into batch: inout SampleBatch) -> Result<Int32, ValidationError> {
        if let known = indexByKey[key] { return .success(known) }
        var violations: [FieldViolation] = []
        Validation.checkMachineName(key.machineName, into: &violations)
        Validation.checkSensorNo(key.sensorNo, into: &violations)
        guard violations.isEmpty else { return .failure(ValidationError(violations)) }
        let index = Int32(keys.count)
        keys.append(key)
        indexByKey[key] = index
        batch.newStreams.append(key)
        return .success(index)
    }
}

/// Turns chunks of an input format into sample batches: CSV, NDJSON.
public protocol SampleChunkDecoder: Sendable {
    /// Reads the complete records of the chunk; a partial last record waits for the next chunk.
    mutating func decode(_ chunk: UnsafeRawBufferPointer, into batch: inout SampleBatch) throws
    /// Reads what is left at the end of the input.
    mutating func finish(into batch: inout SampleBatch) throws
}

extension SampleChunkDecoder {
    /// Reads the whole input cut into chunks of `chunk` bytes, then finishes: what a stream that
    /// arrives in pieces of that size gives (the tests and fuzz targets compare chunkings with it).
    public mutating func decodeAll(_ bytes: [UInt8], chunk: Int, into batch: inout SampleBatch) throws {
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + max(1, chunk))
            try bytes[start..<end].withUnsafeBytes { try decode($0, into: &batch) }
            start = end
        }
        try finish(into: &batch)
    }
}

extension SampleCSVParser: SampleChunkDecoder {
    public mutating func decode(_ chunk: UnsafeRawBufferPointer, into batch: inout SampleBatch) throws {
        try parse(chunk, into: &batch)
    }
}

extension SampleJSONReader: SampleChunkDecoder {
    public mutating func decode(_ chunk: UnsafeRawBufferPointer, into batch: inout SampleBatch) throws {
        parseLines(chunk, into: &batch)
    }

    public mutating func finish(into batch: inout SampleBatch) throws {
        finishLines(into: &batch)
    }
}
