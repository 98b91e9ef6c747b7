import Foundation

/// The shape of a window's spectrum and waveform as ratios: none of them changes when the whole
/// window is scaled (a sensor's sensitivity, its mounting, the machine's size), so neither does a
/// verdict made from them. Most are natural logarithms of amplitude ratios.
public struct ShapeFeatures: Sendable, Hashable {
    public enum Name: String, CaseIterable, Sendable {
        case oneXOverRest = "ratio_1x_to_rest"
        case oneXOverFloor = "ratio_1x_to_floor"
        case harmonicsOverFloor = "ratio_harmonics_to_floor"
        case highHarmonicsOverFloor = "ratio_4x_10x_to_floor"
        case halfXOverOneX = "ratio_0_5x_to_1x"
        case crestFactor = "crest_factor"
        case kurtosis = "kurtosis"
        case harmonicVelocityOverOneX = "ratio_harmonic_velocity_to_1x"
        case highHarmonicVelocityOverOneX = "ratio_4x_10x_velocity_to_1x"
        case velocityOverOneX = "ratio_velocity_to_1x_velocity"
        case oneXOverTwoX = "ratio_1x_to_2x"
        case asymmetry = "asymmetry"
        case topHarmonicOverHarmonics = "ratio_top_harmonic_to_harmonics"
        case twoXOverHarmonics = "ratio_2x_to_harmonics"
        case oneXOverLocalFloor = "ratio_1x_to_local_floor"

        public var meaning: String {
            switch self {
            case .oneXOverRest: "1X RMS over the RMS of everything else"
            case .oneXOverFloor: "1X RMS over the broadband floor (what is not at 0.5X or 1X-10X)"
            case .harmonicsOverFloor: "harmonics 2X-10X over the broadband floor"
            case .highHarmonicsOverFloor: "harmonics 4X-10X over the broadband floor"
            case .halfXOverOneX: "half-order sub-harmonic 0.5X over 1X"
            case .crestFactor: "peak over RMS (impacts)"
            case .kurtosis: "kurtosis (impacts: 1.5 for a sine, 3 for noise)"
            case .harmonicVelocityOverOneX: "harmonics 2X-10X as velocity over 1X as velocity"
            case .highHarmonicVelocityOverOneX: "harmonics 4X-10X as velocity over 1X as velocity"
            case .velocityOverOneX: "velocity RMS from 0.4X to 1 kHz over 1X's velocity"
            case .oneXOverTwoX: "1X over 2X"
            case .asymmetry: "|skewness|: a foot that lifts or clips moves one way more than the other"
            case .topHarmonicOverHarmonics:
                "the strongest of 2X-10X over all of them: one line (a fan's blade pass, a pump's vane pass) rather than a comb (looseness)"
            case .twoXOverHarmonics: "2X over all of 2X-10X: looseness's comb begins at 2X, a blade pass of three or more blades leaves it empty"
            case .oneXOverLocalFloor:
                "1X RMS over the median of the spectrum's bins around 1X, scaled so that a white noise alone reads 0.83 of its RMS: a sensor's white noise counts less here than in the broadband floor; a strong 1X's own skirt fills the bins and the ratio levels off"
            }
        }

        /// Whether the value is a logarithm (shown to people as the ratio itself).
        var isLogarithm: Bool { self != .asymmetry }
    }

    /// In the order of `Name.allCases`.
    public var values: [Double]

    public init(values: [Double]) {
        self.values = values
        isFlat = false
    }

    /// A flat window (no signal at all) has no shape.
    public var isFlat: Bool

