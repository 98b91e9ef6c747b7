import Foundation

/// Accuracy of the classifier on generated windows whose answer is known: each window of a
/// generated channel carries the four conditions, and the column is the label.
public struct DiagnosisBenchmark: Sendable {
    public struct Case: Sendable {
        public var channel: PlantGenerator.Channel
        public var sampleRateHz: Double
    }

    /// Channels with shaft speed 10-60 Hz, sample rate 1-25 kHz (log-uniform), gain 0.7-1.3 and
    /// noise 0.01-0.03 g times `noiseScale`, drawn from the seeds given.
    public static func cases(seeds: Range<UInt64>, noiseScale: Double = 1) -> [Case] {
        seeds.map { seed in
            var rng = SplitMix64(seed: seed &* 0x2545_F491_4F6C_DD1D)
            let rate = exp(rng.uniform(log(1_000)...log(25_000)))
            let channel = PlantGenerator.Channel(
                shaftHz: rng.uniform(10...60), gain: rng.uniform(0.7...1.3), noise: rng.uniform(0.01...0.03) * noiseScale,
                seed: rng.next(), sampleRateHz: rate)
            return Case(channel: channel, sampleRateHz: rate)
        }
    }

    /// Rows: true class; columns: predicted class.
    public struct ConfusionMatrix: Sendable, CustomStringConvertible {
        public var counts = [[Int]](repeating: [Int](repeating: 0, count: 4), count: 4)

        public mutating func add(truth: FaultType, predicted: FaultType) {
            counts[truth.rawValue][predicted.rawValue] += 1
        }

        public func recall(_ type: FaultType) -> Double {
            let row = counts[type.rawValue]
            let total = row.reduce(0, +)
            return total == 0 ? 0 : Double(row[type.rawValue]) / Double(total)
        }

        public var description: String {
            let names = ["normal", "unbalance", "looseness", "both"]
            var lines = ["true \\ predicted".padding(toLength: 18, withPad: " ", startingAt: 0)
                + names.map { $0.leftPad(11) }.joined() + "    recall"]
            for (i, row) in counts.enumerated() {
                lines.append(
                    names[i].padding(toLength: 18, withPad: " ", startingAt: 0) + row.map { String($0).leftPad(11) }.joined()
                        + String(format: "    %5.1f%%", recall(FaultType(rawValue: i)!) * 100))
            }
            return lines.joined(separator: "\n")
        }
    }

    /// Classifies one-second windows of each case's four columns.
    public static func confusion(
        _ cases: [Case], classifier: FaultClassifier = FaultClassifier(), knownShaftSpeed: Bool
    ) -> ConfusionMatrix {
        var matrix = ConfusionMatrix()
        for c in cases {
            let n = Int(c.sampleRateHz.rounded())
            let w = PlantGenerator.window(of: c.channel, count: n, sampleRateHz: c.sampleRateHz, start: 3)
            let profile = MachineProfile(rpm: knownShaftSpeed ? c.channel.shaftHz * 60 : nil)
            for (truth, samples) in [(FaultType.normal, w.normal), (.massUnbalance, w.unbalance), (.supportLooseness, w.looseness), (.unbalanceAndLooseness, w.both)] {
                let verdict = classifier.diagnose(Waveform(samples: samples, sampleRateHz: c.sampleRateHz), profile: profile)
                matrix.add(truth: truth, predicted: verdict.faultType)
            }
        }
        return matrix
    }
}

extension String {
    func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
