import Foundation

/// What the classifier takes beyond the shape model: how far above its own healthy level a machine's
/// 1X must rise to count as mass unbalance once it has a baseline.
public struct DiagnosisThresholds: Sendable, Hashable, Codable {
    /// With a healthy baseline, mass unbalance is a 1X at or above this multiple of the healthy 1X.
    public var unbalanceBaselineRatio = 3.0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case unbalanceBaselineRatio = "unbalance_baseline_ratio"
    }
}

/// A machine's healthy levels, learned from a period marked healthy.
public struct HealthyBaseline: Sendable, Hashable, Codable {
    public var oneX: Double
    public var harmonics: Double

    public init(oneX: Double, harmonics: Double) {
        self.oneX = oneX
        self.harmonics = harmonics
    }

    /// The median levels of healthy windows.
    public init?(_ healthy: [SpectralFeatures]) {
        self.init(oneXLevels: healthy.map(\.oneX), harmonicLevels: healthy.map(\.harmonics))
    }

    /// The median of each level over healthy windows; nil without any.
    public init?(oneXLevels: [Double], harmonicLevels: [Double]) {
        guard !oneXLevels.isEmpty, !harmonicLevels.isEmpty else { return nil }
        func median(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            return sorted[sorted.count / 2]
        }
        self.init(oneX: median(oneXLevels), harmonics: median(harmonicLevels))
    }

    enum CodingKeys: String, CodingKey {
        case oneX = "one_x_g"
        case harmonics = "harmonics_g"
    }
}

/// Amplitudes at orders of shaft speed.
public struct SpectralFeatures: Sendable, Hashable, Codable {
    /// Shaft speed (1X) in Hz and where it came from.
    public var shaftHz: Double
    public var shaftSource: ShaftSource
    /// Amplitude (g) at 0.5X.
    public var halfX: Double
    /// Amplitude (g) at 1X.
    public var oneX: Double
    /// Amplitudes (g) at 2X...10X (zero above the Nyquist frequency).
    public var orders: [Double]
    /// Root sum of squares of 2X...10X (g).
    public var harmonics: Double
    /// Broadband velocity RMS, 10-1000 Hz, in mm/s.
    public var velocityRMS: Double
    /// Other shaft speeds (Hz) an estimate found almost as likely; empty when configured or clear.
    public var shaftAlternatives: [Double] = []

    public enum ShaftSource: String, Sendable, Codable {
        case configured
        case estimated
    }

    enum CodingKeys: String, CodingKey {
        case shaftHz = "shaft_hz"
        case shaftSource = "shaft_source"
        case halfX = "amplitude_0_5x_g"
        case oneX = "amplitude_1x_g"
        case orders = "amplitudes_2x_to_10x_g"
        case harmonics = "harmonics_2x_10x_g"
        case velocityRMS = "velocity_rms_mm_s"
    }
}

/// One fact behind a verdict: a feature, the threshold it was held against, and what it showed.
public struct Evidence: Sendable, Hashable, Codable {
    public var feature: String
    public var value: Double
    public var threshold: Double
    public var unit: String
    public var exceeded: Bool
    public var meaning: String
}

/// A verdict on one window with everything it rests on.
public struct WindowDiagnosis: Sendable, Codable {
    public var faultType: FaultType
    /// Up to 1 (every indicator far from its threshold): the shape model's probability of the
    /// verdict, less when the estimated shaft speed is unsure or the sensor was saturated.
    public var confidence: Double
    public var severityZone: ISO10816.Zone
    public var time: TimeFeatures
    public var spectral: SpectralFeatures
    public var evidence: [Evidence]

    enum CodingKeys: String, CodingKey {
        case faultType = "fault_type"
        case confidence
        case severityZone = "severity_zone"
        case time = "time_features"
        case spectral = "spectral_features"
        case evidence
    }
}

extension WindowDiagnosis {
    /// Whether every number of the verdict is finite. Only such a verdict can be stored or sent as
    /// JSON; samples within `Validation.accelerationLimit` always give one.
    public var isFinite: Bool {
        let t = time
        let s = spectral
        return confidence.isFinite && t.rms.isFinite && t.peak.isFinite && t.peakToPeak.isFinite && t.crestFactor.isFinite
            && t.kurtosis.isFinite && t.skewness.isFinite && s.shaftHz.isFinite && s.halfX.isFinite && s.oneX.isFinite
            && s.harmonics.isFinite && s.velocityRMS.isFinite && s.orders.allSatisfy(\.isFinite)
            && evidence.allSatisfy { $0.value.isFinite && $0.threshold.isFinite }
    }

