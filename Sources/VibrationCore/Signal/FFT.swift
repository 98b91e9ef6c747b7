import Foundation
import Synchronization

/// A real-input FFT of one power-of-two size, with its tables computed once.
///
/// The N real samples are packed as N/2 complex ones, transformed by an iterative radix-2 FFT and
/// unpacked: half the work of a complex transform of the same length.
public struct FFTPlan: Sendable {
    /// Real samples per transform (a power of two, at least 4).
    public let size: Int
    let half: Int
    /// Twiddle factors e^{-2πij/L} of every stage L = 4, 8, ... N/2, stage after stage, so that a
    /// butterfly loop reads them in order.
    let twiddleRe: [Double]
    let twiddleIm: [Double]
    let bitReverse: [Int]
    let unpackCos: [Double]
    let unpackSin: [Double]

    public init(size: Int) {
        precondition(size >= 4 && size & (size - 1) == 0, "FFT size must be a power of two >= 4")
        self.size = size
        half = size / 2
        let m = half
        var twiddleRe: [Double] = []
        var twiddleIm: [Double] = []
        var length = 4
        while length <= m {
            for j in 0..<(length / 2) {
                twiddleRe.append(cos(2 * .pi * Double(j) / Double(length)))
                twiddleIm.append(-sin(2 * .pi * Double(j) / Double(length)))
            }
            length <<= 1
        }
        self.twiddleRe = twiddleRe
        self.twiddleIm = twiddleIm
        var reverse = [Int](repeating: 0, count: m)
        let bits = m.trailingZeroBitCount
        for i in 0..<m {
            var r = 0
            var v = i
            for _ in 0..<bits {
                r = (r << 1) | (v & 1)
                v >>= 1
            }
            reverse[i] = r
        }
        bitReverse = reverse
        unpackCos = (0...m).map { cos(2 * .pi * Double($0) / Double(size)) }
        unpackSin = (0...m).map { sin(2 * .pi * Double($0) / Double(size)) }
    }

    /// (r + i·im)(c + i·d).
    @inline(__always) static func product(_ r: Double, _ im: Double, _ c: Double, _ d: Double) -> (Double, Double) {
        (r * c - im * d, r * d + im * c)
    }

    /// The power-of-two size that holds `count` samples.
    public static func size(for count: Int) -> Int {
        var n = 4
        while n < count { n <<= 1 }
        return n
    }

