import Logging
import Testing
import VibrationCore
import VibrationStore

@testable import VibrationServer

/// A retention role in memory: remembers each cutoff asked for, and fails the first prune.
actor PruneLog: RetentionStore {
    struct Failure: Error {}

    private(set) var cutoffs: [Timestamp] = []

    func prune(before cutoff: Timestamp) async throws -> PruneReport {
        cutoffs.append(cutoff)
        if cutoffs.count == 1 { throw Failure() }
        return PruneReport(cutoff: cutoff, samplesDeleted: 3)
    }
}

@Suite("Retention service")
struct RetentionServiceTests {
    @Test("prunes at start at now minus the period, tries again after a failure, and stops when cancelled")
    func prunesAndStops() async throws {
        let log = PruneLog()
        let service = RetentionService(store: log, period: .seconds(3_600), interval: .milliseconds(20), logger: Logger(label: "test"))
        let started = Timestamp.now
        let running = Task { try await service.run() }
        // However busy the machine (the suite runs many tests at once), within a minute.
        let deadline = ContinuousClock.now + .seconds(60)
        while await log.cutoffs.count < 3, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        let observed = Timestamp.now
        running.cancel()
        try await running.value
        let cutoffs = await log.cutoffs
        #expect(cutoffs.count >= 3, "a failed prune must not end the service")
        let first = try #require(cutoffs.first)
        #expect(first >= started.adding(seconds: -3_600) && first <= observed.adding(seconds: -3_600))
        #expect(zip(cutoffs, cutoffs.dropFirst()).allSatisfy { $0 <= $1 })
        // Cancelled, it prunes no more.
        let count = cutoffs.count
        try await Task.sleep(for: .milliseconds(100))
        #expect(await log.cutoffs.count == count)
    }
}
