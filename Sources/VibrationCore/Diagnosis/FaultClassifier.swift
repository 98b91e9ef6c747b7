import Foundation

/// The thresholds behind every verdict, in one place. Amplitudes are in g (as the signal columns);
/// with a healthy baseline for the machine, the `…BaselineRatio` values are used instead of the
/// absolute amplitudes, so that a machine is judged against itself.
public struct DiagnosisThresholds: Sendable, Hashable, Codable {
    /// Mass unbalance: the 1X amplitude at or above this (g)...
    public var unbalanceOneX = 0.18
    /// ...or at or above this multiple of the machine's healthy 1X.
    public var unbalanceBaselineRatio = 3.0
    /// ...and 1X carries at least this share of the signal's peak level (1X amplitude / (√2 · RMS)):
    /// unbalance is a sinusoid at shaft speed.
    public var unbalanceDominance = 0.6
    /// Support looseness, one indicator: the harmonics 2X..10X together (root sum of squares, g)...
    public var loosenessHarmonics = 0.05
    /// ...or this multiple of the machine's healthy harmonics.
    public var loosenessBaselineRatio = 3.0
    /// Another indicator: the half-order sub-harmonic 0.5X (g).
    public var loosenessSubharmonic = 0.03
    /// Another indicator: impacts, seen as a crest factor (peak / RMS)...
    public var impactCrestFactor = 4.0
    /// ...or a kurtosis at or above these.
    public var impactKurtosis = 4.0
    /// Looseness needs this many of the three indicators (harmonics, sub-harmonic, impacts).
    public var loosenessIndicators = 2

    public init() {}

    enum CodingKeys: String, CodingKey {
        case unbalanceOneX = "unbalance_1x_g"
        case unbalanceBaselineRatio = "unbalance_baseline_ratio"
        case unbalanceDominance = "unbalance_dominance"
        case loosenessHarmonics = "looseness_harmonics_g"
        case loosenessBaselineRatio = "looseness_baseline_ratio"
        case loosenessSubharmonic = "looseness_subharmonic_g"
        case impactCrestFactor = "impact_crest_factor"
        case impactKurtosis = "impact_kurtosis"
        case loosenessIndicators = "looseness_indicators"
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
    /// 0.5 (a coin toss) to 1 (every indicator far from its threshold).
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
        let spectrum = AmplitudeSpectrum(samples: waveform.samples, sampleRateHz: waveform.sampleRateHz)
        let time = TimeFeatures(waveform.samples)
        let spectral = Self.spectralFeatures(spectrum, rpm: profile.rpm)
        return classify(time: time, spectral: spectral, profile: profile)
    }

    public static func spectralFeatures(_ spectrum: AmplitudeSpectrum, rpm: Double?) -> SpectralFeatures {
        let shaft: Double
        let source: SpectralFeatures.ShaftSource
        if let rpm, rpm > 0 {
            shaft = rpm / 60
            source = .configured
        } else {
            shaft = estimateShaftHz(spectrum)
            source = .estimated
        }
        let tolerance = max(1, spectrum.bin(shaft * 0.02, .up))
        let orders = (2...10).map { spectrum.amplitude(at: Double($0) * shaft, toleranceBins: tolerance) }
        return SpectralFeatures(
            shaftHz: shaft, shaftSource: source, halfX: spectrum.amplitude(at: 0.5 * shaft, toleranceBins: tolerance),
            oneX: spectrum.amplitude(at: shaft, toleranceBins: tolerance), orders: orders,
            harmonics: orders.reduce(0) { $0 + $1 * $1 }.squareRoot(), velocityRMS: spectrum.velocityRMS())
    }

    /// The fundamental that best explains the low-frequency peaks: each strong peak, its half and its
    /// double are scored by the amplitudes of their first six multiples. A sub-harmonic scores lower
    /// than the true 1X (it misses the odd half-orders), a harmonic lower still (it misses 1X).
    public static func estimateShaftHz(_ spectrum: AmplitudeSpectrum) -> Double {
        let band = shaftSearchHz
        let low = max(1, spectrum.bin(band.lowerBound, .up))
        let high = min(spectrum.amplitudes.count - 2, spectrum.bin(band.upperBound, .down))
        guard low < high else { return band.lowerBound }
        var peaks: [(bin: Int, amplitude: Double)] = []
        let a = spectrum.amplitudes
        for k in low...high where a[k] >= a[k - 1] && a[k] > a[k + 1] {
            peaks.append((k, a[k]))
        }
        peaks.sort { $0.amplitude > $1.amplitude }
        var candidates: [Double] = []
        for peak in peaks.prefix(5) {
            // Refine between bins by a parabola through the peak and its neighbours.
            let l = a[peak.bin - 1]
            let c = a[peak.bin]
            let r = a[peak.bin + 1]
            let denominator = l - 2 * c + r
            let offset = denominator != 0 ? 0.5 * (l - r) / denominator : 0
            let hz = (Double(peak.bin) + max(-0.5, min(0.5, offset))) * spectrum.binHz
            candidates += [hz, hz / 2, hz * 2]
        }
        var best = candidates.first ?? band.lowerBound
        var bestScore = -1.0
        // A fundamental shows as a peak of its own: a half of a lone 1X (noise there) is no candidate.
        let floor = 0.2 * (peaks.first?.amplitude ?? 0)
        for f in candidates where band.contains(f) && spectrum.amplitude(at: f) >= floor {
            var score = 0.0
            for k in 1...6 { score += spectrum.amplitude(at: Double(k) * f) }
            if score > bestScore * 1.000_001 {
                best = f
                bestScore = score
            }
        }
        return best
    }