    /// |X[k]| for k = 0...N/2 of the real input (zero-padded to `size`).
    public func magnitudes(_ input: UnsafeBufferPointer<Double>, into output: UnsafeMutableBufferPointer<Double>) {
        precondition(output.count >= half + 1 && input.count <= size)
        let m = half
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * m) { scratch in
            let re = scratch.baseAddress!
            let im = re + m
            // Pack pairs of real samples as complex ones, in bit-reversed order.
            bitReverse.withUnsafeBufferPointer { rev in
                for i in 0..<m {
                    let j = rev[i]
                    let a = 2 * i
                    re[j] = a < input.count ? input[a] : 0
                    im[j] = a + 1 < input.count ? input[a + 1] : 0
                }
            }
            // Stages L = 2 and L = 4 multiply by 1 and -i only: done together, four values at a time.
            var first = 4
            if m >= 4 {
                var q = 0
                while q + 3 < m {
                    let s0r = re[q] + re[q + 1]
                    let s0i = im[q] + im[q + 1]
                    let d0r = re[q] - re[q + 1]
                    let d0i = im[q] - im[q + 1]
                    let s1r = re[q + 2] + re[q + 3]
                    let s1i = im[q + 2] + im[q + 3]
                    let d1r = re[q + 2] - re[q + 3]
                    let d1i = im[q + 2] - im[q + 3]
                    re[q] = s0r + s1r
                    im[q] = s0i + s1i
                    re[q + 2] = s0r - s1r
                    im[q + 2] = s0i - s1i
                    // (d1r + i d1i)(-i) = d1i - i d1r
                    re[q + 1] = d0r + d1i
                    im[q + 1] = d0i - d1r
                    re[q + 3] = d0r - d1i
                    im[q + 3] = d0i + d1r
                    q += 4
                }
                first = 8
            } else {
                var pair = 0
                while pair + 1 < m {
                    let tr = re[pair + 1]
                    let ti = im[pair + 1]
                    re[pair + 1] = re[pair] - tr
                    im[pair + 1] = im[pair] - ti
                    re[pair] += tr
                    im[pair] += ti
                    pair += 2
                }
            }
            twiddleRe.withUnsafeBufferPointer { twr in
                twiddleIm.withUnsafeBufferPointer { twi in
                    // Stage L's twiddles start at L/2 - 2 in the table (stage 4's two come first).
                    var length = first
                    while length <= m {
                        let halfLength = length / 2
                        let w1r = twr.baseAddress! + (halfLength - 2)
                        let w1i = twi.baseAddress! + (halfLength - 2)
                        if 2 * length <= m {
                            // Stages L and 2L in one pass over four quarters of each block of 2L: half
                            // the loads and stores of two passes. Stage 2L's twiddle for the second
                            // and fourth quarters is its first quarter's times -i.
                            let w2r = twr.baseAddress! + (length - 2)
                            let w2i = twi.baseAddress! + (length - 2)
                            var start = 0
                            while start < m {
                                let r0 = re + start
                                let i0 = im + start
                                let r1 = r0 + halfLength
                                let i1 = i0 + halfLength
                                let r2 = r0 + length
                                let i2 = i0 + length
                                let r3 = r2 + halfLength
                                let i3 = i2 + halfLength
                                for j in 0..<halfLength {
                                    let c1 = w1r[j]
                                    let d1 = w1i[j]
                                    let c2 = w2r[j]
                                    let d2 = w2i[j]
                                    let (t1r, t1i) = Self.product(r1[j], i1[j], c1, d1)
                                    let a0r = r0[j] + t1r
                                    let a0i = i0[j] + t1i
                                    let a1r = r0[j] - t1r
                                    let a1i = i0[j] - t1i
                                    let (t3r, t3i) = Self.product(r3[j], i3[j], c1, d1)
                                    let b0r = r2[j] + t3r
                                    let b0i = i2[j] + t3i
                                    let b1r = r2[j] - t3r
                                    let b1i = i2[j] - t3i
                                    let (u0r, u0i) = Self.product(b0r, b0i, c2, d2)
                                    // (b1 w)(-i) = (Im, -Re) of b1 w.
                                    let (v1r, v1i) = Self.product(b1r, b1i, c2, d2)
                                    let (u1r, u1i) = (v1i, -v1r)
                                    r0[j] = a0r + u0r
                                    i0[j] = a0i + u0i
                                    r2[j] = a0r - u0r
                                    i2[j] = a0i - u0i
                                    r1[j] = a1r + u1r
                                    i1[j] = a1i + u1i
                                    r3[j] = a1r - u1r
                                    i3[j] = a1i - u1i
                                }
                                start += 2 * length
                            }
                            length <<= 2
                        } else {
                            var start = 0
                            while start < m {
                                let ra = re + start
                                let ia = im + start
                                let rb = ra + halfLength
                                let ib = ia + halfLength
                                for j in 0..<halfLength {
                                    let (tr, ti) = Self.product(rb[j], ib[j], w1r[j], w1i[j])
                                    let ar = ra[j]
                                    let ai = ia[j]
                                    rb[j] = ar - tr
                                    ib[j] = ai - ti
                                    ra[j] = ar + tr
                                    ia[j] = ai + ti
                                }
                                start += length
                            }
                            length <<= 1
                        }
                    }
                }
            }
            // Unpack: X[k] = E[k] + e^{-2πik/N} O[k].
            unpackCos.withUnsafeBufferPointer { uc in
                unpackSin.withUnsafeBufferPointer { us in
                    for k in 0...m {
                        // Z[k] and Z[N/2 - k], both taken modulo N/2 (no division in the loop).
                        let k1 = k == m ? 0 : k
                        let k2 = k == 0 ? 0 : m - k
                        let zr = re[k1]
                        let zi = im[k1]
                        let cr = re[k2]
                        let ci = -im[k2]
                        let er = 0.5 * (zr + cr)
                        let ei = 0.5 * (zi + ci)
                        // O = (Z - conj(Z'))/(2i)
                        let or = 0.5 * (zi - ci)
                        let oi = -0.5 * (zr - cr)
                        let wr = uc[k]
                        let wi = -us[k]
                        let xr = er + wr * or - wi * oi
                        let xi = ei + wr * oi + wi * or
                        output[k] = (xr * xr + xi * xi).squareRoot()
                    }
                }
            }
        }
    }
}

/// Plans and Hann windows by size, shared by every analysis: computing them is the costly part.
final class SignalTables: Sendable {
    static let shared = SignalTables()
    private let plans = Mutex<[Int: FFTPlan]>([:])
    private let windows = Mutex<[Int: (window: [Double], sum: Double)]>([:])

    func plan(size: Int) -> FFTPlan {
        if let plan = plans.withLock({ $0[size] }) { return plan }
        let plan = FFTPlan(size: size)
        plans.withLock { $0[size] = plan }
        return plan
    }

    /// The Hann window of `count` samples, and the sum of its values.
    func hann(count: Int) -> (window: [Double], sum: Double) {
        if let window = windows.withLock({ $0[count] }) { return window }
        let values = count == 1 ? [1.0] : (0..<count).map { 0.5 - 0.5 * cos(2 * .pi * Double($0) / Double(count - 1)) }
        let window = (values, Self.sum(values))
        windows.withLock {
            if $0.count > 64 { $0.removeAll() }
            $0[count] = window
        }
        return window
    }

    /// The sum of the values, four lanes at a time (one running sum makes each addition wait for
    /// the one before).
    static func sum(_ values: [Double]) -> Double {
        values.withUnsafeBufferPointer { p in
            var sums = SIMD4<Double>(repeating: 0)
            var i = 0
            while i + 4 <= p.count {
                sums += SIMD4(p[i], p[i + 1], p[i + 2], p[i + 3])
                i += 4
            }
            var sum = sums.sum()
            while i < p.count {
                sum += p[i]
                i += 1
            }
            return sum
        }
    }
}
