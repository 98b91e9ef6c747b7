/// A few short bursts far outside the rest of a window: a glitch of the sensor, its cable or its
/// converter, or a knock on the machine. One such sample of twenty times the window's RMS lifts its
/// crest factor and kurtosis as a loose foot's impacts do and spreads its energy over the whole
/// spectrum, so the shape alone would read it as looseness. A loose foot's impacts come back every
/// revolution (at least ten a second above 10 Hz); a glitch does not.
///
/// A burst is a run of samples more than `threshold` times the window's RMS from its mean (gaps of
/// up to a millisecond inside it) with the samples next to it that stand out of the window's own
/// peaks (its ringing). When there are at most `perSecond` of them per second of the window (at
/// least one) and each is short (at most 2% of the window), those whose largest sample is `standout`
/// times the largest sample outside them are glitches: each is replaced by the line between the
/// samples either side of it, and the RMS is taken again without it (up to three rounds, for a
/// small glitch beside a big one). More bursts, or bursts no larger than the window's other peaks,
/// are the machine's own and are kept: a loose foot's rare hard impacts among its many softer ones.
public struct Spikes: Sendable, Hashable {
    /// Bursts removed.
    public var count = 0
    /// Samples replaced.
    public var samples = 0
    /// The largest removed sample's distance from the window's mean, in the window's unit.
    public var largest = 0.0

    public static let threshold = 6.0
    public static let perSecond = 2.0
    public static let standout = 2.0

    /// Removes the bursts from `samples` in place (a round that finds no glitch changes nothing);
    /// `time` is the features of the samples as given (a crest factor within the threshold means
    /// there is nothing to look for).
    public static func remove(from samples: inout [Double], sampleRateHz: Double, time: TimeFeatures) -> Spikes {
        var found = Spikes()
        guard time.crestFactor > threshold, samples.count >= 16, sampleRateHz > 0 else { return found }
        let n = samples.count
        let allowed = max(1, Int((perSecond * Double(n) / sampleRateHz).rounded()))
        let gap = max(2, Int(sampleRateHz / 1_000))
        let longest = max(3, n / 50)
        rounds: for round in 0..<3 {
            let mean = SignalTables.sum(samples) / Double(n)
            // The first round's RMS is the one given; a round after a removal takes it again.
            let rms = round == 0 ? time.rms : (samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)).squareRoot()
            guard rms > 0 else { break }
            let limit = threshold * rms
            var bursts: [ClosedRange<Int>] = []
            for i in 0..<n where abs(samples[i] - mean) > limit {
                if let last = bursts.last, i - last.upperBound <= gap {
                    bursts[bursts.count - 1] = last.lowerBound...i
                } else {
                    bursts.append(i...i)
                }
                // Too many to be glitches: what is left is the machine's own.
                if bursts.count + found.count > allowed { break rounds }
            }
            if bursts.isEmpty { break }
            // A knock rings on: each burst takes in the samples next to it (gaps of up to a
            // millisecond) that stand out of the window's own peaks: beyond 2.5 times its RMS and
            // beyond what all but its 0.5% largest samples reach.
            let magnitudes = samples.map { abs($0 - mean) }.sorted()
            let shoulder = max(2.5 * rms, magnitudes[min(n - 1, n * 995 / 1000)])
            var widened: [ClosedRange<Int>] = []
            for burst in bursts {
                var low = burst.lowerBound
                var j = low - 1
                while j >= 0 && low - j <= gap {
                    if abs(samples[j] - mean) > shoulder { low = j }
                    j -= 1
                }
                var high = burst.upperBound
                j = high + 1
                while j < n && j - high <= gap {
                    if abs(samples[j] - mean) > shoulder { high = j }
                    j += 1
                }
                if let last = widened.last, low <= last.upperBound + 1 {
                    widened[widened.count - 1] = last.lowerBound...max(high, last.upperBound)
                } else {
                    widened.append(low...high)
                }
            }
            guard widened.allSatisfy({ $0.count <= longest }) else { break }
            // A glitch stands out of the window's other peaks by `standout` times; a burst that
            // does not is one of the machine's impacts (and so is every smaller one).
            var rest = 0.0
            var next = 0
            for i in 0..<n {
                if next < widened.count && i >= widened[next].lowerBound {
                    if i == widened[next].upperBound { next += 1 }
                    continue
                }
                rest = max(rest, abs(samples[i] - mean))
            }
            let peaks = widened.map { burst in burst.reduce(0.0) { max($0, abs(samples[$1] - mean)) } }
            var glitches: [ClosedRange<Int>] = []
            for index in widened.indices.sorted(by: { peaks[$0] < peaks[$1] }) {
                if peaks[index] >= standout * rest {
                    glitches.append(widened[index])
                    found.largest = max(found.largest, peaks[index])
                } else {
                    rest = max(rest, peaks[index])
                }
            }
            if glitches.isEmpty { break }
            for burst in glitches {
                // The line between the samples either side of the burst.
                let before = max(0, burst.lowerBound - 1)
                let after = min(n - 1, burst.upperBound + 1)
                let from = before == burst.lowerBound ? samples[after] : samples[before]
                let to = after == burst.upperBound ? samples[before] : samples[after]
                let span = Double(max(1, after - before))
                for i in burst { samples[i] = from + (to - from) * Double(i - before) / span }
            }
            found.count += glitches.count
            found.samples += glitches.reduce(0) { $0 + $1.count }
        }
        return found
    }
}
