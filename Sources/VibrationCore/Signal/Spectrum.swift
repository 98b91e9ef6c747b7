/// The amplitude spectrum of a window: a sine of amplitude A at a bin's frequency reads A there.
public struct AmplitudeSpectrum: Sendable {
    /// Amplitude per bin, in the signal's unit (g), bins 0...N/2.
    public var amplitudes: [Double]
    /// Width of one bin in Hz: sample rate / FFT size.
    public var binHz: Double

    public var nyquistHz: Double { binHz * Double(amplitudes.count - 1) }

    /// Hann-windowed, mean removed, zero-padded to the next power of two.
    public init(samples: [Double], sampleRateHz: Double) {
        let n = samples.count
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

    /// How far a line stands out of its local floor: the amplitude at a frequency over the median
    /// amplitude of the bins around it (its own three bins either side left out). A tone reads far
    /// above 1, noise about 1. 0 outside the spectrum.
    public func lineHeight(at hz: Double) -> Double {
        let center = bin(hz, .toNearestOrAwayFromZero)
        guard hz > 0, center > 0, center < amplitudes.count - 1 else { return 0 }
        let width = max(8, center / 10)
        var around: [Double] = []
        for k in max(1, center - width)...min(amplitudes.count - 1, center + width) where abs(k - center) > 3 {
            around.append(amplitudes[k])
        }
        guard !around.isEmpty else { return 0 }
        around.sort()
        let median = around[around.count / 2]
        let line = amplitude(at: hz)
        return median > 0 ? line / median : (line > 0 ? .infinity : 0)
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
        var power = 0.0
        let low = max(1, bin(band.lowerBound, .up))
        let high = min(amplitudes.count - 1, bin(band.upperBound, .down))
        guard low <= high else { return 0 }
        for k in low...high {
            let f = Double(k) * binHz
            let velocity = ISO10816.velocity(accelerationG: amplitudes[k], hz: f)
            power += velocity * velocity
        }
        return (power / 2 / 1.5).squareRoot()
    }
}
