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
    let cosTable: [Double]
    let sinTable: [Double]
    let bitReverse: [Int]
    let unpackCos: [Double]
    let unpackSin: [Double]

    public init(size: Int) {
        precondition(size >= 4 && size & (size - 1) == 0, "FFT size must be a power of two >= 4")
        self.size = size
        half = size / 2
        let m = half
        cosTable = (0..<max(1, m / 2)).map { cos(2 * .pi * Double($0) / Double(m)) }
        sinTable = (0..<max(1, m / 2)).map { sin(2 * .pi * Double($0) / Double(m)) }
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
            cosTable.withUnsafeBufferPointer { cosT in
                sinTable.withUnsafeBufferPointer { sinT in
                    var length = 2
                    while length <= m {
                        let halfLength = length / 2
                        let step = m / length
                        var start = 0
                        while start < m {
                            var t = 0
                            for j in 0..<halfLength {
                                let wr = cosT[t]
                                let wi = -sinT[t]
                                t += step
                                let a = start + j
                                let b = a + halfLength
                                let tr = re[b] * wr - im[b] * wi
                                let ti = re[b] * wi + im[b] * wr
                                re[b] = re[a] - tr
                                im[b] = im[a] - ti
                                re[a] += tr
                                im[a] += ti
                            }
                            start += length
                        }
                        length <<= 1
                    }
                }
            }
            // Unpack: X[k] = E[k] + e^{-2πik/N} O[k].
            unpackCos.withUnsafeBufferPointer { uc in
                unpackSin.withUnsafeBufferPointer { us in
                    for k in 0...m {
                        let k1 = k % m
                        let k2 = (m - k) % m
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
    private let windows = Mutex<[Int: [Double]]>([:])

    func plan(size: Int) -> FFTPlan {
        if let plan = plans.withLock({ $0[size] }) { return plan }
        let plan = FFTPlan(size: size)
        plans.withLock { $0[size] = plan }
        return plan
    }

    /// The Hann window of `count` samples.
    func hann(count: Int) -> [Double] {
        if let window = windows.withLock({ $0[count] }) { return window }
        let window =
            count == 1 ? [1.0] : (0..<count).map { 0.5 - 0.5 * cos(2 * .pi * Double($0) / Double(count - 1)) }
        windows.withLock {
            if $0.count > 64 { $0.removeAll() }
            $0[count] = window
        }
        return window
    }
}
