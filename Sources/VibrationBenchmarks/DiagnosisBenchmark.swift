import VibrationCore
import Foundation

/// Accuracy of the classifier on windows whose answer is known, from two independent sources: the
/// additive `PlantGenerator` (each channel carries the four conditions; the column is the label) and
/// the physical `RotorModel` (each condition simulated on its own). Cases spread over shaft speeds
/// 10-60 Hz, sample rates 1-25.6 kHz (log-uniform), sensor gains 0.5-2 and noise up to 0.03 g.
/// The shape model is fitted on seeds 0-7999 (`featureRows`, `textbookRows`); evaluate on others.
public struct DiagnosisBenchmark: Sendable {
    public enum Source: String, CaseIterable, Sendable {
        case additive
        case physical
    }

    /// One machine and sensor drawn from a seed, and its four labelled one-second windows.
    public struct Case: Sendable {
        public var source: Source
        public var seed: UInt64
        public var sampleRateHz: Double
        public var gain: Double
        public var shaftHz: Double
        public var windows: [(truth: FaultType, samples: [Double])]

        public init(source: Source, seed: UInt64) {
            var rng = SplitMix64(seed: seed &* 0x2545_F491_4F6C_DD1D ^ (source == .physical ? 0x5151 : 0))
            let rate = exp(rng.uniform(log(1_000)...log(25_600)))
            let count = Int(rate.rounded())
            self.source = source
            self.seed = seed
            sampleRateHz = rate
            switch source {
            case .additive:
                gain = exp(rng.uniform(log(0.5)...log(2)))
                shaftHz = rng.uniform(10...60)
                let channel = PlantGenerator.Channel(
                    shaftHz: shaftHz, gain: gain, noise: rng.uniform(0.005...0.03), seed: rng.next(), sampleRateHz: rate)
                if rng.unit() < 0.5 {
                    let w = PlantGenerator.window(of: channel, count: count, sampleRateHz: rate, start: 3)
                    windows = [(.normal, w.normal), (.massUnbalance, w.unbalance), (.supportLooseness, w.looseness), (.unbalanceAndLooseness, w.both)]
                } else {
                    // Half the cases as the original data set and `himmes generate` have them: each step
                    // 5% off the mean at random, put on a uniform grid by the engine's interpolation.
                    var times: [Double] = []
                    var columns: [[Double]] = [[], [], [], []]
                    var t = 0.0
                    for _ in 0..<count {
                        let c = PlantGenerator.conditions(of: channel, at: 3 + t, rng: &rng)
                        times.append(t)
                        columns[0].append(c.normal)
                        columns[1].append(c.unbalance)
                        columns[2].append(c.looseness)
                        columns[3].append(c.unbalanceLooseness)
                        t += (1 + 0.05 * (2 * rng.unit() - 1)) / rate
                    }
                    let uniform = columns.map { Waveform(values: $0, times: times)! }
                    sampleRateHz = uniform[0].sampleRateHz
                    windows = zip(FaultType.allCases, uniform).map { ($0, $1.samples) }
                }
            case .physical:
                let model = RotorModel.random(seed: seed)
                gain = model.gain
                shaftHz = model.shaftHz
                windows = FaultType.allCases.map { ($0, model.window($0, count: count, sampleRateHz: rate)) }
            }
        }
    }

    /// Rows: true class; columns: predicted class.
    public struct ConfusionMatrix: Sendable, CustomStringConvertible {
        public var counts = [[Int]](repeating: [Int](repeating: 0, count: 4), count: 4)

        public init() {}

        public mutating func add(truth: FaultType, predicted: FaultType) {
            counts[truth.rawValue][predicted.rawValue] += 1
        }

        public var total: Int { counts.joined().reduce(0, +) }

        /// The classes' short names, in the order of the rows and columns.
        public static let names = ["normal", "unbalance", "looseness", "both"]

        public func recall(_ type: FaultType) -> Double {
            let row = counts[type.rawValue]
            let total = row.reduce(0, +)
            return total == 0 ? 0 : Double(row[type.rawValue]) / Double(total)
        }

        public var description: String {
            var lines = ["true \\ predicted".padding(toLength: 18, withPad: " ", startingAt: 0)
                + Self.names.map { $0.leftPad(11) }.joined() + "    recall"]
            for (i, row) in counts.enumerated() {
                lines.append(
                    Self.names[i].padding(toLength: 18, withPad: " ", startingAt: 0) + row.map { String($0).leftPad(11) }.joined()
                        + String(format: "    %5.1f%%", recall(FaultType(rawValue: i)!) * 100))
            }
            return lines.joined(separator: "\n")
        }
    }