    /// Whether the sensor was driven to the end of its range in the window (`Saturation`).
    public var saturated: Bool { evidence.contains { $0.feature == "sensor_saturated" } }
}

extension Waveform {
    /// Whether the classifier can analyse it: a finite rate above zero and every sample an
    /// acceleration the store would take (finite, within `Validation.accelerationLimit`).
    public var isAnalysable: Bool {
        sampleRateHz.isFinite && sampleRateHz > 0 && samples.allSatisfy(Validation.isAcceleration)
    }
}

/// What the classifier knows about the machine beyond its signal.
public struct MachineProfile: Sendable, Hashable {
    /// Shaft speed in revolutions per minute; estimated from the spectrum when nil.
    public var rpm: Double?
    public var group: ISO10816.MachineGroup
    public var foundation: ISO10816.Foundation
    public var baseline: HealthyBaseline?

    public init(
        rpm: Double? = nil, group: ISO10816.MachineGroup = .medium, foundation: ISO10816.Foundation = .rigid,
        baseline: HealthyBaseline? = nil
    ) {
        self.rpm = rpm
        self.group = group
        self.foundation = foundation
        self.baseline = baseline
    }
}

/// Classifies a window of acceleration as normal, mass unbalance, support looseness or both, from
/// the amplitudes at orders of shaft speed and the shape of the waveform, and says why.
public struct FaultClassifier: Sendable {
    public var thresholds: DiagnosisThresholds

    public init(thresholds: DiagnosisThresholds = DiagnosisThresholds()) {
        self.thresholds = thresholds
    }

    /// The shaft speeds the estimator considers.
    public static let shaftSearchHz = 5.0...120.0

    public func diagnose(_ waveform: Waveform, profile: MachineProfile = MachineProfile()) -> WindowDiagnosis {
        let features = Self.features(waveform, rpm: profile.rpm)
        var verdict = classify(time: features.time, spectral: features.spectral, shape: features.shape, profile: profile)
        if features.spikes.count > 0 {
            let spikes = features.spikes
            verdict.evidence.insert(
                Evidence(
                    feature: "isolated_spikes", value: features.time.rms > 0 ? spikes.largest / features.time.rms : 0, threshold: Spikes.threshold, unit: "times RMS",
                    exceeded: true,
                    meaning: String(
                        format: "%d short burst(s), %d sample(s) in all, far outside the rest of the window were replaced by the line between their neighbours before the analysis: a glitch of the sensor or a knock, not impacts that come back every revolution. The largest lay %.3g from the window's mean; the value is that in times the RMS of the window without them, the threshold where a burst begins",
                        spikes.count, spikes.samples, spikes.largest)),
                at: 0)
        }
        if let saturation = features.saturation {
            verdict.evidence.insert(
                Evidence(
                    feature: "sensor_saturated", value: saturation.share, threshold: Saturation.minimumShare, unit: "share of samples",
                    exceeded: true,
                    meaning: String(
                        format: "%.1f%% of the samples sit exactly on the window's %@ value, %.4g: the sensor or its converter reached the end of its range and cut the peaks flat. Flat tops add harmonics of their own and hide the true level, so the type is in doubt (the confidence is halved) and the severity reads low: check the sensor's range and mounting",
                        saturation.share * 100, saturation.rail == features.time.high ? "highest" : "lowest", saturation.rail)),
                at: 0)
            verdict.confidence *= 0.5
        }
        return verdict
    }

