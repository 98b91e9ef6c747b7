/// Peak-preserving reduction of a long series for drawing: the time range is cut into buckets (one
/// per pixel column, say) and each bucket keeps its smallest and its largest value, so no peak is
/// ever hidden however far the view is zoomed out.
public enum Downsampling {
    public struct Bucket: Sendable, Hashable {
        /// Start of the bucket (microseconds since 1970, UTC).
        public var time: Int64
        public var min: Double
        public var max: Double
        /// Samples the bucket stands for.
        public var count: Int

        public init(time: Int64, min: Double, max: Double, count: Int) {
            self.time = time
            self.min = min
            self.max = max
            self.count = count
        }
    }

    /// Which of `buckets` equal parts of `span` an offset falls in, and where a part starts: in
    /// integers, so that a time on a boundary always lands in the part it starts.
    @inline(__always)
    static func part(_ offset: Int64, of span: Int64, _ buckets: Int) -> Int {
        let product = offset.multipliedFullWidth(by: Int64(buckets))
        return Swift.min(buckets - 1, Int(span.dividingFullWidth(product).quotient))
    }

    @inline(__always)
    static func start(of part: Int, from: Int64, span: Int64, _ buckets: Int) -> Int64 {
        let product = Int64(part).multipliedFullWidth(by: span)
        let (quotient, remainder) = Int64(buckets).dividingFullWidth(product)
        return from + quotient + (remainder > 0 ? 1 : 0)
    }

    /// Buckets over [from, to) of the samples given in time order; empty buckets are left out.
    public static func minMax(times: [Int64], values: [Double], from: Int64, to: Int64, buckets: Int) -> [Bucket] {
        guard buckets > 0, to > from, !times.isEmpty else { return [] }
        let span = to - from
        var result: [Bucket] = []
        result.reserveCapacity(min(buckets, times.count))
        var current = -1
        for (t, v) in zip(times, values) where t >= from && t < to {
            let index = part(t - from, of: span, buckets)
            if index != current {
                current = index
                result.append(Bucket(time: start(of: index, from: from, span: span, buckets), min: v, max: v, count: 1))
            } else {
                result[result.count - 1].min = Swift.min(result[result.count - 1].min, v)
                result[result.count - 1].max = Swift.max(result[result.count - 1].max, v)
                result[result.count - 1].count += 1
            }
        }
        return result
    }

    /// Buckets over [from, to) from buckets already reduced (a stored summary, in time order): each
    /// is placed by its start, so a drawing bucket keeps the extremes of every summary bucket that
    /// starts in it. Summary buckets narrower than a drawing bucket shift nothing by more than their width.
    public static func merge(_ summary: [Bucket], from: Int64, to: Int64, buckets: Int) -> [Bucket] {
        guard buckets > 0, to > from, !summary.isEmpty else { return [] }
        let span = to - from
        var result: [Bucket] = []
        result.reserveCapacity(min(buckets, summary.count))
        var current = -1
        for entry in summary where entry.time < to {
            let index = part(Swift.max(0, entry.time - from), of: span, buckets)
            if index != current {
                current = index
                result.append(
                    Bucket(time: start(of: index, from: from, span: span, buckets), min: entry.min, max: entry.max, count: entry.count))
            } else {
                result[result.count - 1].min = Swift.min(result[result.count - 1].min, entry.min)
                result[result.count - 1].max = Swift.max(result[result.count - 1].max, entry.max)
                result[result.count - 1].count += entry.count
            }
        }
        return result
    }

    /// The largest value of each of at most `buckets` equal runs of `values` (a spectrum's bins, say),
    /// with the index it was found at: a narrow peak survives however few points are kept.
    public static func peaks(_ values: ArraySlice<Double>, buckets: Int) -> [(index: Int, value: Double)] {
        guard buckets > 0, !values.isEmpty else { return [] }
        if values.count <= buckets { return zip(values.indices, values).map { ($0, $1) } }
        var result: [(index: Int, value: Double)] = []
        result.reserveCapacity(buckets)
        let per = Double(values.count) / Double(buckets)
        for b in 0..<buckets {
            let low = values.startIndex + Int((Double(b) * per).rounded(.down))
            let high = min(values.endIndex, values.startIndex + Int((Double(b + 1) * per).rounded(.down)))
            guard low < high else { continue }
            var best = low
            for i in low..<high where values[i] > values[best] { best = i }
            result.append((best, values[best]))
        }
        return result
    }

    /// A range of one channel, reduced for drawing.
    public struct Reduced: Sendable, Hashable {
        public var buckets: [Bucket]
        /// Samples the buckets stand for.
        public var samples: Int
        /// True when the range held more samples than one read takes; narrow it.
        public var truncated: Bool
        /// Width of the stored summary buckets the answer was built from, in microseconds; nil when
        /// it was built from the samples themselves.
        public var summaryMicroseconds: Int64?

        public init(buckets: [Bucket], samples: Int, truncated: Bool, summaryMicroseconds: Int64?) {
            self.buckets = buckets
            self.samples = samples
            self.truncated = truncated
            self.summaryMicroseconds = summaryMicroseconds
        }
    }
}