    /// What one source's evaluation found.
    public struct Report: Sendable {
        public var source: Source
        public var known = ConfusionMatrix()
        public var estimated = ConfusionMatrix()
        /// With the shaft speed estimated, by gain band and by sample-rate band.
        public var byGain: [(band: String, matrix: ConfusionMatrix)] = gainBands.map { ($0.label, ConfusionMatrix()) }
        public var byRate: [(band: String, matrix: ConfusionMatrix)] = rateBands.map { ($0.label, ConfusionMatrix()) }
        /// Windows whose type is the same at every scale of `scales` as unscaled (speed estimated).
        public var unchangedUnderScaling = 0
        /// Windows, as they are, that the verdict calls saturated (`sensor_saturated`): none should be.
        public var saturated = 0
        /// With each recording artefact asked for applied to every window (speed estimated), and
        /// how many of those windows the verdict calls saturated.
        public var withArtefact: [(artefact: Artefact, matrix: ConfusionMatrix, saturated: Int)] = []
        /// Windows classified.
        public var windows: Int { estimated.total }
        /// The estimator's relative error, |estimated - true| / true, one per window.
        public var shaftErrors: [Double] = []

        static let gainBands: [(label: String, range: Range<Double>)] = [
            ("gain 0.5-0.8", 0..<0.8), ("gain 0.8-1.25", 0.8..<1.25), ("gain 1.25-2", 1.25..<10),
        ]
        static let rateBands: [(label: String, range: Range<Double>)] = [
            ("rate 1-2.5 kHz", 0..<2_500), ("rate 2.5-10 kHz", 2_500..<10_000), ("rate 10-25.6 kHz", 10_000..<1e9),
        ]

        /// Share of windows whose estimated shaft speed is within `tolerance` (relative) of the truth.
        public func shaftWithin(_ tolerance: Double) -> Double {
            shaftErrors.isEmpty ? 0 : Double(shaftErrors.filter { $0 <= tolerance }.count) / Double(shaftErrors.count)
        }

