import GRDB
import GRDBSQLite
import VibrationCore

/// One sensor's rows in list order, read a few at a time through one cached statement (a plant of
/// a few hundred sensors otherwise prepared a statement per sensor for every page): the first read
/// takes one row, each next one twice as many as the last, up to what the page still needs.
struct SampleRun {
    let sensorID: Int64
    let machineName: String
    let sensorNo: String
    /// Where the next read continues.
    private var after: SampleKey
    private var buffered: [StoredSample] = []
    private var next = 0
    private var chunk = 0
    private var exhausted = false
    var head: (key: SampleKey, sample: StoredSample)?

    init(sensorID: Int64, machineName: String, sensorNo: String, after: SampleKey) {
        self.sensorID = sensorID
        self.machineName = machineName
        self.sensorNo = sensorNo
        self.after = after
    }

    /// Moves to the next row, reading more when the buffered ones are used up; false at the end.
    mutating func advance(_ statement: Statement, _ filter: StatementArguments, limit: Int) throws -> Bool {
        if next == buffered.count {
            guard !exhausted, limit > 0 else {
                head = nil
                return false
            }
            chunk = min(max(chunk * 2, 1), max(limit, 1))
            let rows = try Row.fetchAll(
                statement, arguments: [sensorID] + filter + [after.collectedAt, after.measuredTime, after.id, chunk])
            exhausted = rows.count < chunk
            buffered = rows.map { row in
                StoredSample(
                    id: row[0],
                    sample: VibrationSample(
                        machineName: machineName, sensorNo: sensorNo, collectedAt: Timestamp(microseconds: row[1]),
                        measuredTime: row[2], normal: row[3], unbalance: row[4], looseness: row[5], unbalanceLooseness: row[6]))
            }
            next = 0
            guard let last = buffered.last else {
                head = nil
                return false
            }
            after = SampleKey(last)
        }
        let sample = buffered[next]
        next += 1
        head = (SampleKey(sample), sample)
        return true
    }
}

/// The list order of samples: (collected_at, measured_time, id).
struct SampleKey: Comparable {
    var collectedAt: Int64
    var measuredTime: Double
    var id: Int64

    init(collectedAt: Int64, measuredTime: Double, id: Int64) {
        self.collectedAt = collectedAt
        self.measuredTime = measuredTime
        self.id = id
    }

    init(_ s: StoredSample) {
        collectedAt = s.sample.collectedAt.microseconds
        measuredTime = s.sample.measuredTime
        id = s.id
    }

    static func < (a: SampleKey, b: SampleKey) -> Bool {
        (a.collectedAt, a.measuredTime, a.id) < (b.collectedAt, b.measuredTime, b.id)
    }
}

/// A binary min-heap, for merging sorted runs.
struct MinHeap<Element> {
    private var items: [Element]
    private let less: (Element, Element) -> Bool

    init(_ items: [Element], by less: @escaping (Element, Element) -> Bool) {
        self.items = []
        self.less = less
        for item in items { insert(item) }
    }

    mutating func insert(_ item: Element) {
        items.append(item)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func popMin() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let min = items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var smallest = i
            if l < items.count, less(items[l], items[smallest]) { smallest = l }
            if r < items.count, less(items[r], items[smallest]) { smallest = r }
            guard smallest != i else { break }
            items.swapAt(i, smallest)
            i = smallest
        }
        return min
    }
}
