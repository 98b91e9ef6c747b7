import Testing

@testable import VibrationCore

@Suite("JSON syntax")
struct JSONSyntaxTests {
    @Test(
        "accepts well-formed JSON, including values no decoder can hold",
        arguments: [
            "{}", "[]", "0", "-0.5e-3", "1e999", "\"a\\u00e9\\n\"", "true", " null ", "{\"a\": [1, 2, {\"b\": false}]}",
            "[1.5, -2, 3E+2]",
        ])
    func wellFormed(text: String) {
        #expect(JSONSyntax.isWellFormed(Array(text.utf8)))
    }

    @Test(
        "refuses malformed JSON",
        arguments: [
            "", "{", "{\"a\": 1,}", "[1,]", "01", "1.", ".5", "+1", "NaN", "Infinity", "\"unterminated",
            "\"bad \\x escape\"", "{a: 1}", "[1] [2]", "tru", "\"tab\there\"", "{\"a\" 1}",
        ])
    func malformed(text: String) {
        #expect(!JSONSyntax.isWellFormed(Array(text.utf8)))
    }

    @Test("deep nesting is refused without exhausting the stack")
    func deepNesting() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(!JSONSyntax.isWellFormed(Array(deep.utf8)))
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(JSONSyntax.isWellFormed(Array(fine.utf8)))
    }
}
