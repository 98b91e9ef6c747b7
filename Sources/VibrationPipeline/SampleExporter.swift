import VibrationCore
import VibrationStore

/// The samples a filter selects as CSV chunks of about a megabyte, read page by page as the consumer
/// asks for them: memory stays constant however many rows there are, and a slow reader slows the
/// reads down instead of filling a buffer. What it writes, `SampleImporter` reads back to the same rows.
public struct SampleCSVExport: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    /// How the filter's time range selects rows.
    public enum Placement: Sendable {
        /// On the stored collected_at, as the rows were sent: every sensor's rows merged in
        /// (collected_at, measured_time, id) order.
        case stored
        /// On the samples' instants (their recording's start plus measured_time, see docs/SCHEMA.md),
        /// sensor by sensor, each recording's rows in measured_time order.
        case instants
    }

    public let store: any SampleStore & MachineStore
    public let filter: SampleFilter
    public let placement: Placement
    static let pageRows = 10_000
    static let chunkBytes = 1 << 20

    public init(store: any SampleStore & MachineStore, filter: SampleFilter, placement: Placement = .stored) {
        self.store = store
        self.filter = filter
        self.placement = placement
    }

    /// Where the rows come from: the stored order over a filter, or one recording's rows that lie
    /// in a range of instants.
    enum Source: Sendable {
        case stored(SampleFilter)
        case recording(RecordingExtent, measuredTimes: ClosedRange<Double>)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let store: any SampleStore & MachineStore
        let filter: SampleFilter
        let placement: Placement
        var writer = SampleCSVWriter(precision: .exact)
        var sources: [Source]?
        var cursor: SampleCursor?
        var headerWritten = false
        /// Rows written so far.
        public private(set) var rows = 0

        public mutating func next() async throws -> [UInt8]? {
            if sources == nil { sources = try await plan() }
            guard !sources!.isEmpty || !headerWritten else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(SampleCSVExport.chunkBytes + 4096)
            if !headerWritten {
                out += SampleCSVWriter.header.utf8
                headerWritten = true
            }
            while out.count < SampleCSVExport.chunkBytes, let source = sources!.first {
                let page: [StoredSample]
                switch source {
                case .stored(let filter):
                    page = try await store.samples(matching: filter, after: cursor, limit: SampleCSVExport.pageRows)
                    for row in page { writer.append(row.sample, to: &out) }
                    rows += page.count
                case .recording(let extent, let measuredTimes):
                    page = try await store.samples(of: extent, measuredTimes: measuredTimes, after: cursor, limit: SampleCSVExport.pageRows)
                    let instants = (filter.from?.microseconds ?? .min)...(filter.to?.microseconds ?? .max)
                    for row in page
                    where extent.instant(
                        ofRowCollectedAt: row.sample.collectedAt.microseconds, measuredTime: row.sample.measuredTime, within: instants) != nil
                    {
                        writer.append(row.sample, to: &out)
                        rows += 1
                    }
                }
                if page.count == SampleCSVExport.pageRows, let last = page.last {
                    cursor = SampleCursor(after: last)
                } else {
                    sources!.removeFirst()
                    cursor = nil
                }
            }
            return out
        }

        /// The sources in order: the whole filter as stored, or, by instant, each sensor the filter
        /// names, read by recording where its recordings are not stamped at their instants and as
        /// stored where they are (or where the engine has not placed them).
        func plan() async throws -> [Source] {
            guard placement == .instants, filter.from != nil || filter.to != nil else { return [.stored(filter)] }
            let from = filter.from ?? .earliest
            let to = filter.to ?? .latest
            var sources: [Source] = []
            let machines = try await store.machines().filter { filter.machineName == nil || $0.machineName == filter.machineName }
            for machine in machines {
                for sensor in machine.sensors where filter.sensorNo == nil || sensor == filter.sensorNo {
                    let extents = try await store.recordingExtents(machineName: machine.machineName, sensorNo: sensor, from: from, to: to) ?? []
                    if InstantSeries.needed(extents) {
                        for extent in extents {
                            guard let times = InstantSeries.times(of: extent, from: from.microseconds, to: to.microseconds) else { continue }
                            sources.append(.recording(extent, measuredTimes: times))
                        }
                    } else {
                        var one = filter
                        one.machineName = machine.machineName
                        one.sensorNo = sensor
                        sources.append(.stored(one))
                    }
                }
            }
            return sources
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(store: store, filter: filter, placement: placement)
    }
}
