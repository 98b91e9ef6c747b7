import Foundation
import VibrationCore

/// The engine's evidence, as both stores keep it: JSON text.
enum EvidenceText {
    static func encode(_ results: [WindowResult]) throws -> [String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try results.map { String(decoding: try encoder.encode($0.diagnosis.evidence), as: UTF8.self) }
    }

    /// Each window's evidence (the first result of a window, when one comes twice).
    static func byWindow(_ results: [WindowResult]) throws -> [AnalysisWindow: String] {
        var texts: [AnalysisWindow: String] = [:]
        for (result, text) in zip(results, try encode(results)) where texts[result.window] == nil {
            texts[result.window] = text
        }
        return texts
    }

    static func decode(_ text: String) -> [Evidence] {
        (try? JSONDecoder().decode([Evidence].self, from: Data(text.utf8))) ?? []
    }
}

/// A recording's covered spans as SQLite keeps them: the numbers as text, separated by spaces
/// (each written so that it reads back as the same Double).
enum RecordingText {
    static func encode(_ numbers: [Double]) -> String {
        numbers.map { "\($0)" }.joined(separator: " ")
    }

    static func decode(_ text: String) -> [Double] {
        text.split(separator: " ").compactMap { Double($0) }
    }
}
