import Foundation
import VibrationPipeline
import VibrationServer

/// A live line on the terminal: rows, rows/s, and percent and ETA when the input size is known.
final class ProgressLine: @unchecked Sendable {
    let progress: SampleImporter.Progress
    let totalBytes: Int?
    let started = Date()
    var task: Task<Void, Never>?

    init(progress: SampleImporter.Progress, totalBytes: Int?) {
        self.progress = progress
        self.totalBytes = totalBytes
    }

    func start() {
        task = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                draw()
            }
        }
    }

    func stop() {
        task?.cancel()
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    func draw() {
        let elapsed = Date().timeIntervalSince(started)
        let rows = progress.received
        let rate = elapsed > 0 ? Double(rows) / elapsed : 0
        var line = "\r\u{1B}[K\(rows.grouped) rows  \(Int(rate).grouped) rows/s"
        if let totalBytes, totalBytes > 0 {
            let fraction = min(1, Double(progress.bytes) / Double(totalBytes))
            line += String(format: "  %3.0f%%", fraction * 100)
            if fraction > 0.01 {
                line += String(format: "  ETA %.0f s", elapsed / fraction - elapsed)
            }
        }
        if progress.rejected > 0 { line += "  \(progress.rejected.grouped) rejected" }
        FileHandle.standardError.write(Data(line.utf8))
    }
}
