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
    static let keys: Set<String> = [
        "db", "host", "port", "log-level", "cors-origins", "alarm-webhook", "confirmations", "assets-dir",
        "require-auth-for-reads", "compat", "time-zone", "trust-networks", "tls-proxies", "max-json-bytes",
        "max-json-rows", "max-concurrent-imports", "idle-timeout", "body-timeout", "retention", "auto-diagnose",
    ]

    private let reader: ConfigReader
    /// The config file read, for messages.
    let file: String?
    /// Where each key's value comes from: the keys given as flags, in the environment, in the file.
    private let fromFlags: Set<String>
    private let fromEnvironment: Set<String>
    private let fromFile: Set<String>

    /// Settings from flags and the environment only (the commands besides `serve`).
    init(flags: [String: String?], lists: [String: [String]] = [:], environment: [String: String] = ProcessInfo.processInfo.environment) {
        reader = ConfigReader(providers: Self.providers(flags: flags, lists: lists, environment: environment))
        file = nil
        fromFlags = Self.given(flags: flags, lists: lists)
        fromEnvironment = Self.keys.filter { environment[Self.variable($0)].map { !$0.isEmpty } ?? false }
        fromFile = []
    }

    /// Settings from flags, the environment and, when `file` (or `HIMMES_CONFIG`) names one, a YAML file.
    init(
        flags: [String: String?], lists: [String: [String]] = [:], environment: [String: String] = ProcessInfo.processInfo.environment,
        file: String?
    ) async throws {
        var providers = Self.providers(flags: flags, lists: lists, environment: environment)
        let path = file ?? environment["HIMMES_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        var inFile: Set<String> = []
        if let path {
            inFile = try Self.checkKeys(ofFile: path)
            do {
                providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(path)))
            } catch {
                throw ValidationError("config file \(path) cannot be read: \(error)")
            }
        }
        reader = ConfigReader(providers: providers)
        self.file = path
        fromFlags = Self.given(flags: flags, lists: lists)
        fromEnvironment = Self.keys.filter { environment[Self.variable($0)].map { !$0.isEmpty } ?? false }
        fromFile = inFile
    }

    private static func given(flags: [String: String?], lists: [String: [String]]) -> Set<String> {
        Set(flags.compactMap { key, text in text.map { $0.isEmpty ? nil : key } ?? nil } + lists.filter { !$0.value.isEmpty }.keys)
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

    private static func providers(flags: [String: String?], lists: [String: [String]], environment: [String: String])
        -> [any ConfigProvider]
    {
        var given: [AbsoluteConfigKey: ConfigValue] = [:]
        for case (let key, let text?) in flags where !text.isEmpty {
            given[AbsoluteConfigKey([key])] = ConfigValue(.string(text), isSecret: false)
        }
        for (key, list) in lists where !list.isEmpty {
            given[AbsoluteConfigKey([key])] = ConfigValue(.stringArray(list), isSecret: false)
        }
        return [
            InMemoryProvider(name: "flags", values: given),
            EnvironmentVariablesProvider(environmentVariables: environment.filter { !$0.value.isEmpty }).prefixKeys(with: "himmes"),
        ]
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