    /// What a verdict is made from: the window without its isolated spikes (`Spikes`), its time
    /// features, its spectrum's orders (at `rpm`, or at the estimated shaft speed) and its shape;
    /// and whether the sensor was driven to the end of its range (`Saturation`).
    public static func features(_ waveform: Waveform, rpm: Double?) -> (
        time: TimeFeatures, spectral: SpectralFeatures, shape: ShapeFeatures, spikes: Spikes, saturation: Saturation?
    ) {
        var samples = waveform.samples
        var time = TimeFeatures(samples)
        let spikes = Spikes.remove(from: &samples, sampleRateHz: waveform.sampleRateHz, time: time)
        if spikes.count > 0 { time = TimeFeatures(samples) }
        let spectrum = AmplitudeSpectrum(samples: samples, sampleRateHz: waveform.sampleRateHz)
        let spectral = spectralFeatures(spectrum, rpm: rpm)
        let shape = ShapeFeatures(time: time, spectral: spectral, spectrum: spectrum)
        return (time, spectral, shape, spikes, Saturation.find(in: samples, time: time))
    }

    public static func spectralFeatures(_ spectrum: AmplitudeSpectrum, rpm: Double?) -> SpectralFeatures {
        let shaft: Double
        let source: SpectralFeatures.ShaftSource
        var alternatives: [Double] = []
        if let rpm, rpm > 0 {
            shaft = rpm / 60
            source = .configured
        } else {
            let estimate = estimateShaft(spectrum)
            shaft = estimate.hz
            alternatives = estimate.alternatives
            source = .estimated
        }
        let tolerance = max(1, spectrum.bin(shaft * 0.02, .up))
        let orders = (2...10).map { spectrum.amplitude(at: Double($0) * shaft, toleranceBins: tolerance) }
        var features = SpectralFeatures(
            shaftHz: shaft, shaftSource: source, halfX: spectrum.amplitude(at: 0.5 * shaft, toleranceBins: tolerance),
            oneX: spectrum.amplitude(at: shaft, toleranceBins: tolerance), orders: orders,
            harmonics: orders.reduce(0) { $0 + $1 * $1 }.squareRoot(), velocityRMS: spectrum.velocityRMS())
        features.shaftAlternatives = alternatives
        return features
    }

    public static func estimateShaftHz(_ spectrum: AmplitudeSpectrum) -> Double {
        estimateShaft(spectrum).hz
    }

