import Foundation
import GRDB
import Testing
import VibrationCore

@testable import VibrationStore

@Suite("Short reads on the caller's thread")
struct InlineReaderTests {
    @Test("a short read uses the inline connection when it is free and the pool when it is not, with the same answer")
    func fallsBack() async throws {
        let store = try SQLiteStore(path: TemporaryDirectory.make().appendingPathComponent("inline.sqlite").path)
        _ = try await store.ingestAtomically([WaveformSummaryTests.batch(seconds: 1)])
        let inline = try #require(store.inline)
        let filter = SampleFilter(machineName: "m1", order: .newestFirst)
        let free = try await store.samples(matching: filter, after: nil, limit: 100)
        #expect(free.count == 100 && free.first?.sample.measuredTime == 0.999)

        // Another thread holds the connection: a read asks for it, gets nil at once, and goes
        // through the pool instead of waiting.
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? inline.read { _ in
                entered.signal()
                release.wait()
            }
        }
        await Task.detached { entered.wait() }.value
        #expect(try inline.read { _ in 1 } == nil)
        let busy = try await store.samples(matching: filter, after: nil, limit: 100)
        release.signal()
        #expect(busy == free)
    }

    @Test("the inline connection sees every write committed before the read")
    func seesWrites() async throws {
        let store = try SQLiteStore(path: TemporaryDirectory.make().appendingPathComponent("inline.sqlite").path)
        let inline = try #require(store.inline)
        func count() throws -> Int? {
            try inline.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM vibration_samples") ?? -1 }
        }
        #expect(try count() == 0)
        _ = try await store.ingestAtomically([WaveformSummaryTests.batch(seconds: 1)])
        #expect(try count() == 1_000)
        _ = try await store.insert(
            VibrationSample(
                machineName: "m2", sensorNo: "s1", collectedAt: WaveformSummaryTests.start, measuredTime: 0, normal: 1,
                unbalance: 0, looseness: 0, unbalanceLooseness: 0))
        #expect(try count() == 1_001)
        #expect(try await store.machines().map(\.machineName) == ["m1", "m2"])
    }
}