        public func shaftErrorQuantile(_ q: Double) -> Double {
            guard !shaftErrors.isEmpty else { return 0 }
            let sorted = shaftErrors.sorted()
            return sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))]
        }
    }

    /// Whole-window scales the type must not depend on.
    public static let scales = [0.5, 0.71, 1.41, 2]

    /// What a real recording carries beside the machine, applied to a labelled window to see how
    /// much of the classifier's accuracy survives it. Sizes are relative to the window's own RMS
    /// (its standard deviation) unless they are in g.
    public enum Artefact: String, CaseIterable, Sendable {
        case gravity = "offset of 1 g (gravity on the axis)"
        case glitch = "one glitch, 20x RMS"
        case glitches = "two glitches, 10x and 40x RMS"
        case knock = "a knock: 8 samples ringing down from 15x RMS"
        case quantized = "quantized in steps of 10 mg"
        case coarse = "quantized in steps of a quarter RMS"
        case clipped = "clipped at 70% of its peak"
        case hum = "mains hum 50 + 100 Hz at 0.3 RMS"
        case drift = "speed rising 2% over the window"

        /// The window with the artefact; `rng` places glitches and knocks.
        public func apply(to samples: [Double], sampleRateHz: Double, rng: inout SplitMix64) -> [Double] {
            var x = samples
            let n = x.count
            guard n > 16 else { return x }
            let time = TimeFeatures(samples)
            let rms = time.rms
            func somewhere() -> Int { min(n - 9, Int(rng.unit() * Double(n - 9))) }
            switch self {
            case .gravity:
                for i in 0..<n { x[i] += 1 }
            case .glitch:
                x[somewhere()] += (rng.unit() < 0.5 ? 20 : -20) * rms
            case .glitches:
                x[somewhere()] += 10 * rms
                x[somewhere()] -= 40 * rms
            case .knock:
                let at = somewhere()
                for k in 0..<8 { x[at + k] += 15 * rms * (k % 2 == 0 ? 1 : -1) * exp(-Double(k) / 3) }
            case .quantized, .coarse:
                let step = self == .quantized ? 0.010 : rms / 4
                guard step > 0 else { break }
                for i in 0..<n { x[i] = (x[i] / step).rounded() * step }
            case .clipped:
                let mean = x.reduce(0, +) / Double(n)
                let peak = time.peak * 0.7
                for i in 0..<n { x[i] = mean + min(peak, max(-peak, x[i] - mean)) }
            case .hum:
                let amplitude = 0.3 * rms * 2.squareRoot()
                let phase = rng.unit() * 2 * .pi
                for i in 0..<n {
                    let t = Double(i) / sampleRateHz
                    x[i] += amplitude * (sin(2 * .pi * 50 * t + phase) + 0.5 * sin(2 * .pi * 100 * t))
                }
            case .drift:
                // Read at times that run 1% fast by the end: every frequency rises by up to 2%.
                for i in 0..<n {
                    let s = Double(i) * (1 + 0.01 * Double(i) / Double(n))
                    let j = Int(s)
                    let f = s - Double(j)
                    x[i] = j + 1 < n ? samples[j] * (1 - f) + samples[j + 1] * f : samples[n - 1]
                }
            }
            return x
        }
    }

    /// Classifies every window of each case with the shaft speed configured and estimated,
    /// estimated again at every scale of `scales`, and with each of `artefacts` applied.
    public static func evaluate(
        _ source: Source, seeds: Range<UInt64>, artefacts: [Artefact] = [], classifier: FaultClassifier = FaultClassifier()
    ) -> Report {
        var report = Report(source: source)
        report.withArtefact = artefacts.map { ($0, ConfusionMatrix(), 0) }
        for seed in seeds {
            let c = Case(source: source, seed: seed)
            // One stream per artefact, through the case's windows in order.
            var rngs = artefacts.map { _ in SplitMix64(seed: seed ^ 0xA27E) }
            let profile = MachineProfile(rpm: c.shaftHz * 60)
            for (truth, samples) in c.windows {
                let waveform = Waveform(samples: samples, sampleRateHz: c.sampleRateHz)
                report.known.add(truth: truth, predicted: classifier.diagnose(waveform, profile: profile).faultType)
                let estimated = classifier.diagnose(waveform)
                report.estimated.add(truth: truth, predicted: estimated.faultType)
                if estimated.saturated { report.saturated += 1 }
                report.shaftErrors.append(abs(estimated.spectral.shaftHz - c.shaftHz) / c.shaftHz)
                if let g = Report.gainBands.firstIndex(where: { $0.range.contains(c.gain) }) {
                    report.byGain[g].matrix.add(truth: truth, predicted: estimated.faultType)
                }
                if let r = Report.rateBands.firstIndex(where: { $0.range.contains(c.sampleRateHz) }) {
                    report.byRate[r].matrix.add(truth: truth, predicted: estimated.faultType)
                }
                let unchanged = scales.allSatisfy { scale in
                    classifier.diagnose(Waveform(samples: samples.map { $0 * scale }, sampleRateHz: c.sampleRateHz)).faultType
                        == estimated.faultType
                }
                if unchanged { report.unchangedUnderScaling += 1 }
                for index in report.withArtefact.indices {
                    let x = report.withArtefact[index].artefact.apply(to: samples, sampleRateHz: c.sampleRateHz, rng: &rngs[index])
                    let verdict = classifier.diagnose(Waveform(samples: x, sampleRateHz: c.sampleRateHz))
                    report.withArtefact[index].matrix.add(truth: truth, predicted: verdict.faultType)
                    if verdict.saturated { report.withArtefact[index].saturated += 1 }
                }
            }
        }
        return report
    }

    /// Textbook windows for fitting beside the two sources, so that the model knows the patterns a
    /// vibration handbook draws and a person may send to try it: mass unbalance as a 1X sine with
    /// little or no 2X and 3X; normal as noise with at most a small 1X; support looseness as a comb
    /// of harmonics (2X as strong as 1X or more, falling slowly, sometimes a 0.5X) without impacts;
    /// normal as noise alone, Gaussian, uniform, two-sided exponential or in coarse steps (a stopped
    /// machine, an idle sensor); and a fan, whose blades make one strong line at their count times
    /// 1X (3 to 12 blades): balanced it is normal, with a strong 1X mass unbalance, with a comb of
    /// harmonics support looseness. Every fourth seed of the range makes a set, so that the rows
    /// do not depend on how a range of seeds is split between runs.
    public static func textbookRows(seeds: Range<UInt64>) -> [String] {
        var rows: [String] = []
        for seed in seeds where seed % 4 == 0 {
            var rng = SplitMix64(seed: seed ^ 0x7E47)
            let rate = exp(rng.uniform(log(1_000)...log(25_600)))
            let shaft = rng.uniform(10...60)
            let count = Int(rate.rounded())
            let relativeNoise = seed % 4 == 0 ? 0 : exp(rng.uniform(log(1e-4)...log(0.05)))
            let phases = (0..<10).map { _ in rng.uniform(0...(2 * .pi)) }
            func tones(_ orders: [(order: Double, amplitude: Double)], noise: Double) -> [Double] {
                (0..<count).map { i in
                    let t = Double(i) / rate
                    var x = noise * rng.gaussian()
                    for (k, tone) in orders.enumerated() { x += tone.amplitude * sin(2 * .pi * tone.order * shaft * t + phases[k]) }
                    return x
                }
            }
            let unbalance = tones([(1, 1), (2, rng.uniform(0...0.15)), (3, rng.uniform(0...0.08))], noise: relativeNoise)
            let normal = tones([(1, rng.uniform(0...0.5)), (2, rng.uniform(0...0.2))], noise: 1)
            let oneX = rng.uniform(0.3...1)
            var comb: [(order: Double, amplitude: Double)] = [(1, oneX)]
            for k in 2...8 { comb.append((Double(k), rng.uniform(0.5...1.2) / Double(k - 1).squareRoot())) }
            if rng.unit() < 0.5 { comb.append((0.5, rng.uniform(0.1...0.4))) }
            let looseness = tones(comb, noise: relativeNoise)
            let kind = rng.next() % 4
            let noise = (0..<count).map { _ -> Double in
                switch kind {
                case 0: return rng.gaussian()
                case 1: return 2 * rng.unit() - 1
                case 2: return (rng.unit() < 0.5 ? -1 : 1) * -log(max(rng.unit(), 1e-300))
                default: return (4 * rng.gaussian()).rounded() / 4
                }
            }
            let blades = Double(3 + rng.next() % 10)
            let fanNoise = exp(rng.uniform(log(0.003)...log(0.3)))
            // The blade pass and, as its pulses are not sines, some of its own harmonics.
            let bladePass = [(blades, 1.0), (2 * blades, rng.uniform(0...0.8)), (3 * blades, rng.uniform(0...0.5))]
            let balancedFan = tones([(1, rng.uniform(0...0.3)), (2, rng.uniform(0...0.05))] + bladePass, noise: fanNoise)
            let passLevel = rng.uniform(0.05...1)
            let unbalancedFan = tones(
                [(1, 1), (2, rng.uniform(0...0.1))] + bladePass.map { ($0.0, $0.1 * passLevel) }, noise: fanNoise)
            let looseFan = tones(
                Array(comb.prefix(7)) + bladePass.map { ($0.0, $0.1 * oneX * rng.uniform(0.2...1.5)) }, noise: fanNoise * oneX)
            for (truth, samples) in [
                (FaultType.massUnbalance, unbalance), (.normal, normal), (.supportLooseness, looseness), (.normal, noise),
                (.normal, balancedFan), (.massUnbalance, unbalancedFan), (.supportLooseness, looseFan),
            ] {
                rows.append(
                    featureRow(
                        source: "textbook", seed: seed, truth: truth, gain: 1, rate: rate, shaftHz: shaft, samples: samples,
                        known: (seed / 4) % 2 == 0))
            }
        }
        return rows
    }

    /// The shape features of every window as CSV lines (a header first), for fitting the model.
    public static func featureRows(_ source: Source, seeds: Range<UInt64>) -> [String] {
        var rows = ["source,seed,truth,gain,rate,known,shaft_ratio," + ShapeFeatures.Name.allCases.map(\.rawValue).joined(separator: ",")]
        for seed in seeds {
            let c = Case(source: source, seed: seed)
            for (truth, samples) in c.windows {
                rows.append(
                    featureRow(
                        source: source.rawValue, seed: seed, truth: truth, gain: c.gain, rate: c.sampleRateHz, shaftHz: c.shaftHz,
                        samples: samples))
            }
        }
        return rows
    }

    /// One window's CSV line: its labels and its shape features, with the shaft speed configured
    /// (by default for even seeds) or estimated.
    static func featureRow(
        source: String, seed: UInt64, truth: FaultType, gain: Double, rate: Double, shaftHz: Double, samples: [Double],
        known: Bool? = nil
    ) -> String {
        let known = known ?? (seed % 2 == 0)
        let (_, spectral, shape, _, _) = FaultClassifier.features(Waveform(samples: samples, sampleRateHz: rate), rpm: known ? shaftHz * 60 : nil)
        return "\(source),\(seed),\(truth.rawValue),\(gain),\(rate),\(known ? 1 : 0),\(spectral.shaftHz / shaftHz),"
            + shape.values.map { String(format: "%.6g", $0) }.joined(separator: ",")
    }
}

extension String {
    func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
