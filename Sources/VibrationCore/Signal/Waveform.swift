import Foundation

/// A stretch of one channel's signal at a uniform sample rate, ready for analysis.
public struct Waveform: Sendable {
    public var samples: [Double]
    public var sampleRateHz: Double

    public init(samples: [Double], sampleRateHz: Double) {
        self.samples = samples
        self.sampleRateHz = sampleRateHz
    }

    public var seconds: Double { Double(samples.count) / sampleRateHz }

    /// Samples taken at uneven times (as in the original data set, 1.3-1.4 kHz with jitter), put on
    /// a uniform grid at their mean rate by linear interpolation. Nil when the times do not increase
    /// or there are fewer than 4 samples.
    public init?(values: [Double], times: [Double]) {
        let n = values.count
        guard n >= 4, times.count == n, let first = times.first, let last = times.last, last > first else { return nil }
        for i in 1..<n where !(times[i] > times[i - 1]) { return nil }
        let rate = Double(n - 1) / (last - first)
        var uniform = [Double](repeating: 0, count: n)
        var j = 0
        for i in 0..<n {
            let t = first + Double(i) / rate
            while j < n - 2 && times[j + 1] < t { j += 1 }
            let t0 = times[j]
            let t1 = times[j + 1]
            let f = min(1, max(0, (t - t0) / (t1 - t0)))
            uniform[i] = values[j] + (values[j + 1] - values[j]) * f
        }
        self.init(samples: uniform, sampleRateHz: rate)
    }

    /// Index ranges of the complete windows of `seconds` in a recording, by measured time: window k
    /// holds the samples with time in [k·seconds, (k+1)·seconds). The last, incomplete one is left out.
    public static func windows(times: [Double], seconds: Double) -> [Range<Int>] {
        guard let last = times.last, seconds > 0 else { return [] }
        var ranges: [Range<Int>] = []
        var start = 0
        var k = (times.first.map { ($0 / seconds).rounded(.down) } ?? 0)
        while start < times.count {
            let end = k + 1
            guard end * seconds <= last else { break }
            var i = start
            while i < times.count, times[i] < end * seconds { i += 1 }
            if i - start >= 4 { ranges.append(start..<i) }
            start = i
            k = end
        }
        return ranges
    }
}

/// Time-domain features of a window, computed on the signal with its mean removed.
public struct TimeFeatures: Sendable, Hashable, Codable {
    public var rms: Double
    public var peak: Double
    public var peakToPeak: Double
    public var crestFactor: Double
    /// Fourth standardized moment: 1.5 for a sine, 3 for Gaussian noise, more with impacts.
    public var kurtosis: Double
    public var skewness: Double
    /// The lowest and the highest sample (not encoded: `peak_to_peak` carries the span).
    public var low = 0.0
    public var high = 0.0

    public init(_ samples: [Double]) {
        let n = Double(max(samples.count, 1))
        // Four lanes at a time: one running sum would make each addition wait for the last.
        let (sum, low, high) = samples.withUnsafeBufferPointer { p -> (Double, Double, Double) in
            var sums = SIMD4<Double>(repeating: 0)
            var lows = SIMD4<Double>(repeating: .infinity)
            var highs = SIMD4<Double>(repeating: -.infinity)
            var i = 0
            while i + 4 <= p.count {
                let v = SIMD4(p[i], p[i + 1], p[i + 2], p[i + 3])
                sums += v
                lows = lows.replacing(with: v, where: v .< lows)
                highs = highs.replacing(with: v, where: v .> highs)
                i += 4
            }
            var sum = sums.sum()
            var low = lows.min()
            var high = highs.max()
            while i < p.count {
                sum += p[i]
                low = Swift.min(low, p[i])
                high = Swift.max(high, p[i])
                i += 1
            }
            return (sum, low, high)
        }
        let mean = sum / n
        let (m2, m3, m4, peak) = samples.withUnsafeBufferPointer { p -> (Double, Double, Double, Double) in
            var m2s = SIMD4<Double>(repeating: 0)
            var m3s = SIMD4<Double>(repeating: 0)
            var m4s = SIMD4<Double>(repeating: 0)
            var peaks = SIMD4<Double>(repeating: 0)
            let means = SIMD4<Double>(repeating: mean)
            var i = 0
            while i + 4 <= p.count {
                let d = SIMD4(p[i], p[i + 1], p[i + 2], p[i + 3]) - means
                let d2 = d * d
                m2s += d2
                m3s += d2 * d
                m4s += d2 * d2
                let magnitude = d.replacing(with: -d, where: d .< 0)
                peaks = peaks.replacing(with: magnitude, where: magnitude .> peaks)
                i += 4
            }
            var m2 = m2s.sum()
            var m3 = m3s.sum()
            var m4 = m4s.sum()
            var peak = peaks.max()
            while i < p.count {
                let d = p[i] - mean
                let d2 = d * d
                m2 += d2
                m3 += d2 * d
                m4 += d2 * d2
                peak = Swift.max(peak, abs(d))
                i += 1
            }
            return (m2 / n, m3 / n, m4 / n, peak)
        }
        rms = m2.squareRoot()
        self.peak = peak
        peakToPeak = samples.isEmpty ? 0 : high - low
        self.low = samples.isEmpty ? 0 : low
        self.high = samples.isEmpty ? 0 : high
        crestFactor = rms > 0 ? peak / rms : 0
        kurtosis = m2 > 0 ? m4 / (m2 * m2) : 0
        skewness = m2 > 0 ? m3 / pow(m2, 1.5) : 0
    }

    enum CodingKeys: String, CodingKey {
        case rms, peak
        case peakToPeak = "peak_to_peak"
        case crestFactor = "crest_factor"
        case kurtosis, skewness
    }
}
