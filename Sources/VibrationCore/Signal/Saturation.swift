/// A sensor (or its converter) driven past its range reads its limit for as long as the motion
/// stays beyond it: the window's highest or lowest value comes back sample after sample, where a
/// real peak is reached once or a few times. The flat tops add harmonics of their own, so the type
/// of a clipped window is in doubt, and its level is too low.
///
/// A rail is the window's highest (or lowest) value when at least `minimumShare` of the samples sit
/// exactly on it. When the samples come in steps (the next value in from the rail repeats too), it
/// must also be held two samples at a time or more on average (flat tops) and hold `pileUp` times
/// as many samples as the band just inside it (2% of the span, or down to that next value,
/// whichever is wider): a coarse converter's top step is not a rail, its next step holds about as
/// many.
public struct Saturation: Sendable, Hashable {
    /// The share of the samples on the rail (the larger, when both are).
    public var share: Double
    /// The rail's value, in the window's unit.
    public var rail: Double

    public static let minimumShare = 0.005
    public static let pileUp = 3.0

    /// The rail of `samples`, if any; `time` is their features (its lowest and highest value).
    public static func find(in samples: [Double], time: TimeFeatures) -> Saturation? {
        let n = samples.count
        let span = time.high - time.low
        guard n >= 64, span > 0 else { return nil }
        let needed = max(4, Int((minimumShare * Double(n)).rounded(.up)))
        // A look at every eighth sample first: most windows have no rail, and this is an eighth of
        // a pass (a rail that holds a few times the minimum shows in it).
        var onHigh = 0
        var onLow = 0
        var i = 0
        while i < n {
            if samples[i] == time.high { onHigh += 1 } else if samples[i] == time.low { onLow += 1 }
            i += 8
        }
        guard 8 * max(onHigh, onLow) >= needed else { return nil }
        var best: Saturation?
        for (rail, sign) in [(time.high, 1.0), (time.low, -1.0)] {
            var on = 0
            var next = -Double.infinity
            var onNext = 0
            var runs = 0
            var wasOn = false
            for x in samples {
                let inward = sign * (rail - x)  // distance in from the rail, >= 0
                if inward == 0 && !wasOn { runs += 1 }
                wasOn = inward == 0
                if inward == 0 {
                    on += 1
                } else if -inward > next {
                    next = -inward
                    onNext = 1
                } else if -inward == next {
                    onNext += 1
                }
            }
            guard on >= needed else { continue }
            // Values that take any level are never equal by chance: when the next value in from
            // the rail comes once, the repeats alone tell a rail. A converter's steps repeat every
            // value, so a stepped window's rail must hold `pileUp` times the band just inside it.
            let gap = -next
            if onNext > 1 {
                // Flat tops, two samples or more on the rail on average: the tops of a loose
                // foot's impacts, one sample each on the converter's top step, are not.
                guard on >= 2 * runs else { continue }
                let width = max(0.02 * span, gap * 1.01)
                var band = 0
                for x in samples {
                    let inward = sign * (rail - x)
                    if inward > 0 && inward <= width { band += 1 }
                }
                guard Double(on) >= pileUp * Double(band) else { continue }
            }
            let share = Double(on) / Double(n)
            if share > (best?.share ?? 0) { best = Saturation(share: share, rail: rail) }
        }
        return best
    }
}
