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
    }

    /// Buckets over [from, to) of the samples given in time order; empty buckets are left out.
    public static func minMax(times: [Int64], values: [Double], from: Int64, to: Int64, buckets: Int) -> [Bucket] {
        guard buckets > 0, to > from, !times.isEmpty else { return [] }
        let span = Double(to - from)
        var result: [Bucket] = []
        result.reserveCapacity(min(buckets, times.count))
        var current = -1
        for (t, v) in zip(times, values) where t >= from && t < to {
            let index = Swift.min(buckets - 1, Int(Double(t - from) / span * Double(buckets)))
            if index != current {
                current = index
                result.append(Bucket(time: from + Int64(Double(index) * span / Double(buckets)), min: v, max: v, count: 1))
            } else {
                result[result.count - 1].min = Swift.min(result[result.count - 1].min, v)
                result[result.count - 1].max = Swift.max(result[result.count - 1].max, v)
                result[result.count - 1].count += 1
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
}
