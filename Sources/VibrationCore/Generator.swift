import Foundation

/// A deterministic plant of vibration recordings, in the shape of the rotating-machine fault data set
/// the original system loaded: by default 2 machines x 4 sensors at about 1.35 kHz with jitter,
/// 1.5 million samples. Each sample carries the four conditions of the data set, each following its
/// physics: normal (small 1X and noise), mass unbalance (dominant sinusoidal 1X), support looseness
/// (many 1X harmonics, a 0.5X sub-harmonic, an impact once per revolution) and both together.
public struct PlantGenerator: Sendable {
    public struct Options: Sendable, Hashable {
        public var rows: Int
        public var machines: Int
        public var sensors: Int
        /// Mean sample rate; each interval varies by `jitter` around it, as in the original data set.
        public var rateHz: Double
        public var jitter: Double
        public var seed: UInt64
        /// When the first recording starts.
        public var start: Timestamp
        /// Length of one recording; `measured_time` restarts at 0 for each.
        public var recordingSeconds: Double
        /// Scales every machine's noise; 1 is the default plant.
        public var noiseScale: Double

        public init(
            rows: Int = 1_500_000, machines: Int = 2, sensors: Int = 4, rateHz: Double = 1350, jitter: Double = 0.05,
            seed: UInt64 = 1, start: Timestamp = Timestamp(microseconds: 1_735_689_600_000_000),
            recordingSeconds: Double = 10, noiseScale: Double = 1
        ) {
            self.rows = rows
            self.machines = machines
            self.sensors = sensors
            self.rateHz = rateHz
            self.jitter = jitter
            self.seed = seed
            self.start = start
            self.recordingSeconds = recordingSeconds
            self.noiseScale = noiseScale
        }
    }

    /// How one sensor of one machine behaves: shaft speed, gain, noise and the phases of its tones.
    public struct Channel: Sendable {
        public var machineName: String
        public var sensorNo: String
        public var shaftHz: Double
        public var gain: Double
        public var noise: Double
        public var rows: Int
        var phases: [Double]
        var resonanceHz: Double
        var seed: UInt64

        init(
            machineName: String, sensorNo: String, shaftHz: Double, gain: Double, noise: Double, rows: Int,
            phases: [Double], resonanceHz: Double, seed: UInt64
        ) {
            self.machineName = machineName
            self.sensorNo = sensorNo
            self.shaftHz = shaftHz
            self.gain = gain
            self.noise = noise
            self.rows = rows
            self.phases = phases
            self.resonanceHz = resonanceHz
            self.seed = seed
        }

        /// A channel of its own: for tests and benchmarks that choose the shaft speed and noise.
        public init(
            machineName: String = "m", sensorNo: String = "s", shaftHz: Double, gain: Double = 1, noise: Double = 0.02,
            rows: Int = 0, seed: UInt64, sampleRateHz: Double
        ) {
            var rng = SplitMix64(seed: seed)
            let phases = (0..<12).map { _ in rng.uniform(0...(2 * .pi)) }
            let resonanceHz = min(rng.uniform(250...350), sampleRateHz * 0.4)
            self.init(
                machineName: machineName, sensorNo: sensorNo, shaftHz: shaftHz, gain: gain, noise: noise, rows: rows,
                phases: phases, resonanceHz: resonanceHz, seed: rng.next())
        }
    }

