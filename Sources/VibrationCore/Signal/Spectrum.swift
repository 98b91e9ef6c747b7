/// The amplitude spectrum of a window: a sine of amplitude A at a bin's frequency reads A there.
public struct AmplitudeSpectrum: Sendable {
    /// Amplitude per bin, in the signal's unit (g), bins 0...N/2.
    public var amplitudes: [Double]
    /// Width of one bin in Hz: sample rate / FFT size.
    public var binHz: Double
    /// The samples transformed (before the zero padding).
    public var sampleCount: Int

    public var nyquistHz: Double { binHz * Double(amplitudes.count - 1) }

    /// Hann-windowed, mean removed, zero-padded to the next power of two.
    public init(samples: [Double], sampleRateHz: Double) {
        let n = samples.count
        sampleCount = n
        let size = FFTPlan.size(for: max(n, 4))
        let plan = SignalTables.shared.plan(size: size)
        let (window, windowSum) = SignalTables.shared.hann(count: max(n, 1))
        let mean = SignalTables.sum(samples) / Double(max(n, 1))
        let windowed = [Double](unsafeUninitializedCapacity: n) { out, initialized in
            samples.withUnsafeBufferPointer { x in
                window.withUnsafeBufferPointer { w in
                    for i in 0..<n { out[i] = (x[i] - mean) * w[i] }
                }
            }
            initialized = n
        }
        var magnitudes = [Double](repeating: 0, count: size / 2 + 1)
        windowed.withUnsafeBufferPointer { input in
            magnitudes.withUnsafeMutableBufferPointer { output in plan.magnitudes(input, into: output) }
        }
        // One-sided amplitude, corrected for the window's coherent gain.
        let scale = windowSum > 0 ? 2 / windowSum : 0
        for k in magnitudes.indices { magnitudes[k] *= scale }
        magnitudes[0] *= 0.5
        magnitudes[magnitudes.count - 1] *= 0.5
        amplitudes = magnitudes
        binHz = sampleRateHz / Double(size)
    }

    /// The bin of a frequency (or the number of bins a width spans), rounded by `rule` and held to
    /// 0...amplitudes.count: at the lowest sample rates a request may give, a few hertz are more
    /// bins than an Int holds.
    public func bin(_ hz: Double, _ rule: FloatingPointRoundingRule) -> Int {
        let bins = (hz / binHz).rounded(rule)
        guard bins > 0 else { return 0 }
        return bins < Double(amplitudes.count) ? Int(bins) : amplitudes.count
    }

    /// The largest amplitude within `toleranceBins` of a frequency (a tone between bins spreads over two).
    public func amplitude(at hz: Double, toleranceBins: Int = 1) -> Double {
        guard hz > 0, hz < nyquistHz else { return 0 }
        let center = bin(hz, .toNearestOrAwayFromZero)
        var best = 0.0
        for k in max(1, center - toleranceBins)...min(amplitudes.count - 1, center + toleranceBins) {
            best = max(best, amplitudes[k])
        }
        return best
    }

    /// The frequency of the largest amplitude in a band.
    public func peak(in band: ClosedRange<Double>) -> (hz: Double, amplitude: Double)? {
        let low = max(1, bin(band.lowerBound, .up))
        let high = min(amplitudes.count - 1, bin(band.upperBound, .down))
        guard low <= high else { return nil }
        var best = low
        for k in low...high where amplitudes[k] > amplitudes[best] { best = k }
        return (Double(best) * binHz, amplitudes[best])
    }

    /// RMS velocity in mm/s over a band, from this acceleration spectrum in g: each bin divided by
    /// 2πf (integration), the one-sided amplitudes summed as power and corrected for the Hann
    /// window's noise bandwidth of 1.5 bins.
    public func velocityRMS(band: ClosedRange<Double> = 10...1000) -> Double {
        velocityRMS(power: velocityPower(bins: bins(band)))
    }

    /// The bins of a band: from its lower edge up, to its upper edge down, bin 0 left out.
    func bins(_ band: ClosedRange<Double>) -> Range<Int> {
        let low = max(1, bin(band.lowerBound, .up))
        let high = min(amplitudes.count - 1, bin(band.upperBound, .down))
        return low <= high ? low..<(high + 1) : low..<low
    }

