import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import VibrationCore

extension AsyncSequence where Element == PostgresRow {
    /// The first row's value (the only one, for the statements that use it); nil when there is no row.
    func first<C: PostgresDecodable & Sendable>(_ type: C.Type) async throws -> C? {
        for try await value in decode(type) { return value }
        return nil
    }

    /// Every row's value, in order.
    func values<C: PostgresDecodable & Sendable>(_ type: C.Type) async throws -> [C] {
        var values: [C] = []
        for try await value in decode(type) { values.append(value) }
        return values
    }
}

extension PostgresBindings {
    /// Binds the value and returns its placeholder (`$1`, `$2`, ...), for statements put together from parts.
    mutating func placeholder<V: PostgresNonThrowingEncodable & Sendable>(_ value: V) -> String {
        append(value)
        return "$\(count)"
    }
}

extension Timestamp: PostgresNonThrowingEncodable, PostgresDecodable, PostgresArrayEncodable, PostgresArrayDecodable {
    public static var psqlArrayType: PostgresDataType { .timestamptzArray }

    /// PostgreSQL counts timestamps in microseconds from 2000-01-01 UTC.
    static let postgresEpochOffset: Int64 = 946_684_800_000_000

    public static var psqlType: PostgresDataType { .timestamptz }
    public static var psqlFormat: PostgresFormat { .binary }

    public func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeInteger(microseconds &- Self.postgresEpochOffset)
    }

    public init<JSONDecoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat, context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        guard type == .timestamptz || type == .timestamp, buffer.readableBytes == 8, let value = buffer.readInteger(as: Int64.self)
        else { throw PostgresDecodingError.Code.typeMismatch }
        self.init(microseconds: value &+ Self.postgresEpochOffset)
    }
}
