import Logging
import ServiceLifecycle
import VibrationCore
import VibrationStore

/// Keeps the samples of the last `period` only: prunes at start, then once a day, until the
/// server shuts down. Diagnoses, evidence and alarms are kept.
struct RetentionService: Service {
    let store: any RetentionStore
    let period: Duration
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let cutoff = Timestamp.now.adding(seconds: -Double(period.components.seconds))
            do {
                let report = try await store.prune(before: cutoff)
                logger.notice(
                    "retention: pruned samples collected before \(report.cutoff)",
                    metadata: [
                        "samples": "\(report.samplesDeleted)", "partitions": "\(report.partitionsDropped.joined(separator: ","))",
                    ])
            } catch {
                logger.error("retention: prune failed; trying again at the next round", metadata: ["error": "\(error)"])
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }
}