    /// The four conditions of a channel on a uniform grid: `count` samples at `sampleRateHz` from time `start`.
    /// The same signals as `conditions(of:at:rng:)`, computed by recurrence: each tone is a unit phasor turned
    /// by a fixed step per sample (set from `sin`/`cos` once per window), the impact's decay and ringing are
    /// stepped the same way and restarted at each revolution, and noise takes both values of each
    /// polar-method draw. Live streams and the simulator generate millions of samples a second with it.
    public static func window(of channel: Channel, count: Int, sampleRateHz: Double, start: Double = 0)
        -> (normal: [Double], unbalance: [Double], looseness: [Double], both: [Double])
    {
        var rng = SplitMix64(seed: channel.seed ^ UInt64(bitPattern: Int64(start * 1000)))
        var out = ([Double](), [Double](), [Double](), [Double]())
        out.0.reserveCapacity(count)
        out.1.reserveCapacity(count)
        out.2.reserveCapacity(count)
        out.3.reserveCapacity(count)
        let dt = 1 / sampleRateHz
        let w = 2 * Double.pi * channel.shaftHz
        let p = channel.phases
        // Tones: 1X, 2X at the residual's phase, 1X...10X of looseness, 0.5X.
        var tones: [(frequency: Double, phase: Double, amplitude: Double)] = [(w, p[0], 1), (2 * w, p[1], 1)]
        for k in 1...10 {
            tones.append((Double(k) * w, p[k], 0.09 / Double(k).squareRoot()))
        }
        tones.append((0.5 * w, p[11], 0.07))
        var phasors = tones.map { Phasor(angle: $0.frequency * start + $0.phase) }
        let steps = tones.map { Phasor(angle: $0.frequency * dt) }
        let amplitudes = tones.map(\.amplitude)
        let decayStep = exp(-dt / 0.004)
        let ringStep = Phasor(angle: 2 * Double.pi * channel.resonanceHz * dt)
        var revolutionIndex = Double.nan
        var decay = 0.0
        var ring = Phasor(angle: 0)
        var noise = GaussianPairs()
        for i in 0..<count {
            let t = start + Double(i) * dt
            let oneX = phasors[0].sin
            let twoX = phasors[1].sin
            let residual = 0.03 * oneX + 0.008 * twoX
            let unbalanceTone = 0.35 * oneX + 0.02 * twoX
            var harmonics = 0.0
            for k in 2..<tones.count { harmonics += amplitudes[k] * phasors[k].sin }
            let revolution = t * channel.shaftHz
            let whole = revolution.rounded(.down)
            if whole != revolutionIndex {
                // A new revolution (or the window's first sample): the impact starts again from its exact value.
                revolutionIndex = whole
                let sinceImpact = (revolution - whole) / channel.shaftHz
                decay = 0.6 * exp(-sinceImpact / 0.004)
                ring = Phasor(angle: 2 * Double.pi * channel.resonanceHz * sinceImpact)
            }
            let loose = harmonics + decay * ring.sin
            decay *= decayStep
            ring.turn(by: ringStep)
            for k in phasors.indices { phasors[k].turn(by: steps[k]) }
            func noisy(_ x: Double) -> Double { channel.gain * x + channel.noise * noise.next(&rng) }
            out.0.append(noisy(residual))
            out.1.append(noisy(unbalanceTone))
            out.2.append(noisy(residual + loose))
            out.3.append(noisy(unbalanceTone + loose))
        }
        return out
    }

    /// A point on the unit circle, turned by multiplication: `sin` of an advancing angle without calling `sin`.
    struct Phasor {
        var cos: Double
        var sin: Double

        init(angle: Double) {
            cos = Foundation.cos(angle)
            sin = Foundation.sin(angle)
        }

        mutating func turn(by step: Phasor) {
            (cos, sin) = (cos * step.cos - sin * step.sin, sin * step.cos + cos * step.sin)
        }
    }

    /// Standard normal values two at a time, by Marsaglia's polar method: one logarithm and one
    /// square root per pair, no sine or cosine.
    public struct GaussianPairs: Sendable {
        var spare: Double?

        public init() {}

        public mutating func next(_ rng: inout SplitMix64) -> Double {
            if let value = spare {
                spare = nil
                return value
            }
            while true {
                let u = 2 * rng.unit() - 1
                let v = 2 * rng.unit() - 1
                let s = u * u + v * v
                guard s > 0, s < 1 else { continue }
                let scale = (-2 * log(s) / s).squareRoot()
                spare = v * scale
                return u * scale
            }
        }
    }

    public let options: Options
    public let channels: [Channel]

