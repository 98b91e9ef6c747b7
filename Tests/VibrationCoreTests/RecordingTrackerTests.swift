import Testing
import VibrationCore

@Suite("Recordings found from the samples")
struct RecordingTrackerTests {
    struct Sample {
        var recording: Int
        var collectedAt: Int64
        var t: Double
    }

    enum Stamp: CaseIterable {
        case instant, start, wholeSeconds, wallClockPerRow
    }

    /// `count` recordings of one sensor, each 0...length s at `rate`, a few seconds apart, stamped as
    /// `stamp` says, in 100-sample batches; shuffled batches when `shuffle`.
    static func samples(count: Int, rate: Double, stamp: Stamp, shuffle: Bool, rng: inout SplitMix64) -> [Sample] {
        var batches: [[Sample]] = []
        var begin: Int64 = 1_700_000_000_123_456
        var clock: Int64 = 1_800_000_000_000_000
        for r in 0..<count {
            let length = 1 + Int(rng.next() % 4)
            let n = Int(Double(length) * rate)
            var batch: [Sample] = []
            for i in 0..<n {
                let t = (Double(i) / rate * 1_000_000).rounded() / 1_000_000
                let instant = begin + Int64((t * 1_000_000).rounded())
                let stamped: Int64
                switch stamp {
                case .instant: stamped = instant
                case .start: stamped = begin
                case .wholeSeconds: stamped = (instant + 500_000) / 1_000_000 * 1_000_000
                case .wallClockPerRow:
                    clock += 200
                    stamped = clock
                }
                batch.append(Sample(recording: r, collectedAt: stamped, t: t))
                if batch.count == 100 {
                    batches.append(batch)
                    batch = []
                }
            }
            if !batch.isEmpty { batches.append(batch) }
            begin += Int64(length + 2 + Int(rng.next() % 5)) * 1_000_000
        }
        if shuffle {
            for i in stride(from: batches.count - 1, to: 0, by: -1) { batches.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        }
        return batches.flatMap { $0 }
    }

    /// Places the samples and checks that each true recording maps to one found recording and back.
    static func expectSamePartition(_ samples: [Sample], _ label: String) {
        var tracker = RecordingTracker()
        var found: [Int: Set<Int64>] = [:]
        var owners: [Int64: Set<Int>] = [:]
        for s in samples {
            let start = tracker.place(sensor: 1, low: s.t, high: s.t, collectedAt: s.collectedAt)
            found[s.recording, default: []].insert(start)
            owners[start, default: []].insert(s.recording)
        }
        #expect(found.values.allSatisfy { $0.count == 1 }, "\(label): a recording was split")
        #expect(owners.values.allSatisfy { $0.count == 1 }, "\(label): recordings were merged")
    }

    @Test("in order, each stamp finds exactly the recordings sent")
    func inOrder() {
        var rng = SplitMix64(seed: 7)
        for stamp in Stamp.allCases {
            for rate in [512.0, 2_000, 25_600] {
                Self.expectSamePartition(Self.samples(count: 6, rate: rate, stamp: stamp, shuffle: false, rng: &rng), "\(stamp) \(rate)")
            }
        }
    }

    @Test("shuffled batches of instant, start and whole-second stamps find the same recordings")
    func shuffled() {
        var rng = SplitMix64(seed: 8)
        for round in 0..<20 {
            for stamp in [Stamp.instant, .start, .wholeSeconds] {
                Self.expectSamePartition(Self.samples(count: 3, rate: 1_000, stamp: stamp, shuffle: true, rng: &rng), "\(stamp) round \(round)")
            }
        }
    }

    @Test("a recording's start is its first sample's collected_at - measured_time, and stays")
    func startStays() {
        var tracker = RecordingTracker()
        let start: Int64 = 1_700_000_000_000_000
        // The second half arrives first.
        #expect(tracker.place(sensor: 1, low: 0.5, high: 0.9, count: 5, collectedAt: start + 500_000) == start)
        #expect(tracker.place(sensor: 1, low: 0, high: 0.4, count: 5, collectedAt: start) == start)
        #expect(tracker.isComplete(sensor: 1, start: start, index: 0, seconds: 1))
        #expect(!tracker.isComplete(sensor: 1, start: start, index: 1, seconds: 1))
        // The clock falls back: a new recording, and the old one's windows are complete.
        let next = start + 5_000_000
        #expect(tracker.place(sensor: 1, low: 0, high: 0.3, count: 4, collectedAt: next) == next)
        #expect(tracker.isComplete(sensor: 1, start: start, index: 1, seconds: 1))
        tracker.settle()
        #expect(tracker.sensors[1]?.map(\.start) == [start, next])
    }

    @Test("a recording sent again under a new wall clock is a recording of its own; at most four stay open")
    func resentAndCapped() {
        var tracker = RecordingTracker()
        var starts = Set<Int64>()
        for upload in 0..<6 {
            let clock = 1_800_000_000_000_000 + Int64(upload) * 60_000_000
            for batch in 0..<5 {
                starts.insert(
                    tracker.place(sensor: 9, low: Double(batch) * 0.1, high: Double(batch) * 0.1 + 0.099, count: 100, collectedAt: clock + Int64(batch) * 1_000))
            }
        }
        #expect(starts.count == 6)
        tracker.settle()
        #expect(tracker.sensors[9]?.count == RecordingTracker.maximumOpen)
    }
}
