import Foundation
import NIOCore
import VibrationCore
import VibrationStore

/// A small generated plant for a first look: recordings of several machines and sensors from the
/// last hour, loaded through the same importer as real files.
public enum DemoPlant {
    public static func load(into store: any Store, rows: Int = 240_000) async throws -> IngestReport {
        let start = Timestamp(microseconds: (Timestamp.now.microseconds / 3_600_000_000 - 1) * 3_600_000_000)
        let generator = PlantGenerator(
            options: .init(rows: rows, machines: 6, sensors: 2, rateHz: 2_000, seed: 2025, start: start, recordingSeconds: 5))
        var chunks: [ByteBuffer] = []
        try generator.writeCSV { chunks.append(ByteBuffer(bytes: $0)) }
        let report = try await SampleImporter(store: store).importCSV(Chunks(items: chunks), layout: .product)
        // Each machine watches a different column, so the plant shows every condition.
        let channels: [SignalChannel] = [.normal, .unbalance, .looseness, .unbalanceLooseness, .normal, .unbalance]
        for (index, machine) in Set(generator.channels.map(\.machineName)).sorted().enumerated() {
            let shaft = generator.channels.first { $0.machineName == machine }!.shaftHz
            _ = try await store.save(
                MachineConfig(
                    machineName: machine, line: index < 3 ? "Line A" : "Line B", rpm: (shaft * 60).rounded(),
                    isoGroup: .medium, foundation: index % 2 == 0 ? .rigid : .flexible, channel: channels[index % channels.count]))
        }
        return report
    }

    struct Chunks: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let items: [ByteBuffer]

        struct AsyncIterator: AsyncIteratorProtocol {
            var rest: ArraySlice<ByteBuffer>
            mutating func next() async -> ByteBuffer? { rest.popFirst() }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: items[...]) }
    }
}
