import PostgresNIO
import VibrationCore

extension PostgresStore: EngineLeases {
    public func shareMachines(holder: String, liveness: Duration) async throws -> Set<String> {
        let seconds = liveness.inSeconds
        return try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                INSERT INTO engine_servers (holder, seen_at) VALUES (\(holder), now())
                ON CONFLICT (holder) DO UPDATE SET seen_at = now()
                """, logger: logger)
            // Servers gone for an hour are forgotten (their leases are free long before).
            try await connection.query("DELETE FROM engine_servers WHERE seen_at < now() - interval '1 hour'", logger: logger)
            var live: [String] = []
            for try await name in try await connection.query(
                "SELECT holder FROM engine_servers WHERE seen_at >= now() - make_interval(secs => \(seconds))", logger: logger
            ).decode(String.self) { live.append(name) }
            var machines: [String] = []
            for try await name in try await connection.query("SELECT machine_name FROM machines", logger: logger).decode(String.self) {
                machines.append(name)
            }
            let share = MachineShare.share(of: holder, machines: machines, servers: live)
            try await connection.query(
                "DELETE FROM engine_leases WHERE holder = \(holder) AND NOT (machine_name = ANY(\(share)::text[]))", logger: logger)
            // A machine of the share is taken when free or when its holder is no longer live; one
            // still held by a live server is left to it until it lets go (its next round).
            var held = Set<String>()
            for try await name in try await connection.query(
                """
                INSERT INTO engine_leases AS l (machine_name, holder) SELECT unnest(\(share)::text[]), \(holder)
                ON CONFLICT (machine_name) DO UPDATE SET holder = excluded.holder, since = now()
                WHERE l.holder = excluded.holder OR NOT EXISTS (
                    SELECT 1 FROM engine_servers s WHERE s.holder = l.holder AND s.seen_at >= now() - make_interval(secs => \(seconds)))
                RETURNING machine_name
                """, logger: logger
            ).decode(String.self) { held.insert(name) }
            return held
        }
    }

    public func leaveEngine(holder: String) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("DELETE FROM engine_leases WHERE holder = \(holder)", logger: logger)
            try await connection.query("DELETE FROM engine_servers WHERE holder = \(holder)", logger: logger)
        }
    }

    public func engineHolders(liveness: Duration) async throws -> [(holder: String, machines: Int)] {
        let seconds = liveness.inSeconds
        return try await all(
            """
            SELECT s.holder, (SELECT count(*) FROM engine_leases l WHERE l.holder = s.holder)
            FROM engine_servers s WHERE s.seen_at >= now() - make_interval(secs => \(seconds)) ORDER BY s.holder
            """, (String, Int64).self
        ).map { ($0.0, Int($0.1)) }
    }
}