    public init(time: TimeFeatures, spectral: SpectralFeatures, spectrum: AmplitudeSpectrum) {
        let rms = time.rms
        isFlat = !(rms > 0)
        // Amplitudes below this (60 dB under the RMS) are taken as this: every ratio is finite, scales
        // away, and a component lost in any real floor counts the same however small it is.
        let tiny = max(rms, .leastNormalMagnitude) * 1e-3
        func ln(_ x: Double, over y: Double) -> Double { log(max(x, tiny) / max(y, tiny)) }
        let a1 = spectral.oneX
        let orders = spectral.orders
        let harmonics = spectral.harmonics
        let high = orders.dropFirst(2).reduce(0) { $0 + $1 * $1 }.squareRoot()
        let rest = max(rms * rms - a1 * a1 / 2, 1e-6 * rms * rms).squareRoot()
        let tonal = (a1 * a1 + harmonics * harmonics + spectral.halfX * spectral.halfX) / 2
        let floor = max(rms * rms - tonal, 1e-6 * rms * rms).squareRoot()
        var velocity = 0.0
        var highVelocity = 0.0
        for (i, a) in orders.enumerated() {
            let v = a / Double(i + 2)
            velocity += v * v
            if i >= 2 { highVelocity += v * v }
        }
        let f = spectral.shaftHz
        let oneXVelocity = ISO10816.velocity(accelerationG: a1, hz: f) / 2.squareRoot()
        let band = f > 0 && f.isFinite ? spectrum.velocityRMS(from: 0.4 * f, knowing: spectral.velocityRMS) : 0
        let rootTwo = 2.squareRoot()
        // The floor's median amplitude around 1X times sqrt(N / 6): a Hann window's bins read a white
        // noise of RMS σ as σ sqrt(6 / N) (their RMS; their median is 0.83 of it), whatever N and the
        // rate. Around a strong line the line's own skirt fills the block, and the ratio levels off.
        var prominence = LineProminence(spectrum)
        let localFloor = f > 0 && f.isFinite
            ? prominence.floor(spectrum.bin(f, .toNearestOrAwayFromZero)) * (Double(spectrum.sampleCount) / 6).squareRoot() : 0
        values = [
            ln(a1 / rootTwo, over: rest),
            ln(a1 / rootTwo, over: floor),
            ln(harmonics / rootTwo, over: floor),
            ln(high / rootTwo, over: floor),
            ln(spectral.halfX, over: a1),
            log(max(time.crestFactor, 1e-12)),
            log(max(time.kurtosis, 1e-12)),
            ln(velocity.squareRoot(), over: a1),
            ln(highVelocity.squareRoot(), over: a1),
            log(max(band, 1e-300) / max(oneXVelocity, 1e-300)),
            ln(a1, over: orders.first ?? 0),
            abs(time.skewness),
            ln(orders.max() ?? 0, over: harmonics),
            ln(orders.first ?? 0, over: harmonics),
            ln(a1 / rootTwo, over: localFloor),
        ]
        if isFlat { values = [Double](repeating: 0, count: Name.allCases.count) }
    }
}

/// Four scores over the shape features, one per fault type: the type is the highest, and the
/// scores' softmax is each type's probability. The features are standardized and go through one
/// hidden layer of rectified linear units (a small neural network), so that one ratio can count
/// differently depending on the others (a strong 1X means mass unbalance on a quiet spectrum, and
/// both faults among many harmonics).
///
/// The weights (`ShapeModel+Fitted.swift`) are fitted by `scripts/fit-shape-model.py` on windows of
/// both sources of labelled data, the additive `PlantGenerator` and the physical `RotorModel`, from
/// tuning seeds only; `DiagnosisBenchmark` evaluates them on other seeds.
public struct ShapeModel: Sendable {
    /// Standardization of each feature: z = (x - mean) / scale.
    public let mean: [Double]
    public let scale: [Double]
    /// The hidden units' weights (one per feature), unit after unit in one array, and their biases.
    let hidden: [Double]
    let hiddenBias: [Double]
    /// Per fault type: a weight per hidden unit, and a bias.
    let outputWeights: [[Double]]
    let outputBias: [Double]

