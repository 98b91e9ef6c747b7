/// OWASP's rule against CSV injection: a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
/// return is run as a formula by spreadsheets, so exports put a `'` before it, which spreadsheets
/// show as text. To keep an export readable back to the same names, a text that already starts with
/// quotes before such a character gets one more, and the product's CSV reader takes one off: the
/// two are inverse for every text, so export and import round-trip exactly.
public enum SpreadsheetText {
    @inline(__always)
    static func startsFormula(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "=") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "@")
            || byte == 0x09 || byte == 0x0D
    }

    /// Whether the text is any number of `'` and then a character that starts a formula.
    static func needsMark(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.firstIndex(where: { $0 != UInt8(ascii: "'") }) else { return false }
        return startsFormula(bytes[first])
    }

    /// The text as an export writes it.
    public static func escaped(_ bytes: [UInt8]) -> [UInt8] {
        needsMark(bytes) ? [UInt8(ascii: "'")] + bytes : bytes
    }

    /// The text an export wrote, as it was before `escaped`.
    public static func unescaped(_ bytes: [UInt8]) -> [UInt8] {
        bytes.first == UInt8(ascii: "'") && needsMark(bytes) ? Array(bytes.dropFirst()) : bytes
    }
}
