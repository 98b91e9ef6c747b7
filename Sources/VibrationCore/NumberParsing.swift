import Foundation

/// Decimal text to Double, exactly as a correctly rounded parser would, fast for the common case.
///
/// Clinger's fast path: a decimal with at most 19 significant digits whose value fits in 53 bits,
/// scaled by at most 10^22, is one correctly rounded multiplication or division. Anything else goes
/// to `strtod`. Only plain decimal notation is accepted: no `nan`, `inf` or hexadecimal floats, and
/// the result must be finite.
public enum NumberParsing {
    private static let powersOfTen: [Double] = (0...22).map { pow(10, Double($0)) }

    public static func double(_ p: UnsafePointer<UInt8>, count n: Int) -> Double? {
        guard n > 0 else { return nil }
        var i = 0
        var negative = false
        if p[0] == UInt8(ascii: "-") {
            negative = true
            i = 1
        } else if p[0] == UInt8(ascii: "+") {
            i = 1
        }
        var mantissa: UInt64 = 0
        var significant = 0
        var exponent = 0
        var digits = 0
        var exact = true
        while i < n, case let d = p[i] &- 48, d < 10 {
            if significant < 19 {
                mantissa = mantissa &* 10 &+ UInt64(d)
                if mantissa != 0 { significant += 1 }
            } else {
                exponent += 1
                if d != 0 { exact = false }
            }
            digits += 1
            i += 1
        }
        if i < n, p[i] == UInt8(ascii: ".") {
            i += 1
            while i < n, case let d = p[i] &- 48, d < 10 {
                if significant < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(d)
                    if mantissa != 0 { significant += 1 }
                    exponent -= 1
                } else if d != 0 {
                    exact = false
                }
                digits += 1
                i += 1
            }
        }
        guard digits > 0 else { return nil }
        if i < n, p[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            var exponentNegative = false
            if i < n, p[i] == UInt8(ascii: "-") || p[i] == UInt8(ascii: "+") {
                exponentNegative = p[i] == UInt8(ascii: "-")
                i += 1
            }
            var e = 0
            let start = i
            while i < n, case let d = p[i] &- 48, d < 10 {
                if e < 100_000 { e = e * 10 + Int(d) }
                i += 1
            }
            guard i > start else { return nil }
            exponent += exponentNegative ? -e : e
        }
        guard i == n else { return nil }
        if exact, mantissa <= 1 << 53, exponent >= -22, exponent <= 22 {
            var value = Double(mantissa)
            if exponent < 0 {
                value /= powersOfTen[-exponent]
            } else {
                value *= powersOfTen[exponent]
            }
            return negative ? -value : value
        }
        return slowDouble(p, count: n)
    }

    /// The text has already been checked to be plain decimal notation.
    private static func slowDouble(_ p: UnsafePointer<UInt8>, count n: Int) -> Double? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { buffer in
            for i in 0..<n { buffer[i] = CChar(bitPattern: p[i]) }
            buffer[n] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            let value = strtod(buffer.baseAddress!, &end)
            guard end == buffer.baseAddress! + n, value.isFinite else { return nil }
            return value
        }
    }

    public static func double(_ text: String) -> Double? {
        var text = text
        return text.withUTF8 { buffer in
            guard let base = buffer.baseAddress else { return nil }
            return double(base, count: buffer.count)
        }
    }
}

/// Bytes written one after another into memory the caller provides (a row's buffer on the stack):
/// no capacity or uniqueness check per byte, as appending to an array makes.
public struct ByteCursor {
    public let base: UnsafeMutablePointer<UInt8>
    public private(set) var count = 0

    public init(_ base: UnsafeMutablePointer<UInt8>) {
        self.base = base
    }

    @inline(__always)
    public mutating func put(_ byte: UInt8) {
        base[count] = byte
        count += 1
    }

    @inline(__always)
    public mutating func put(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress else { return }
        (base + count).update(from: source.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        count += bytes.count
    }

    public mutating func put(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { put($0) }
    }

    /// Counts `n` bytes the caller stored through `base` after the current ones.
    @inline(__always)
    public mutating func skip(_ n: Int) {
        count += n
    }

    /// Writes at most `capacity` bytes through a cursor on the stack, then appends them to `out` at once.
    @inline(__always)
    public static func append(to out: inout [UInt8], capacity: Int, _ write: (inout ByteCursor) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
            var cursor = ByteCursor(buffer.baseAddress!)
            write(&cursor)
            out.append(contentsOf: UnsafeBufferPointer(start: buffer.baseAddress, count: cursor.count))
        }
    }
}

/// Number and time text for CSV output, written straight into a byte buffer.
public enum NumberFormatting {
    /// The most bytes one number takes in any of the forms below.
    public static let maximumLength = 32