    public func classify(time: TimeFeatures, spectral: SpectralFeatures, profile: MachineProfile) -> WindowDiagnosis {
        let t = thresholds
        var evidence: [Evidence] = []
        func check(_ feature: String, _ value: Double, _ threshold: Double, _ unit: String, _ meaning: String) -> Bool {
            let exceeded = value >= threshold
            evidence.append(Evidence(feature: feature, value: value, threshold: threshold, unit: unit, exceeded: exceeded, meaning: meaning))
            return exceeded
        }
        // How far a value is from its threshold, as a confidence in the side it fell on.
        func certainty(_ value: Double, _ threshold: Double) -> Double {
            guard value > 0, threshold > 0 else { return 1 }
            return min(1, 0.5 + abs(log(value / threshold)) / (2 * log(3)))
        }

        // Mass unbalance: a strong 1X that dominates the signal.
        let oneXThreshold = profile.baseline.map { $0.oneX * t.unbalanceBaselineRatio } ?? t.unbalanceOneX
        let strongOneX = check(
            "amplitude_1x", spectral.oneX, oneXThreshold, "g",
            profile.baseline == nil ? "1X amplitude" : "1X amplitude against \(t.unbalanceBaselineRatio)x the healthy baseline")
        let dominance = time.rms > 0 ? spectral.oneX / (2.squareRoot() * time.rms) : 0
        let dominant = check("dominance_1x", dominance, t.unbalanceDominance, "ratio", "share of the signal at 1X")
        let unbalance = strongOneX && dominant
        let unbalanceCertainty =
            unbalance
            ? min(certainty(spectral.oneX, oneXThreshold), certainty(dominance, t.unbalanceDominance))
            : certainty(spectral.oneX, oneXThreshold)

        // Support looseness: harmonics, a half-order sub-harmonic, impacts; enough of them together.
        let harmonicsThreshold = profile.baseline.map { max($0.harmonics * t.loosenessBaselineRatio, 1e-6) } ?? t.loosenessHarmonics
        let harmonics = check("harmonics_2x_10x", spectral.harmonics, harmonicsThreshold, "g", "harmonics 2X-10X together")
        let subharmonic = check("amplitude_0_5x", spectral.halfX, t.loosenessSubharmonic, "g", "half-order sub-harmonic")
        let crest = check("crest_factor", time.crestFactor, t.impactCrestFactor, "ratio", "impacts: peak over RMS")
        let kurtosis = check("kurtosis", time.kurtosis, t.impactKurtosis, "ratio", "impacts: heavy tails")
        let indicators = [harmonics, subharmonic, crest || kurtosis].filter { $0 }.count
        let looseness = indicators >= t.loosenessIndicators
        let margins = [
            certainty(spectral.harmonics, harmonicsThreshold), certainty(spectral.halfX, t.loosenessSubharmonic),
            max(certainty(time.crestFactor, t.impactCrestFactor), certainty(time.kurtosis, t.impactKurtosis)),
        ].sorted(by: >)
        // The verdict turns on the indicator that tipped the count.
        let loosenessCertainty = margins[min(max(t.loosenessIndicators - 1, 0), margins.count - 1)]

        let fault: FaultType =
            switch (unbalance, looseness) {
            case (false, false): .normal
            case (true, false): .massUnbalance
            case (false, true): .supportLooseness
            case (true, true): .unbalanceAndLooseness
            }
        let zone = ISO10816.zone(velocityRMS: spectral.velocityRMS, group: profile.group, foundation: profile.foundation)
        evidence.append(
            Evidence(
                feature: "velocity_rms", value: spectral.velocityRMS,
                threshold: ISO10816.boundaries(group: profile.group, foundation: profile.foundation).bc, unit: "mm/s",
                exceeded: zone >= .c, meaning: "ISO 10816-3 zone \(zone.rawValue): \(zone.meaning)"))
        return WindowDiagnosis(
            faultType: fault, confidence: min(unbalanceCertainty, loosenessCertainty), severityZone: zone, time: time,
            spectral: spectral, evidence: evidence)
    }
}
