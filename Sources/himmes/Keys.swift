import ArgumentParser
import Foundation
import Logging
import VibrationCore
import VibrationStore

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make, list and revoke the API keys that writes need.",
        discussion: """
            Once any key exists, every write through the API needs 'Authorization: Bearer KEY'; before \
            that, writes are taken from this machine only. Reads stay open unless the server runs with \
            --require-auth-for-reads. Only a hash of each key is \
            stored: the key itself is printed once, by 'create'.
            """,
        subcommands: [KeysCreate.self, KeysList.self, KeysRevoke.self])
}

struct KeysCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Make a key and print it (only this once).")

    @Option(help: "A name for the key: who or what uses it (1 to 100 characters).") var name: String
    @Flag(help: "The key may read but not write.") var readOnly = false
    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard (1...100).contains(name.count) else { throw ValidationError("--name must be 1 to 100 characters") }
    }

    func run() async throws {
        try await database.withStore(logger: Logger(label: "himmes")) { store in
            do {
                let (key, secret) = try await store.createKey(name: name, readOnly: readOnly)
                print(secret)
                FileHandle.standardError.write(
                    Data("key '\(key.name)' made\(key.readOnly ? " (read-only)" : ""); it is not stored and cannot be shown again\n".utf8))
            } catch let error as StoreError {
                throw ValidationError(error.description)
            }
        }
    }
}

struct KeysList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the keys (never their secrets).")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        try await database.withStore(logger: Logger(label: "himmes")) { store in
            let keys = try await store.apiKeys()
            if keys.isEmpty {
                print("no keys: writes are taken from this machine only")
                return
            }
            let rows =
                [["name", "access", "created", "revoked"]]
                + keys.map { [$0.name, $0.readOnly ? "read-only" : "read-write", $0.createdAt.rfc3339, $0.revokedAt?.rfc3339 ?? "-"] }
            // Each column as wide as its widest cell and two spaces: names of any length stay apart.
            let widths = (0..<4).map { column in rows.map { $0[column].count }.max()! + 2 }
            for row in rows {
                print(zip(row, widths).dropLast().map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined() + row[3])
            }
        }
    }
}

struct KeysRevoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a key by name.")

    @Option(help: "The key's name.") var name: String
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        try await database.withStore(logger: Logger(label: "himmes")) { store in
            guard try await store.revokeKey(name: name) else {
                throw ValidationError("no key named '\(name)' is in use")
            }
            print("revoked '\(name)'")
        }
    }
}
