import VibrationCore

extension SampleStore {
    /// A waveform drawn from the summary level whose buckets are no wider than a drawing bucket,
    /// read by `summary(level, firstBucket)` (nil when the sensor is unknown), or, for ranges finer
    /// than the finest level, from the samples themselves when the range holds at most
    /// `WaveformSummary.rawSampleBudget` of them (counted from the 100 ms level), and from the finest
    /// level otherwise: then a bucket of 10 ms may span a few drawing buckets, and a narrower range
    /// brings the samples back. The work of a request so stays bounded whatever the sensor's rate.
    /// Before any of that, `placed` reads the range recording by recording (at most
    /// `WaveformSummary.sampleLimit` samples) when collected_at does not place its samples, and
    /// answers nil when it does.
    func drawWaveform(
        machineName: String, sensorNo: String, channel: SignalChannel, from: Timestamp, to: Timestamp, buckets: Int,
        placed: () async throws -> (times: [Int64], values: [Double])?,
        summary: (_ level: Int, _ firstBucket: Int64) async throws -> [Downsampling.Bucket]?
    ) async throws -> Downsampling.Reduced? {
        let end = to.microseconds + 1
        let limit = WaveformSummary.sampleLimit
        func drawn(_ series: (times: [Int64], values: [Double])) -> Downsampling.Reduced {
            Downsampling.Reduced(
                buckets: Downsampling.minMax(times: series.times, values: series.values, from: from.microseconds, to: end, buckets: buckets),
                samples: series.times.count, truncated: series.times.count == limit, summaryMicroseconds: nil)
        }
        if let series = try await placed() { return drawn(series) }
        let perBucket = (end - from.microseconds) / Int64(max(buckets, 1))
        func drawn(level: Int) async throws -> Downsampling.Reduced? {
            let width = WaveformSummary.levels[level]
            guard let rows = try await summary(level, WaveformSummary.bucket(from.microseconds, width)) else { return nil }
            return Downsampling.Reduced(
                buckets: Downsampling.merge(rows, from: from.microseconds, to: end, buckets: buckets),
                samples: rows.reduce(0) { $0 + $1.count }, truncated: false, summaryMicroseconds: width)
        }
        if let level = WaveformSummary.levels.lastIndex(where: { $0 <= perBucket }) {
            return try await drawn(level: level)
        }
        let counted = 1
        guard let around = try await summary(counted, WaveformSummary.bucket(from.microseconds, WaveformSummary.levels[counted]))
        else { return nil }
        // The 100 ms buckets the range touches: at most 0.2 s more than the range holds.
        if around.reduce(0, { $0 + $1.count }) > WaveformSummary.rawSampleBudget {
            return try await drawn(level: 0)
        }
        return try await series(machineName: machineName, sensorNo: sensorNo, channel: channel, from: from, to: to, limit: limit)
            .map(drawn)
    }
}
