import VibrationCore
import Foundation

/// A physical model of a machine, a second source of labelled windows beside the additive
/// `PlantGenerator`: a Jeffcott rotor (a disk on a flexible shaft) in a bearing pedestal on its
/// foundation, integrated numerically and read through an accelerometer.
///
/// - Rotor (mass m, x and y) on the shaft's stiffness and damping to the pedestal (mass M, x and y);
///   the pedestal on the foundation: linear sideways (x), and vertically (y, where the sensor sits)
///   through its bolted foot.
/// - Forces: the rotating unbalance force at 1X, small forces at 2X and 3X (a real machine's 1X is
///   never a pure sine: coupling, alignment, bearing), and broadband random force (flow, bearings).
///   Mass unbalance multiplies the 1X force by 5 to 12.
/// - Support looseness is a nonlinearity of the foot, one of two kinds: a **bilinear** foot (stiff
///   when pressed down, soft when lifting: a loose bolt lets the foot rock, which shows as 2X and
///   higher harmonics without impacts), or a **clearance** (the foot moves freely within a gap
///   before it meets the bolt head: impacts). A bolt preload pushes the foot down; the dynamic
///   force must overcome it for the nonlinearity to act, as it does in a real loose foot.
/// - The accelerometer is a second-order system (its mounted resonance at 2 to 7 kHz, lightly
///   damped) on the pedestal's vertical acceleration, with its own gain and electrical noise, and
///   the output is averaged over each sample period before it is sampled (anti-aliasing).
///
/// The model is piecewise linear, so its response scales with the forces: the output is scaled so
/// that the healthy machine's 1X reads a chosen level in g, and every other condition keeps its
/// physical ratio to it.
public struct RotorModel: Sendable {
    /// Shaft speed (Hz).
    public var shaftHz: Double
    /// Rotor natural frequency on its shaft, pedestal's vertical and sideways ones, as multiples of shaft speed.
    public var rotorOrder: Double
    public var pedestalOrder: Double
    public var sidewaysOrder: Double
    /// Pedestal mass over rotor mass.
    public var massRatio: Double
    /// Damping ratios of the shaft and of the foot.
    public var damping: Double
    /// 2X and 3X forces relative to the healthy 1X force.
    public var secondOrderForce: Double
    public var thirdOrderForce: Double
    /// Random force, RMS relative to the healthy 1X force.
    public var randomForce: Double
    /// How many times the healthy 1X force a mass unbalance makes.
    public var unbalanceFactor: Double
    public var looseness: Looseness
    /// Bolt preload on the foot, relative to the healthy machine's dynamic foot force.
    public var preload: Double
    /// The healthy machine's 1X acceleration at the sensor (g), before the sensor's gain.
    public var healthyOneXg: Double
    /// Sensor: gain, mounted resonance (Hz), electrical noise (g RMS).
    public var gain: Double
    public var sensorResonanceHz: Double
    public var noise: Double
    public var seed: UInt64

    public enum Looseness: Sendable, Hashable {
        /// Lifting stiffness as a fraction of the pressing one.
        case bilinear(liftStiffness: Double)
        /// Free travel before the bolt head, relative to the healthy foot's dynamic motion; the head's
        /// stiffness relative to the foundation's.
        case clearance(gap: Double, headStiffness: Double)
    }