    /// The squared velocities (mm/s) of a range of bins, summed.
    func velocityPower(bins: Range<Int>) -> Double {
        var power = 0.0
        for k in bins {
            let velocity = ISO10816.velocity(accelerationG: amplitudes[k], hz: Double(k) * binHz)
            power += velocity * velocity
        }
        return power
    }

    func velocityRMS(power: Double) -> Double {
        (max(0, power) / 2 / 1.5).squareRoot()
    }

    /// RMS velocity over `band`, given the velocity RMS over 10-1000 Hz (`velocityRMS()`): only the
    /// bins where the two bands differ are summed again. Both bands must end at 1000 Hz.
    public func velocityRMS(from lower: Double, knowing standard: Double) -> Double {
        guard lower <= 1000 else { return velocityRMS(band: lower...lower) }
        let standardBins = bins(10...1000)
        let wanted = bins(lower...1000)
        guard wanted.upperBound == standardBins.upperBound, !wanted.isEmpty, !standardBins.isEmpty else {
            return velocityRMS(band: lower...max(lower, 1000))
        }
        var power = standard * standard * 2 * 1.5
        if wanted.lowerBound < standardBins.lowerBound {
            power += velocityPower(bins: wanted.lowerBound..<standardBins.lowerBound)
        } else {
            power -= velocityPower(bins: standardBins.lowerBound..<wanted.lowerBound)
        }
        return velocityRMS(power: power)
    }
}

/// How far lines stand out of the spectrum's local floor: the amplitude at a frequency over the
/// median amplitude of the bins around it. The medians are taken over blocks of 16 bins (a line or
/// two in a block leave its median where the noise is), interpolated between the blocks' centres,
/// and computed only for the blocks asked about. A tone reads far above 1, noise about 1 to 3.
public struct LineProminence {
    public let spectrum: AmplitudeSpectrum
    static let block = 16
    /// Each block's median; NaN until asked.
    private var medians: [Double]

    public init(_ spectrum: AmplitudeSpectrum) {
        self.spectrum = spectrum
        medians = [Double](repeating: .nan, count: max(1, (spectrum.amplitudes.count - 1 + Self.block - 1) / Self.block))
    }

    /// The largest amplitude within a bin of the frequency over the floor there; 0 outside the spectrum.
    public mutating func callAsFunction(_ hz: Double) -> Double {
        guard hz > 0, hz < spectrum.nyquistHz else { return 0 }
        return over(spectrum.amplitude(at: hz), bin: spectrum.bin(hz, .toNearestOrAwayFromZero))
    }

    /// An amplitude over the floor at a bin.
    public mutating func over(_ amplitude: Double, bin: Int) -> Double {
        let floor = self.floor(bin)
        return floor > 0 ? amplitude / floor : (amplitude > 0 ? .infinity : 0)
    }

    /// The floor at a bin: between the medians of the two nearest blocks (bin 0 is left out).
    public mutating func floor(_ bin: Int) -> Double {
        let position = Double(bin - 1) / Double(Self.block) - 0.5
        let last = medians.count - 1
        let i = max(0, min(last, Int(position.rounded(.down))))
        let j = min(last, i + 1)
        let t = max(0, min(1, position - Double(i)))
        return median(i) * (1 - t) + median(j) * t
    }

    private mutating func median(_ block: Int) -> Double {
        let known = medians[block]
        if !known.isNaN { return known }
        let start = 1 + block * Self.block
        let end = min(spectrum.amplitudes.count, start + Self.block)
        let value = withUnsafeTemporaryAllocation(of: Double.self, capacity: Self.block) { buffer -> Double in
            var n = 0
            for k in start..<end {
                // Insertion sort: sixteen values at most.
                let x = spectrum.amplitudes[k]
                var i = n
                while i > 0 && buffer[i - 1] > x {
                    buffer[i] = buffer[i - 1]
                    i -= 1
                }
                buffer[i] = x
                n += 1
            }
            return n == 0 ? 0 : buffer[n / 2]
        }
        medians[block] = value
        return value
    }
}