    public init(mean: [Double], scale: [Double], hiddenWeights: [[Double]], hiddenBias: [Double], outputWeights: [[Double]], outputBias: [Double]) {
        precondition(mean.count == scale.count && hiddenWeights.allSatisfy { $0.count == mean.count })
        precondition(hiddenBias.count == hiddenWeights.count && outputWeights.allSatisfy { $0.count == hiddenWeights.count })
        precondition(outputBias.count == outputWeights.count)
        self.mean = mean
        self.scale = scale
        self.hiddenBias = hiddenBias
        self.outputWeights = outputWeights
        self.outputBias = outputBias
        hidden = hiddenWeights.flatMap { $0 }
    }

    /// How far from the fitted windows' mean a feature may count, in standard deviations: the model
    /// must not run away on a window unlike any it was fitted on (a pure sine has no floor at all),
    /// so a feature beyond this counts as at this.
    static let reach = 4.0

    func standardized(_ features: ShapeFeatures) -> [Double] {
        zip(features.values, zip(mean, scale)).map { x, standard in
            min(Self.reach, max(-Self.reach, (x - standard.0) / standard.1))
        }
    }

    /// Each hidden unit's input before its rectifier.
    func hiddenInputs(_ z: [Double]) -> [Double] {
        let n = mean.count
        precondition(z.count == n)
        return [Double](unsafeUninitializedCapacity: hiddenBias.count) { out, initialized in
            hidden.withUnsafeBufferPointer { w in
                z.withUnsafeBufferPointer { z in
                    for u in 0..<hiddenBias.count {
                        var sum = hiddenBias[u]
                        let row = u * n
                        for i in 0..<n { sum += w[row + i] * z[i] }
                        out[u] = sum
                    }
                }
            }
            initialized = hiddenBias.count
        }
    }

    /// Σ weights[u] · max(0, inputs[u]).
    static func rectifiedDot(_ weights: [Double], _ inputs: [Double]) -> Double {
        weights.withUnsafeBufferPointer { w in
            inputs.withUnsafeBufferPointer { h in
                var sum = 0.0
                for u in 0..<min(w.count, h.count) { sum += w[u] * max(0, h[u]) }
                return sum
            }
        }
    }

    /// A window as the model sees it: its standardized features, the hidden units' inputs and its
    /// scores, one per fault type (log-odds up to a constant; a flat window is normal).
    public struct Evaluation: Sendable {
        public var features: ShapeFeatures
        var z: [Double]
        var hidden: [Double]
        public var scores: [Double]
    }

    public func evaluate(_ features: ShapeFeatures) -> Evaluation {
        let z = standardized(features)
        if features.isFlat { return Evaluation(features: features, z: z, hidden: [], scores: [0, -20, -20, -20]) }
        let h = hiddenInputs(z)
        let scores = outputWeights.indices.map { c in
            let score = outputBias[c] + Self.rectifiedDot(outputWeights[c], h)
            return score.isFinite ? score : (c == 0 ? 0 : -20)
        }
        return Evaluation(features: features, z: z, hidden: h, scores: scores)
    }

    /// Each type's probability from its score.
    public static func probabilities(_ scores: [Double]) -> [Double] {
        let top = scores.max() ?? 0
        let e = scores.map { exp($0 - top) }
        let total = e.reduce(0, +)
        return e.map { $0 / total }
    }

    /// How much each feature adds to type `a`'s score over type `b`'s: the margin as it is, less
    /// the margin with that feature at its typical value (the mean of the fitted windows).
    public func contributions(_ evaluation: Evaluation, for a: Int, over b: Int) -> [Double] {
        let z = evaluation.z
        let h = evaluation.hidden
        if evaluation.features.isFlat { return [Double](repeating: 0, count: z.count) }
        let difference = zip(outputWeights[a], outputWeights[b]).map { $0 - $1 }
        let whole = Self.rectifiedDot(difference, h)
        let n = z.count
        return hidden.withUnsafeBufferPointer { w in
            difference.withUnsafeBufferPointer { d in
                h.withUnsafeBufferPointer { h in
                    z.indices.map { i in
                        var typical = 0.0
                        for u in 0..<h.count { typical += d[u] * max(0, h[u] - w[u * n + i] * z[i]) }
                        return whole - typical
                    }
                }
            }
        }
    }
}