    /// The fundamental that best explains the low-frequency lines, and the other candidates that
    /// explain them almost as well (within 20% of its score, not within 2% of it).
    ///
    /// Lines are judged by how far they stand out of their local floor (`LineProminence`), not by
    /// their amplitude: an accelerometer weighs order k by k², and a resonance or a loose foot's
    /// impacts may lift the high orders far above 1X, yet 1X stands out of a quiet floor. Each of
    /// the most prominent peaks between 5 and 120 Hz, its half and its double, is scored by the
    /// prominence of its first six multiples (its own line must stand four times out of the floor).
    /// Then a half, a third or a fifth of the winner is taken instead when its own line and others
    /// of its multiples the winner does not explain stand six times out of the floor (one for a half,
    /// two for a third or a fifth), again from the new winner: a comb of harmonics whose strongest
    /// orders are even does not pass for twice the shaft speed, and a lone sub-harmonic (0.5X without
    /// 1.5X) does not halve it.
    public static func estimateShaft(_ spectrum: AmplitudeSpectrum) -> (hz: Double, alternatives: [Double]) {
        let band = shaftSearchHz
        let a = spectrum.amplitudes
        let low = max(1, spectrum.bin(band.lowerBound, .up))
        let high = min(a.count - 2, spectrum.bin(band.upperBound, .down))
        guard low < high else { return (band.lowerBound, []) }
        // The strongest line of the range looked at: a line far below it is leakage, not an order.
        let top = min(a.count - 1, spectrum.bin(12 * band.upperBound, .up))
        let strongest = a[1...max(1, top)].max() ?? 0
        var prominence = LineProminence(spectrum)
        var peaks: [(bin: Int, prominence: Double)] = []
        for k in low...high where a[k] >= a[k - 1] && a[k] > a[k + 1] {
            peaks.append((k, prominence.over(a[k], bin: k)))
        }
        peaks.sort { $0.prominence > $1.prominence }
        // The frequency of the largest bin within one of `hz`, refined between bins by a parabola
        // through it and its neighbours: a candidate is taken at the line it falls on.
        func line(near hz: Double) -> Double {
            let center = spectrum.bin(hz, .toNearestOrAwayFromZero)
            guard center >= 2, center + 2 < a.count else { return hz }
            var k = center
            for j in (center - 1)...(center + 1) where a[j] > a[k] { k = j }
            let l = a[k - 1]
            let c = a[k]
            let r = a[k + 1]
            let denominator = l - 2 * c + r
            let offset = denominator != 0 ? 0.5 * (l - r) / denominator : 0
            return (Double(k) + max(-0.5, min(0.5, offset))) * spectrum.binHz
        }
        var candidates: [Double] = []
        for peak in peaks.prefix(5) {
            let hz = line(near: Double(peak.bin) * spectrum.binHz)
            candidates += [hz, line(near: hz / 2), line(near: hz * 2)]
        }
        var scored: [(hz: Double, score: Double)] = []
        for f in candidates where band.contains(f) && prominence(f) >= 4 {
            var score = 0.0
            // A multiple counts by how far it stands out beyond what noise reaches (about 3).
            for k in 1...6 { score += max(0, log(prominence(Double(k) * f) / 3)) }
            scored.append((f, score))
        }
        var best = candidates.first ?? band.lowerBound
        var bestScore = -1.0
        for (f, score) in scored where score > bestScore * 1.000_001 {
            best = f
            bestScore = score
        }
        let winner = best
        var rounds = 0
        var changed = true
        while changed && rounds < 3 {
            changed = false
            rounds += 1
            for divisor in [2, 3, 5] {
                let g = best / Double(divisor)
                guard band.contains(g) else { continue }
                var own = false
                var others = 0
                for k in 1...max(9, 2 * divisor + 1) where k % divisor != 0 {
                    let hz = Double(k) * g
                    guard spectrum.amplitude(at: hz) >= 0.02 * strongest, prominence(hz) >= 6 else { continue }
                    if k == 1 { own = true } else { others += 1 }
                }
                if own && others >= (divisor == 2 ? 1 : 2) {
                    best = g
                    changed = true
                    break
                }
            }
        }
        var alternatives: [Double] = []
        for (f, score) in scored.sorted(by: { $0.score > $1.score })
        where score >= 0.8 * bestScore && abs(f - best) > 0.02 * best && !alternatives.contains(where: { abs($0 - f) <= 0.02 * f }) {
            alternatives.append(f)
        }
        if best != winner, !alternatives.contains(where: { abs($0 - winner) <= 0.02 * winner }) { alternatives.insert(winner, at: 0) }
        return (best, Array(alternatives.prefix(3)))
    }

    /// What each ratio did to a verdict, for either direction and every verdict and runner-up, at
    /// ((ratio * 2 + favours) * 4 + verdict) * 4 + runner-up: written once, so that a verdict's
    /// evidence shares these strings instead of building fifteen of its own (half of the time
    /// `classify` took).
    static let ratioMeanings: [String] = ShapeFeatures.Name.allCases.flatMap { feature in
        [false, true].flatMap { favours in
            FaultType.allCases.flatMap { winner in
                FaultType.allCases.map { runnerUp in
                    "\(feature.meaning); against its typical value (the threshold), it \(favours ? "favours" : "weighs against") \(winner.name) over \(runnerUp.name)"
                }
            }
        }
    }

    public func classify(
        time: TimeFeatures, spectral: SpectralFeatures, shape: ShapeFeatures, profile: MachineProfile
    ) -> WindowDiagnosis {
        var evidence: [Evidence] = []
        let model = ShapeModel.fitted
        let evaluation = model.evaluate(shape)
        let probabilities = ShapeModel.probabilities(evaluation.scores)
        let ranked = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }
        let (winner, runnerUp) = (ranked[0], ranked[1])
        let boundaries = ISO10816.boundaries(group: profile.group, foundation: profile.foundation)
        let looseness = winner >= 2
        let loosenessCertainty = looseness ? probabilities[2] + probabilities[3] : probabilities[0] + probabilities[1]