    public init(options: Options = Options()) {
        self.options = options
        var rng = SplitMix64(seed: options.seed)
        let streams = max(1, options.machines * options.sensors)
        var channels: [Channel] = []
        for m in 0..<max(1, options.machines) {
            // Shaft speed is the machine's; how strongly and cleanly it shows is the sensor's.
            let shaftHz = rng.uniform(20...50)
            for s in 0..<max(1, options.sensors) {
                let index = channels.count
                let rows = options.rows / streams + (index < options.rows % streams ? 1 : 0)
                channels.append(
                    Channel(
                        machineName: "g\(m + 1)", sensorNo: "sensor\(s + 1)", shaftHz: shaftHz,
                        gain: rng.uniform(0.7...1.3), noise: rng.uniform(0.01...0.03) * options.noiseScale, rows: rows,
                        phases: (0..<12).map { _ in rng.uniform(0...(2 * .pi)) },
                        resonanceHz: min(rng.uniform(250...350), options.rateHz * 0.4), seed: rng.next()))
            }
        }
        self.channels = channels
    }

    /// One sample's four conditions at time `t` seconds since the channel started.
    public struct Conditions: Sendable {
        public var normal: Double
        public var unbalance: Double
        public var looseness: Double
        public var unbalanceLooseness: Double
    }

    /// The four conditions of a channel at time `t`, with its own noise drawn from `rng`.
    public static func conditions(of c: Channel, at t: Double, rng: inout SplitMix64) -> Conditions {
        let w = 2 * Double.pi * c.shaftHz
        let p = c.phases
        let oneX = sin(w * t + p[0])
        let residual = 0.03 * oneX + 0.008 * sin(2 * w * t + p[1])
        let unbalanceTone = 0.35 * oneX + 0.02 * sin(2 * w * t + p[1])
        // Looseness: harmonics 1X..10X falling slowly, a half-order sub-harmonic, and an impact
        // ringing at the structure's resonance once per revolution.
        var harmonics = 0.0
        for k in 1...10 {
            harmonics += 0.09 / Double(k).squareRoot() * sin(Double(k) * w * t + p[k])
        }
        harmonics += 0.07 * sin(0.5 * w * t + p[11])
        let revolution = t * c.shaftHz
        let sinceImpact = (revolution - revolution.rounded(.down)) / c.shaftHz
        let impact = 0.6 * exp(-sinceImpact / 0.004) * sin(2 * Double.pi * c.resonanceHz * sinceImpact)
        let loose = harmonics + impact
        func noisy(_ x: Double) -> Double { c.gain * x + c.noise * rng.gaussian() }
        return Conditions(
            normal: noisy(residual), unbalance: noisy(unbalanceTone), looseness: noisy(residual + loose),
            unbalanceLooseness: noisy(unbalanceTone + loose))
    }

    /// Calls `body` for every sample of one channel in order: recordings one after another, each
    /// restarting `measured_time` at 0, with `collected_at` the recording's start plus `measured_time`.
    /// Times are whole microseconds, so that their text form reads back to the same identity.
    public func forEachSample(
        of channel: Channel, _ body: (_ collectedAt: Timestamp, _ measuredTime: Double, _ values: Conditions) -> Void
    ) {
        var rng = SplitMix64(seed: channel.seed)
        let perRecording = max(1, Int(options.recordingSeconds * options.rateHz))
        let meanStep = 1 / options.rateHz
        var recordingStart = options.start
        var emitted = 0
        var elapsed = 0.0
        while emitted < channel.rows {
            var micros: Int64 = 0
            var i = 0
            while i < perRecording && emitted < channel.rows {
                let measuredTime = Double(micros) / 1_000_000
                let values = Self.conditions(of: channel, at: elapsed + measuredTime, rng: &rng)
                body(Timestamp(microseconds: recordingStart.microseconds + micros), measuredTime, values)
                let step = meanStep * (1 + options.jitter * (rng.unit() * 2 - 1))
                micros += Int64((step * 1_000_000).rounded())
                i += 1
                emitted += 1
            }
            elapsed += Double(micros) / 1_000_000
            // The next recording starts on the next whole second after this one ends.
            recordingStart = Timestamp(
                microseconds: (recordingStart.microseconds + micros) / 1_000_000 * 1_000_000 + 1_000_000)
        }
    }
}
