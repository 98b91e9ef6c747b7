import ArgumentParser
import Configuration
import Foundation
import SystemPackage
import Yams

/// A command's settings, read through swift-configuration. Each setting has one key (the flag's
/// name, as `time-zone`), looked up in this order, the first that has it winning:
///
/// 1. the flag on the command line (`--time-zone`);
/// 2. the environment variable `HIMMES_` + the key in capitals, dashes as underscores (`HIMMES_TIME_ZONE`);
/// 3. the config file (`serve --config himmes.yaml`, or `HIMMES_CONFIG`): a YAML mapping of keys to
///    values (`time-zone: Asia/Seoul`; lists as YAML sequences);
/// 4. the default.
///
/// An empty flag or variable counts as not given. A value of the wrong kind, or a key the file does
/// not know, is an error that names the key and the file.
struct Settings: Sendable {
    /// Every key a config file may hold (the settings of `himmes serve`).
    static let keys = Set(Serve.shown.map(\.key))

    private let reader: ConfigReader
    /// The config file read, for messages.
    let file: String?
    /// Where each key's value comes from: the keys given as flags, in the environment, in the file.
    private let fromFlags: Set<String>
    private let fromEnvironment: Set<String>
    private let fromFile: Set<String>

    /// Settings from flags and the environment only (the commands besides `serve`).
    init(flags: [String: String?], lists: [String: [String]] = [:], environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.init(flags: flags, lists: lists, environment: environment, file: nil, fileProvider: nil, fileKeys: [])
    }

    /// Settings from flags, the environment and, when `file` (or `HIMMES_CONFIG`) names one, a YAML file.
    init(
        flags: [String: String?], lists: [String: [String]] = [:], environment: [String: String] = ProcessInfo.processInfo.environment,
        file: String?
    ) async throws {
        guard let path = file ?? environment["HIMMES_CONFIG"].flatMap({ $0.isEmpty ? nil : $0 }) else {
            self.init(flags: flags, lists: lists, environment: environment)
            return
        }
        let keys = try Self.checkKeys(ofFile: path)
        let provider: FileProvider<YAMLSnapshot>
        do {
            provider = try await FileProvider<YAMLSnapshot>(filePath: FilePath(path))
        } catch {
            throw ValidationError("config file \(path) cannot be read: \(error)")
        }
        self.init(flags: flags, lists: lists, environment: environment, file: path, fileProvider: provider, fileKeys: keys)
    }

    /// Flags first, then the environment (`HIMMES_` + the key), then the file.
    private init(
        flags: [String: String?], lists: [String: [String]], environment: [String: String], file: String?,
        fileProvider: (any ConfigProvider)?, fileKeys: Set<String>
    ) {
        // A flag left empty is a flag not given.
        var given: [String: ConfigContent] = [:]
        for case (let key, let text?) in flags where !text.isEmpty { given[key] = .string(text) }
        for (key, list) in lists where !list.isEmpty { given[key] = .stringArray(list) }
        let set = environment.filter { !$0.value.isEmpty }
        var providers: [any ConfigProvider] = [
            InMemoryProvider(
                name: "flags",
                values: Dictionary(uniqueKeysWithValues: given.map { (AbsoluteConfigKey([$0.key]), ConfigValue($0.value, isSecret: false)) })),
            EnvironmentVariablesProvider(environmentVariables: set).prefixKeys(with: "himmes"),
        ]
        if let fileProvider { providers.append(fileProvider) }
        reader = ConfigReader(providers: providers)
        self.file = file
        fromFlags = Set(given.keys)
        fromEnvironment = Self.keys.filter { set[Self.variable($0)] != nil }
        fromFile = fileKeys
    }

    /// The environment variable of a key.
    static func variable(_ key: String) -> String {
        "HIMMES_" + key.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// Where a key's value comes from: "flag", "environment", the file's path, or "default".
    func source(of key: String) -> String {
        if fromFlags.contains(key) { return "flag" }
        if fromEnvironment.contains(key) { return "environment (\(Self.variable(key)))" }
        if fromFile.contains(key), let file { return file }
        return "default"
    }

    /// Refuses a file that is not a mapping of known keys: a misspelt key would otherwise be
    /// ignored without a word.
    /// The file's keys.
    @discardableResult
    static func checkKeys(ofFile path: String) throws -> Set<String> {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ValidationError("config file \(path) cannot be read: \(error.localizedDescription)")
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ValidationError("config file \(path) is not YAML: \(error)")
        }
        guard let node else { return [] }
        guard let mapping = node.mapping else {
            throw ValidationError("config file \(path) must be a mapping of settings to values (port: 8080)")
        }
        let found = mapping.keys.compactMap(\.string)
        for key in found where !keys.contains(key) {
            throw ValidationError("config file \(path): unknown setting '\(key)'; known: \(keys.sorted().joined(separator: ", "))")
        }
        return Set(found)
    }

    /// Where a setting may come from, for messages: "--port / HIMMES_PORT / port in himmes.yaml".
    func sources(_ key: String, flag: String? = nil) -> String {
        "--\(flag ?? key) / \(Self.variable(key))" + (file.map { " / \(key) in \($0)" } ?? "")
    }

    private func wrongKind(_ key: String, _ kind: String, _ error: any Error) -> ValidationError {
        ValidationError("\(key) (\(sources(key))) must be \(kind): \(error)")
    }

    /// The text a setting has, if any.
    func string(_ key: String) async throws -> String? {
        do {
            return try await reader.fetchString(forKey: ConfigKey([key])).flatMap { $0.isEmpty ? nil : $0 }
        } catch {
            throw wrongKind(key, "a single value", error)
        }
    }

    /// The text a setting has, without the file (the commands besides `serve` have none).
    func string(_ key: String, default fallback: String) -> String {
        reader.string(forKey: ConfigKey([key])).flatMap { $0.isEmpty ? nil : $0 } ?? fallback
    }

    /// A list: repeated flags, a comma-separated variable, or a YAML sequence. Blank items are dropped.
    func list(_ key: String) async throws -> [String] {
        let items: [String]
        do {
            items = try await reader.fetchStringArray(forKey: ConfigKey([key])) ?? []
        } catch {
            throw wrongKind(key, "a list", error)
        }
        return items.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A whole number of at least `minimum`.
    func integer(_ key: String, default fallback: Int, minimum: Int, flag: String? = nil) async throws -> Int {
        guard let text = try await string(key) else { return fallback }
        guard let number = Int(text), number >= minimum else {
            throw ValidationError("\(key) (\(sources(key, flag: flag))) must be a whole number of at least \(minimum), got '\(text)'")
        }
        return number
    }

    /// A yes or no: true/false, yes/no, on/off, 1/0.
    func bool(_ key: String, default fallback: Bool, flag: String? = nil) async throws -> Bool {
        guard let text = try await string(key) else { return fallback }
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ValidationError("\(key) (\(sources(key, flag: flag))) must be true or false, got '\(text)'")
        }
    }
}