    /// Fixed-point with six decimals, the precision of the generated data sets.
    public static func appendFixed6(_ value: Double, to out: inout [UInt8]) {
        ByteCursor.append(to: &out, capacity: maximumLength) { appendFixed6(value, to: &$0) }
    }

    public static func appendFixed6(_ value: Double, to out: inout ByteCursor) {
        guard value.isFinite, abs(value) < 9e12 else {
            appendShortest(value, to: &out)
            return
        }
        var scaled = Int64((value * 1_000_000).rounded())
        if scaled < 0 {
            out.put(UInt8(ascii: "-"))
            scaled = -scaled
        }
        appendInteger(scaled / 1_000_000, to: &out)
        out.put(UInt8(ascii: "."))
        var fraction = scaled % 1_000_000
        for i in stride(from: 5, through: 0, by: -1) {
            out.base[out.count + i] = UInt8(48 + fraction % 10)
            fraction /= 10
        }
        out.skip(6)
    }

    public static func appendInteger(_ value: Int64, to out: inout [UInt8]) {
        ByteCursor.append(to: &out, capacity: maximumLength) { appendInteger(value, to: &$0) }
    }

    public static func appendInteger(_ value: Int64, to out: inout ByteCursor) {
        if value < 0 {
            out.put(UInt8(ascii: "-"))
            appendInteger(-value, to: &out)
            return
        }
        if value < 10 {
            out.put(UInt8(48 + value))
            return
        }
        var digits = 0
        var v = value
        while v > 0 {
            digits += 1
            v /= 10
        }
        v = value
        for i in stride(from: digits - 1, through: 0, by: -1) {
            out.base[out.count + i] = UInt8(48 + v % 10)
            v /= 10
        }
        out.skip(digits)
    }

    /// The shortest text that reads back to the same Double, for exports of stored values.
    public static func appendShortest(_ value: Double, to out: inout [UInt8]) {
        ByteCursor.append(to: &out, capacity: maximumLength) { appendShortest(value, to: &$0) }
    }

    public static func appendShortest(_ value: Double, to out: inout ByteCursor) {
        if value == value.rounded(), abs(value) < 1e15 {
            appendInteger(Int64(value), to: &out)
            return
        }
        var text = value.description
        text.withUTF8 { out.put(UnsafeRawBufferPointer($0)) }
    }
}

/// Writes timestamps in the CSV form `YYYY-MM-DD HH:MM:SS[.ffffff]`, reusing the text of the
/// current second: consecutive samples of a recording share it.
public struct TimestampWriter: Sendable {
    private var second: Int64 = .min
    private var prefix: [UInt8] = []

    /// The most bytes one timestamp takes.
    public static let maximumLength = 40

    public init() {}

    public mutating func append(_ t: Timestamp, to out: inout [UInt8]) {
        ByteCursor.append(to: &out, capacity: Self.maximumLength) { append(t, to: &$0) }
    }

    public mutating func append(_ t: Timestamp, to out: inout ByteCursor) {
        let micro = t.microseconds
        let floorSecond = micro >= 0 ? micro / 1_000_000 : (micro - 999_999) / 1_000_000
        if floorSecond != second {
            second = floorSecond
            prefix = Array(Timestamp(microseconds: floorSecond * 1_000_000).csv.utf8)
        }
        out.put(prefix)
        var fraction = micro - floorSecond * 1_000_000
        guard fraction != 0 else { return }
        var width = 6
        while fraction % 10 == 0 {
            fraction /= 10
            width -= 1
        }
        out.put(UInt8(ascii: "."))
        for i in stride(from: width - 1, through: 0, by: -1) {
            out.base[out.count + i] = UInt8(48 + fraction % 10)
            fraction /= 10
        }
        out.skip(width)
    }
}

extension BinaryInteger {
    /// 1234567 as "1,234,567", whatever the process's locale.
    public var grouped: String {
        let digits = Array(String(magnitude).utf8)
        var out: [UInt8] = []
        out.reserveCapacity(digits.count + digits.count / 3 + 1)
        if self < 0 { out.append(UInt8(ascii: "-")) }
        for (i, digit) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(UInt8(ascii: ",")) }
            out.append(digit)
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    /// The text right-aligned in a column `width` characters wide (as it is when longer).
    public func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

extension Array where Element == Double {
    /// The value at quantile `q` (0.5 the median, 0.99 the 99th percentile) of these sorted values,
    /// by nearest rank; nil when there are none.
    public func quantile(_ q: Double) -> Double? {
        isEmpty ? nil : self[Swift.min(count - 1, Int(Double(count) * q))]
    }
}
