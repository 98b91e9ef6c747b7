import VibrationCore
import VibrationStore

/// The samples a filter selects as CSV chunks of about a megabyte, read page by page as the consumer
/// asks for them: memory stays constant however many rows there are, and a slow reader slows the
/// reads down instead of filling a buffer. What it writes, `SampleImporter` reads back to the same rows.
public struct SampleCSVExport: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    public let store: any Store
    public let filter: SampleFilter
    static let pageRows = 10_000
    static let chunkBytes = 1 << 20

    public init(store: any Store, filter: SampleFilter) {
        self.store = store
        self.filter = filter
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let store: any Store
        let filter: SampleFilter
        var writer = SampleCSVWriter(precision: .exact)
        var cursor: SampleCursor?
        var headerWritten = false
        var exhausted = false
        /// Rows written so far.
        public private(set) var rows = 0

        public mutating func next() async throws -> [UInt8]? {
            guard !exhausted else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(SampleCSVExport.chunkBytes + 4096)
            if !headerWritten {
                out += SampleCSVWriter.header.utf8
                headerWritten = true
            }
            while out.count < SampleCSVExport.chunkBytes {
                let page = try await store.samples(matching: filter, after: cursor, limit: SampleCSVExport.pageRows)
                for row in page { writer.append(row.sample, to: &out) }
                rows += page.count
                guard page.count == SampleCSVExport.pageRows, let last = page.last else {
                    exhausted = true
                    break
                }
                cursor = SampleCursor(after: last)
            }
            return out
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(store: store, filter: filter)
    }
}
