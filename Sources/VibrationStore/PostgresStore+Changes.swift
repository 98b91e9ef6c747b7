import Logging
import PostgresNIO

extension PostgresStore: ChangeFeed {
    public func followChanges(_ changed: @escaping @Sendable (StoreChange) -> Void) async {
        // Said once per outage, not once per attempt.
        var failing = false
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(
                    configuration: location.connectionConfiguration(), id: 0, logger: logger)
                do {
                    let schema = try await connection.query("SELECT current_schema()::text", logger: logger).first(String.self) ?? "public"
                    let notices = try await connection.listen(PostgresSchema.changesChannel)
                    failing = false
                    // What happened while no one listened (before the first connection, or while
                    // it was lost) is not known: everything may have.
                    StoreChange.allCases.forEach(changed)
                    for try await notice in notices {
                        guard let (noticeSchema, kind) = Self.change(in: notice.payload), noticeSchema == schema else { continue }
                        changed(kind)
                    }
                } catch {
                    if !Task.isCancelled { logger.warning("change notifications stopped", metadata: ["error": "\(error)"]) }
                }
                try? await connection.close()
            } catch {
                if !failing {
                    logger.warning("cannot listen for changes; trying again every second", metadata: ["error": "\(String(reflecting: error))"])
                }
                failing = true
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// The schema and kind of a notice's payload, `schema:kind`.
    static func change(in payload: String) -> (schema: String, kind: StoreChange)? {
        guard let colon = payload.lastIndex(of: ":"), let kind = StoreChange(rawValue: String(payload[payload.index(after: colon)...])) else {
            return nil
        }
        return (String(payload[..<colon]), kind)
    }
}