        // The type from the shape; with a baseline, unbalance from the machine's own 1X level.
        let unbalance: Bool
        let unbalanceCertainty: Double
        if let baseline = profile.baseline, baseline.oneX > 0 {
            let threshold = baseline.oneX * thresholds.unbalanceBaselineRatio
            unbalance = spectral.oneX >= threshold
            unbalanceCertainty = min(1, 0.5 + abs(log(max(spectral.oneX, 1e-12) / threshold)) / (2 * log(3)))
            evidence.append(
                Evidence(
                    feature: "amplitude_1x", value: spectral.oneX, threshold: threshold, unit: "g", exceeded: unbalance,
                    meaning: "1X amplitude against \(thresholds.unbalanceBaselineRatio)x the machine's healthy baseline: decides mass unbalance"))
        } else {
            unbalance = winner == 1 || winner == 3
            unbalanceCertainty = 1
            // The 1X that alone would reach this machine class's zone B: the level, for the reader; it does not decide the type.
            let reference = boundaries.ab * 2.squareRoot() / ISO10816.velocity(accelerationG: 1, hz: spectral.shaftHz)
            evidence.append(
                Evidence(
                    feature: "amplitude_1x", value: spectral.oneX, threshold: reference, unit: "g", exceeded: spectral.oneX >= reference,
                    meaning: "1X amplitude; the threshold is the 1X that alone reaches ISO zone B for this machine class (the level sets the severity, not the type)"))
        }
        evidence.append(
            Evidence(
                feature: "harmonics_2x_10x", value: spectral.harmonics, threshold: spectral.oneX, unit: "g",
                exceeded: spectral.harmonics >= spectral.oneX, meaning: "harmonics 2X-10X together, against the 1X amplitude"))
        let names = FaultType.allCases.map(\.name)
        evidence.append(
            Evidence(
                feature: "shape_model", value: probabilities[winner], threshold: probabilities[runnerUp], unit: "probability",
                exceeded: true,
                meaning: "the spectrum's shape says \(names[winner]); the next likeliest is \(names[runnerUp]) (the threshold)"))
        // Each ratio, against its typical value, and how much it tipped the call over the runner-up.
        let contributions = model.contributions(evaluation, for: winner, over: runnerUp)
        for (index, feature) in ShapeFeatures.Name.allCases.enumerated() {
            let value = shape.values[index]
            let typical = model.mean[index]
            let favours = contributions[index] > 0
            evidence.append(
                Evidence(
                    feature: feature.rawValue, value: feature.isLogarithm ? exp(value) : value,
                    threshold: feature.isLogarithm ? exp(typical) : typical, unit: "ratio", exceeded: favours,
                    meaning: Self.ratioMeanings[((index * 2 + (favours ? 1 : 0)) * 4 + winner) * 4 + runnerUp]))
        }
        let fault: FaultType =
            switch (unbalance, looseness) {
            case (false, false): .normal
            case (true, false): .massUnbalance
            case (false, true): .supportLooseness
            case (true, true): .unbalanceAndLooseness
            }
        var confidence = profile.baseline == nil ? probabilities[winner] : min(unbalanceCertainty, loosenessCertainty)
        if spectral.shaftSource == .estimated {
            let others = spectral.shaftAlternatives.map { String(format: "%.1f Hz", $0) }.joined(separator: ", ")
            evidence.append(
                Evidence(
                    feature: "shaft_speed", value: spectral.shaftHz, threshold: spectral.shaftAlternatives.first ?? spectral.shaftHz,
                    unit: "Hz", exceeded: !spectral.shaftAlternatives.isEmpty,
                    meaning: spectral.shaftAlternatives.isEmpty
                        ? "estimated from the spectrum; no other speed explains it nearly as well"
                        : "estimated from the spectrum, unsure: \(others) explain it almost as well (the threshold is the likeliest of them); configure the machine's rpm to settle it"))
            // An unsure speed puts every order in doubt.
            if !spectral.shaftAlternatives.isEmpty { confidence *= 0.75 }
        }
        let zone = ISO10816.zone(velocityRMS: spectral.velocityRMS, group: profile.group, foundation: profile.foundation)
        evidence.append(
            Evidence(
                feature: "velocity_rms", value: spectral.velocityRMS,
                threshold: ISO10816.boundaries(group: profile.group, foundation: profile.foundation).bc, unit: "mm/s",
                exceeded: zone >= .c, meaning: "ISO 10816-3 zone \(zone.rawValue): \(zone.meaning)"))
        return WindowDiagnosis(
            faultType: fault, confidence: confidence, severityZone: zone, time: time,
            spectral: spectral, evidence: evidence)
    }
}
