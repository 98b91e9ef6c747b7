import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import VibrationCore

/// Where a PostgreSQL database is: `postgres://user:password@host:port/database`, with optional
/// `?sslmode=disable|prefer|require` (prefer when not given) and `?schema=NAME` (a schema of the
/// database to keep the tables in, made when missing; `public` when not given).
public struct PostgresLocation: Sendable, Hashable {
    public enum TLSMode: String, Sendable { case disable, prefer, require }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var schema: String?
    public var tls: TLSMode

    /// Whether the text names a PostgreSQL database rather than a file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    public init(url text: String) throws {
        guard Self.isURL(text), let url = URLComponents(string: text), let host = url.host, !host.isEmpty else {
            throw PostgresStoreError.badURL(
                "'\(Self.redacted(text))' is not a PostgreSQL URL of the form postgres://user:password@host:port/database")
        }
        self.host = host
        port = url.port ?? 5432
        guard let user = url.user, !user.isEmpty else {
            throw PostgresStoreError.badURL("'\(Self.redacted(text))' names no user (postgres://USER@host/database)")
        }
        username = user.removingPercentEncoding ?? user
        password = url.password.map { $0.removingPercentEncoding ?? $0 }
        let path = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        database = path.isEmpty ? username : path
        schema = nil
        tls = .prefer
        for item in url.queryItems ?? [] {
            switch item.name {
            case "schema":
                guard let value = item.value, value.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) != nil else {
                    throw PostgresStoreError.badURL("schema must be a lower-case SQL name (letters, digits, _)")
                }
                schema = value
            case "sslmode":
                guard let value = item.value.flatMap(TLSMode.init(rawValue:)) else {
                    throw PostgresStoreError.badURL("sslmode must be disable, prefer or require")
                }
                tls = value
            default:
                throw PostgresStoreError.badURL("unknown parameter '\(item.name)' (known: schema, sslmode)")
            }
        }
    }

    /// The URL, password included.
    public var url: String {
        var text = "postgres://" + (username.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? username)
        if let password { text += ":" + (password.addingPercentEncoding(withAllowedCharacters: .urlPasswordAllowed) ?? password) }
        var query = ["sslmode=\(tls.rawValue)"]
        if let schema { query.append("schema=\(schema)") }
        return text + "@\(host):\(port)/\(database)?" + query.joined(separator: "&")
    }

    /// The URL without its password, for logs and messages.
    public var description: String {
        "postgres://\(username)@\(host):\(port)/\(database)" + (schema.map { "?schema=\($0)" } ?? "")
    }

    static func redacted(_ text: String) -> String {
        text.replacingOccurrences(of: ":[^:@/]*@", with: ":***@", options: .regularExpression)
    }
}

public enum PostgresStoreError: Error, CustomStringConvertible {
    case badURL(String)
    case unreachable(String, String)
    case unexpected(String)

    public var description: String {
        switch self {
        case .badURL(let text): "bad database URL: \(text)"
        case .unreachable(let location, let why): "cannot open the PostgreSQL database \(location): \(why)"
        case .unexpected(let text): text
        }
    }

    /// What went wrong, in words: the server's own message, else the connection's error.
    /// (postgres-nio's own description hides both, in case they hold secrets.)
    static func explain(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let info = error.serverInfo, let message = info[.message] {
            return message + (info[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
        }
        if let underlying = error.underlying { return "\(underlying)" }
        return "\(error.code)"
    }
}

extension PostgresLocation {
    /// The pool's settings: at most `maximumConnections` sessions, each started as `startupParameters` says.
    func clientConfiguration(maximumConnections: Int) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS =
            switch self.tls {
            case .disable: .disable
            case .prefer: .prefer(.makeClientConfiguration())
            case .require: .require(.makeClientConfiguration())
            }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.additionalStartupParameters = startupParameters
        return configuration
    }

    /// Parameters every session starts with: times travel as UTC (month partitions are cut in
    /// UTC), and the schema named in the URL comes first on the search path.
    private var startupParameters: [(String, String)] {
        var parameters = [("TimeZone", "UTC")]
        if let schema { parameters.append(("search_path", schema)) }
        return parameters
    }

    /// One connection's settings, for work done before the pool runs (migrations).
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS =
            switch self.tls {
            case .disable: .disable
            case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(10)
        configuration.options.additionalStartupParameters = startupParameters
        return configuration
    }
}