    /// A machine drawn at random: shaft 10-60 Hz, gain 0.5-2, noise up to 0.03 g unless given.
    public static func random(
        seed: UInt64, shaftHz: ClosedRange<Double> = 10...60, gain: ClosedRange<Double> = 0.5...2,
        noise: ClosedRange<Double> = 0.002...0.03
    ) -> RotorModel {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ 0x5DEE_CE66_D1CE_5EED)
        let shaft = rng.uniform(shaftHz)
        let looseness: Looseness =
            rng.unit() < 0.5
            ? .bilinear(liftStiffness: rng.uniform(0.05...0.35))
            : .clearance(gap: rng.uniform(0.2...1.0), headStiffness: rng.uniform(0.5...2))
        return RotorModel(
            shaftHz: shaft, rotorOrder: rng.uniform(1.6...4), pedestalOrder: rng.uniform(4...12),
            sidewaysOrder: rng.uniform(3...10), massRatio: rng.uniform(1...4), damping: rng.uniform(0.03...0.08),
            secondOrderForce: rng.uniform(0.03...0.2), thirdOrderForce: rng.uniform(0.01...0.1),
            randomForce: rng.uniform(0.05...0.3), unbalanceFactor: rng.uniform(5...12), looseness: looseness,
            preload: rng.uniform(0.2...0.7), healthyOneXg: rng.uniform(0.015...0.05),
            gain: exp(rng.uniform(log(gain.lowerBound)...log(gain.upperBound))),
            sensorResonanceHz: rng.uniform(2_000...7_000), noise: rng.uniform(noise), seed: rng.next())
    }

    /// `count` samples at `sampleRateHz` of the sensor for one condition, after the machine has run
    /// long enough to forget how it started.
    public func window(_ condition: FaultType, count: Int, sampleRateHz: Double) -> [Double] {
        let unbalanced = condition == .massUnbalance || condition == .unbalanceAndLooseness
        let loose = condition == .supportLooseness || condition == .unbalanceAndLooseness
        let omega = 2 * Double.pi * shaftHz
        // Units: rotor mass 1, healthy 1X force 1. Stiffnesses from the natural frequencies.
        let m = 1.0
        let bigM = massRatio
        let ks = m * pow(omega * rotorOrder, 2)
        let ky = (m + bigM) * pow(omega * pedestalOrder, 2)
        let kx = (m + bigM) * pow(omega * sidewaysOrder, 2)
        let cs = 2 * damping * (ks * m).squareRoot()
        let cy = 2 * damping * (ky * (m + bigM)).squareRoot()
        let cx = 2 * damping * (kx * (m + bigM)).squareRoot()
        // The healthy (linear) vertical response at 1X: its foot force and the pedestal's acceleration.
        let healthy = Self.pedestalResponse(omega: omega, m: m, bigM: bigM, ks: ks, cs: cs, k: ky, c: cy)
        let footForce = ky * healthy
        let preloadForce = preload * footForce
        let oneXForce = unbalanced ? unbalanceFactor : 1
        // The foot's force for a vertical position y (down is negative, resting at 0 under the preload).
        let support: (Double) -> Double
        if loose {
            switch looseness {
            case .bilinear(let lift):
                support = { y in y <= 0 ? ky * y : lift * ky * y }
            case .clearance(let gap, let head):
                let g = gap * healthy
                support = { y in y <= 0 ? ky * y : (y <= g ? 0 : head * ky * (y - g)) }
            }
        } else {
            support = { y in ky * y }
        }
        let substeps = Self.substeps(sampleRateHz)
        let resonance = 2 * Double.pi * min(sensorResonanceHz, 0.35 * sampleRateHz * Double(substeps))
        let sensorDamping = 0.04
        let dt = 1 / (sampleRateHz * Double(substeps))
        var rng = SplitMix64(seed: seed ^ UInt64(condition.rawValue) &* 0x2545_F491_4F6C_DD1D)
        let phase2 = rng.uniform(0...(2 * .pi))
        let phase3 = rng.uniform(0...(2 * .pi))
        // State: rotor x, y, pedestal x, y, their velocities, sensor's relative displacement and velocity.
        var s = SIMD16<Double>()
        // Start from the static rest under the preload.
        s[3] = -preloadForce / ky
        s[1] = s[3]
        var forceX = 0.0
        var forceY = 0.0
        let (cos2, sin2) = (cos(phase2), sin(phase2))
        let (cos3, sin3) = (cos(phase3), sin(phase3))
        // The forces at angle a of the shaft, from cos a and sin a (no trigonometry per step).
        func forces(_ c: Double, _ s: Double) -> (x: Double, y: Double) {
            let c2 = c * c - s * s
            let s2 = 2 * s * c
            let c3 = c * (4 * c * c - 3)
            let s3 = s * (3 - 4 * s * s)
            let x = oneXForce * c + secondOrderForce * (c2 * cos2 - s2 * sin2) + thirdOrderForce * (c3 * cos3 - s3 * sin3)
            let y = oneXForce * s + secondOrderForce * (s2 * cos2 + c2 * sin2) + thirdOrderForce * (s3 * cos3 + c3 * sin3)
            return (x + forceX, y + forceY)
        }
        func derivative(_ s: SIMD16<Double>, _ f: (x: Double, y: Double)) -> SIMD16<Double> {
            let shaftX = ks * (s[0] - s[2]) + cs * (s[4] - s[6])
            let shaftY = ks * (s[1] - s[3]) + cs * (s[5] - s[7])
            let axr = (f.x - shaftX) / m
            let ayr = (f.y - shaftY) / m
            let axp = (shaftX - kx * s[2] - cx * s[6]) / bigM
            let ayp = (shaftY - support(s[3]) - cy * s[7] - preloadForce) / bigM
            // The sensor's seismic mass, relative to its base: z'' + 2ζω z' + ω² z = -a.
            let az = -ayp - 2 * sensorDamping * resonance * s[9] - resonance * resonance * s[8]
            return SIMD16(s[4], s[5], s[6], s[7], axr, ayr, axp, ayp, s[9], az, 0, 0, 0, 0, 0, 0)
        }
        let warmup = max(2.0, 40 / shaftHz)
        let warmupSteps = Int(warmup / dt)
        let total = warmupSteps + count * substeps
        var out = [Double]()
        out.reserveCapacity(count)
        var sum = 0.0
        // The shaft's angle as a unit phasor, turned half a step at a time.
        let half = (cos(omega * dt / 2), sin(omega * dt / 2))
        var phasor = (1.0, 0.0)
        func turned(_ p: (Double, Double)) -> (Double, Double) {
            (p.0 * half.0 - p.1 * half.1, p.1 * half.0 + p.0 * half.1)
        }
        // Random force held over each substep, scaled so that its RMS below 1 kHz is `randomForce`.
        let randomScale = randomForce * (Double(substeps) * sampleRateHz / 2_000).squareRoot()
        var gaussian = PlantGenerator.GaussianPairs()
        for step in 0..<total {
            forceX = randomScale * gaussian.next(&rng)
            forceY = randomScale * gaussian.next(&rng)
            let middle = turned(phasor)
            let end = turned(middle)
            let fStart = forces(phasor.0, phasor.1)
            let fMiddle = forces(middle.0, middle.1)
            let k1 = derivative(s, fStart)
            let k2 = derivative(s + (dt / 2) * k1, fMiddle)
            let k3 = derivative(s + (dt / 2) * k2, fMiddle)
            let k4 = derivative(s + dt * k3, forces(end.0, end.1))
            s += (dt / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
            // Back onto the unit circle now and then: rounding would make it drift.
            if step % 1024 == 0 {
                let r = (end.0 * end.0 + end.1 * end.1).squareRoot()
                phasor = (end.0 / r, end.1 / r)
            } else {
                phasor = end
            }
            if step >= warmupSteps {
                // The sensor reads its base's acceleration as -ω² z.
                sum += -resonance * resonance * s[8]
                if (step - warmupSteps + 1) % substeps == 0 {
                    out.append(sum / Double(substeps))
                    sum = 0
                }
            }
        }
        // Scale to g: the healthy 1X acceleration reads `healthyOneXg`.
        let scale = healthyOneXg / (omega * omega * healthy)
        var noiseRNG = SplitMix64(seed: seed ^ 0xA5A5_5A5A ^ UInt64(condition.rawValue))
        return out.map { gain * $0 * scale + noise * noiseRNG.gaussian() }
    }

    /// Integration steps per output sample: at least four, and at least 60 kHz inside.
    static func substeps(_ sampleRateHz: Double) -> Int {
        max(4, Int((60_000 / sampleRateHz).rounded(.up)))
    }

    /// The linear two-mass response to a unit force on the rotor at ω: the pedestal's amplitude.
    static func pedestalResponse(omega: Double, m: Double, bigM: Double, ks: Double, cs: Double, k: Double, c: Double) -> Double {
        // [a11 a12; a12 a22] [Yr; Yp] = [1; 0], complex.
        let a11 = (ks - omega * omega * m, omega * cs)
        let a12 = (-ks, -omega * cs)
        let a22 = (ks + k - omega * omega * bigM, omega * (cs + c))
        func mul(_ a: (Double, Double), _ b: (Double, Double)) -> (Double, Double) { (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0) }
        func modulus(_ a: (Double, Double)) -> Double { (a.0 * a.0 + a.1 * a.1).squareRoot() }
        let det = { let p = mul(a11, a22); let q = mul(a12, a12); return (p.0 - q.0, p.1 - q.1) }()
        // Yp = -a12 / det.
        return modulus(a12) / modulus(det)
    }
}
