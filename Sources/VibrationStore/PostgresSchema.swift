import Foundation

/// The PostgreSQL schema, as numbered migrations. Append only: a migration that has shipped never changes.
///
/// `vibration_data` keeps the original columns and is range-partitioned by `collected_at`, one
/// partition per calendar month (UTC), so that retention drops whole months. Partitions are made
/// when data for a month first arrives and a few months ahead; there is no default partition, so no
/// row ever has to be moved out of one. The sample identity (machine_name, sensor_no, collected_at,
/// measured_time) is the primary key, with the sensor's id for the two names; it holds the partition
/// key, so PostgreSQL enforces it across all partitions. Text columns use the "C" collation: names
/// sort byte-wise, as on SQLite.
enum PostgresSchema {
    static let migrations: [(name: String, sql: String)] = [
        ("0001 vibration data and diagnosis, partitioned by month", migration0001),
        ("0002 machine registry, diagnosis evidence, alarms", migration0002),
        ("0003 waveform summary", migration0003),
        ("0004 api keys", migration0004),
        ("0005 bulk loads without per-row triggers or key checks", migration0005),
        ("0006 block-range index on sample ids", migration0006),
        ("0007 recordings found from the samples", recordingsMigration),
        ("0008 recording extents", extentsMigration),
        ("0009 change notifications", changesMigration),
        ("0010 engine leases", leasesMigration),
    ]

    /// Advisory lock keys are the database's, not a schema's: each key is the hash of its name and
    /// the session's schema, so that stores in different schemas of one database never wait on
    /// each other, while every session on the same schema takes the same key.
    private static func lock(_ name: String) -> String {
        "hashtextextended('himmes.\(name):' || current_schema(), 0)"
    }

    /// Serialises schema changes, partition creation and sample writes between sessions, processes
    /// and hosts: sample ids then grow in commit order, which the engine's scan relies on.
    static let writeLock = lock("write")
    static let migrationLock = lock("migration")
    /// Serialises the engines of several servers sharing one database as they record verdicts.
    static let engineLock = lock("engine")
    /// Serialises the engines' scans: each scan reads the progress the last one kept and keeps its own.
    static let scanLock = lock("scan")

    /// A migration's statements: split at each `;` that ends a line, except inside a `$$` body.
    static func statements(_ sql: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var inBody = false
        for line in sql.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("--") { continue }
            current += line + "\n"
            if line.components(separatedBy: "$$").count % 2 == 0 { inBody.toggle() }
            if !inBody, line.trimmingCharacters(in: .whitespaces).hasSuffix(";") {
                statements.append(current)
                current = ""
            }
        }
        if !current.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { statements.append(current) }
        return statements
    }

    static let migrationTable = """
        CREATE TABLE IF NOT EXISTS himmes_migrations (
            name text PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """

    static let migration0001 = """
        CREATE TABLE sensors (
            id bigserial PRIMARY KEY,
            machine_name varchar(50) COLLATE "C" NOT NULL CHECK (length(machine_name) >= 1),
            sensor_no varchar(20) COLLATE "C" NOT NULL CHECK (length(sensor_no) >= 1),
            UNIQUE (machine_name, sensor_no)
        );

        -- The original columns, then sensor_id: the sensor's row in `sensors`, which the identity key
        -- holds in place of the two names (numbers compare faster than strings: a third less work per
        -- insert). An INSERT that leaves it out (a tool written for the original table) gets it
        -- filled from the names.
        CREATE TABLE vibration_data (
            id bigserial NOT NULL,
            machine_name varchar(50) COLLATE "C" NOT NULL CHECK (length(machine_name) >= 1),
            sensor_no varchar(20) COLLATE "C" NOT NULL CHECK (length(sensor_no) >= 1),
            collected_at timestamptz NOT NULL DEFAULT now(),
            measured_time double precision NOT NULL,
            normal double precision NOT NULL,
            unbalance double precision NOT NULL,
            looseness double precision NOT NULL,
            unbalance_looseness double precision NOT NULL,
            sensor_id bigint NOT NULL,
            PRIMARY KEY (sensor_id, collected_at, measured_time)
        ) PARTITION BY RANGE (collected_at);
        CREATE INDEX vibration_data_id ON vibration_data (id);

        CREATE FUNCTION himmes_fill_sensor_id() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO sensors (machine_name, sensor_no) VALUES (NEW.machine_name, NEW.sensor_no) ON CONFLICT DO NOTHING;
            SELECT id INTO NEW.sensor_id FROM sensors WHERE machine_name = NEW.machine_name AND sensor_no = NEW.sensor_no;
            RETURN NEW;
        END $$;
        CREATE TRIGGER vibration_data_sensor BEFORE INSERT ON vibration_data
            FOR EACH ROW WHEN (NEW.sensor_id IS NULL) EXECUTE FUNCTION himmes_fill_sensor_id();

        -- Makes the month partitions that hold the given times (any that are missing).
        CREATE FUNCTION himmes_ensure_partitions(times timestamptz[]) RETURNS integer LANGUAGE plpgsql AS $$
        DECLARE
            month timestamp;
            made integer := 0;
        BEGIN
            FOR month IN SELECT DISTINCT date_trunc('month', t AT TIME ZONE 'UTC') FROM unnest(times) AS t WHERE t IS NOT NULL LOOP
                IF to_regclass(format('%I', 'vibration_data_' || to_char(month, 'YYYY"m"MM'))) IS NULL THEN
                    EXECUTE format(
                        'CREATE TABLE %I PARTITION OF vibration_data FOR VALUES FROM (%L) TO (%L)',
                        'vibration_data_' || to_char(month, 'YYYY"m"MM'),
                        (month AT TIME ZONE 'UTC'), ((month + interval '1 month') AT TIME ZONE 'UTC'));
                    made := made + 1;
                END IF;
            END LOOP;
            RETURN made;
        END $$;

        SELECT himmes_ensure_partitions(ARRAY[now(), now() + interval '1 month', now() + interval '2 months']);

        CREATE TABLE vibration_diagnosis (
            id bigserial PRIMARY KEY,
            machine_name varchar(50) COLLATE "C" NOT NULL CHECK (length(machine_name) >= 1),
            detected_at timestamptz NOT NULL DEFAULT now(),
            fault_type integer NOT NULL CHECK (fault_type BETWEEN 0 AND 3)
        );
        -- The latest per machine is one probe per machine; the timeline reads only this index.
        CREATE INDEX vibration_diagnosis_machine_time_type ON vibration_diagnosis (machine_name, detected_at, fault_type);
        CREATE INDEX vibration_diagnosis_time ON vibration_diagnosis (detected_at);
        """

    static let migration0002 = """
        CREATE TABLE machines (
            machine_name varchar(50) COLLATE "C" PRIMARY KEY CHECK (length(machine_name) >= 1),
            line text,
            rpm double precision CHECK (rpm IS NULL OR rpm > 0),
            iso_group integer NOT NULL DEFAULT 2 CHECK (iso_group IN (1, 2)),
            foundation text NOT NULL DEFAULT 'rigid' CHECK (foundation IN ('rigid', 'flexible')),
            channel text NOT NULL DEFAULT 'normal'
                CHECK (channel IN ('normal', 'unbalance', 'looseness', 'unbalance_looseness')),
            baseline_1x double precision,
            baseline_harmonics double precision,
            state integer NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 3),
            state_zone text,
            state_since timestamptz,
            pending_state integer,
            pending_count integer NOT NULL DEFAULT 0,
            last_window_at timestamptz
        );

        CREATE TABLE diagnosis_evidence (
            diagnosis_id bigint PRIMARY KEY REFERENCES vibration_diagnosis(id) ON DELETE CASCADE,
            sensor_id bigint NOT NULL REFERENCES sensors(id),
            channel text NOT NULL,
            window_start timestamptz NOT NULL,
            window_seconds double precision NOT NULL,
            confidence double precision NOT NULL,
            severity_zone text NOT NULL,
            velocity_rms double precision NOT NULL,
            shaft_hz double precision NOT NULL,
            amplitude_1x double precision NOT NULL,
            harmonics double precision NOT NULL,
            rms double precision NOT NULL,
            crest_factor double precision NOT NULL,
            kurtosis double precision NOT NULL,
            evidence text NOT NULL,
            UNIQUE (sensor_id, window_start, channel)
        );

        CREATE TABLE diagnosis_progress (
            id integer PRIMARY KEY CHECK (id = 1),
            scanned_through_id bigint NOT NULL
        );
        -- recording_start in microseconds since 1970 (UTC), as the engine computes it.
        CREATE TABLE diagnosis_open_windows (
            sensor_id bigint NOT NULL REFERENCES sensors(id),
            channel text NOT NULL,
            recording_start bigint NOT NULL,
            window_index integer NOT NULL,
            window_seconds double precision NOT NULL,
            PRIMARY KEY (sensor_id, channel, recording_start, window_index)
        );

        CREATE TABLE alarms (
            id bigserial PRIMARY KEY,
            machine_name varchar(50) COLLATE "C" NOT NULL,
            fault_type integer NOT NULL CHECK (fault_type BETWEEN 0 AND 3),
            severity_zone text,
            message text NOT NULL,
            opened_at timestamptz NOT NULL,
            closed_at timestamptz,
            acknowledged_at timestamptz,
            acknowledged_by text
        );
        CREATE INDEX alarms_machine ON alarms (machine_name, opened_at);
        CREATE INDEX alarms_open ON alarms (opened_at) WHERE closed_at IS NULL;
        """

    /// The same five levels as on SQLite; `bucket` in microseconds since 1970 (UTC).
    static var migration0003: String {
        """
        CREATE TABLE waveform_summary (
            sensor_id bigint NOT NULL REFERENCES sensors(id),
            level integer NOT NULL,
            bucket bigint NOT NULL,
            n bigint NOT NULL,
            \(WaveformSummary.channels.map { "min_\($0) double precision NOT NULL, max_\($0) double precision NOT NULL" }.joined(separator: ",\n    ")),
            PRIMARY KEY (sensor_id, level, bucket)
        );
        """
    }

    static let migration0004 = """
        CREATE TABLE api_keys (
            id bigserial PRIMARY KEY,
            name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
            secret_sha256 text NOT NULL UNIQUE,
            read_only boolean NOT NULL,
            created_at timestamptz NOT NULL,
            revoked_at timestamptz
        );
        """

    /// A `BEFORE` row trigger on a table makes `COPY` insert it row by row instead of a page at a
    /// time, so the trigger that fills `sensor_id` for tools that leave it out becomes an `AFTER`
    /// trigger: such a row is stored with a placeholder (a negative number of its own, so rows of
    /// one statement never collide on the identity), then the trigger sets the sensor's id, which
    /// checks the identity as the insert would have, and adds the row to the waveform summary. The
    /// summary has no foreign key to `sensors`: only the store and this trigger write summary rows,
    /// for sensors just looked up, and a check per row would cost as much as writing it.
    static var migration0005: String {
        let channels = WaveformSummary.channels
        let levels = WaveformSummary.levels.enumerated().map { "(\($0.offset), \($0.element)::bigint)" }.joined(separator: ", ")
        return """
            CREATE SEQUENCE vibration_data_unresolved_sensor;
            ALTER TABLE vibration_data ALTER COLUMN sensor_id SET DEFAULT -nextval('vibration_data_unresolved_sensor');
            DROP TRIGGER vibration_data_sensor ON vibration_data;
            DROP FUNCTION himmes_fill_sensor_id();

            CREATE FUNCTION himmes_resolve_sensor_id() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                sensor bigint;
                micros bigint := round(date_part('epoch', NEW.collected_at) * 1000000)::bigint;
            BEGIN
                INSERT INTO sensors (machine_name, sensor_no) VALUES (NEW.machine_name, NEW.sensor_no) ON CONFLICT DO NOTHING;
                SELECT id INTO sensor FROM sensors WHERE machine_name = NEW.machine_name AND sensor_no = NEW.sensor_no;
                UPDATE vibration_data SET sensor_id = sensor
                WHERE sensor_id = NEW.sensor_id AND collected_at = NEW.collected_at AND measured_time = NEW.measured_time;
                INSERT INTO waveform_summary AS w (\(WaveformSummary.columns))
                SELECT sensor, l.level, \(WaveformSummary.bucketSQL("micros", "l.width")), 1,
                       \(channels.map { "NEW.\($0), NEW.\($0)" }.joined(separator: ", "))
                FROM (VALUES \(levels)) AS l(level, width)
                \(summaryMerge);
                RETURN NULL;
            END $$;
            CREATE TRIGGER vibration_data_sensor AFTER INSERT ON vibration_data
                FOR EACH ROW WHEN (NEW.sensor_id < 0) EXECUTE FUNCTION himmes_resolve_sensor_id();

            ALTER TABLE waveform_summary DROP CONSTRAINT IF EXISTS waveform_summary_sensor_id_fkey;
            """
    }

    /// Sample ids are given out in the order rows are appended, so a block-range (BRIN) index finds
    /// an id's rows as well for the engine's scan and a lookup by id (a range of 128 pages, under
    /// a millisecond) while costing next to nothing to keep, where a B-tree on `id` would be written
    /// with every row of a bulk load. A range appended is not summed up until
    /// `himmes_summarize_new_ranges()` (or a vacuum) does so, and until then is read whole by any
    /// query on ids; the engine calls it before each scan and a large load after it is done. Each
    /// sums up the full ranges after the last summed up, so those summed up are always the first
    /// (autosummarize is left off: it can skip ranges, which then stay unsummed). The newest id the
    /// engine may scan to is read from the sequence, holding the write lock (no sample write is
    /// then half done), instead of as max(id), which this index cannot answer.
    static let migration0006 = """
        DROP INDEX vibration_data_id;
        CREATE INDEX vibration_data_id ON vibration_data USING brin (id);

        -- Sums up the block ranges of each partition of vibration_data appended since the last call,
        -- but the last one, which is still filling: walks back from the end to the first range summed up
        -- already, so a call costs what was appended since the one before. A partition autovacuum
        -- holds is left for the next call; a role that does not own the index (which summing up
        -- needs) leaves it to vacuum.
        CREATE FUNCTION himmes_summarize_new_ranges() RETURNS integer LANGUAGE plpgsql SET lock_timeout = '100ms' AS $$
        DECLARE
            part regclass;
            idx regclass;
            start bigint;
            made integer := 0;
        BEGIN
            FOR part, idx IN
                SELECT i.inhrelid::regclass, x.indexrelid::regclass
                FROM pg_inherits i JOIN pg_index x ON x.indrelid = i.inhrelid
                JOIN pg_inherits xi ON xi.inhrelid = x.indexrelid AND xi.inhparent = 'vibration_data_id'::regclass
                WHERE i.inhparent = 'vibration_data'::regclass
            LOOP
                BEGIN
                    -- The first block of the last range that is full (128 pages a range).
                    start := (pg_relation_size(part) / current_setting('block_size')::bigint / 128 - 1) * 128;
                    WHILE start >= 0 LOOP
                        EXIT WHEN brin_summarize_range(idx, start) = 0;
                        made := made + 1;
                        start := start - 128;
                    END LOOP;
                EXCEPTION WHEN lock_not_available OR insufficient_privilege THEN
                    NULL;
                END;
            END LOOP;
            RETURN made;
        END $$;
        """

    /// Adds a summary row to the stored one of its key (the insert names the table `w`).
    static var summaryMerge: String {
        """
        ON CONFLICT (sensor_id, level, bucket) DO UPDATE SET n = w.n + excluded.n,
        \(WaveformSummary.channels.map { "min_\($0) = least(w.min_\($0), excluded.min_\($0)), max_\($0) = greatest(w.max_\($0), excluded.max_\($0))" }.joined(separator: ",\n"))
        """
    }

    /// Adds the rows just stored (the `inserted` relation: sensor_id, micros, the four channels) to
    /// every summary level: the finest from the rows, each coarser one from the level below.
    static var summaryUpsert: String {
        let channels = WaveformSummary.channels
        let finest = WaveformSummary.levels[0]
        var levels: [String] = [
            """
            l0 AS (
                SELECT sensor_id, \(WaveformSummary.bucketSQL("micros", "\(finest)")) AS bucket, count(*) AS n,
                       \(channels.map { "min(\($0)) AS min_\($0), max(\($0)) AS max_\($0)" }.joined(separator: ", "))
                FROM inserted GROUP BY 1, 2
            )
            """
        ]
        for (index, width) in WaveformSummary.levels.enumerated().dropFirst() {
            levels.append(
                """
                l\(index) AS (
                    SELECT sensor_id, \(WaveformSummary.bucketSQL("bucket", "\(width)")) AS bucket, sum(n)::bigint AS n,
                           \(channels.map { "min(min_\($0)) AS min_\($0), max(max_\($0)) AS max_\($0)" }.joined(separator: ", "))
                    FROM l\(index - 1) GROUP BY 1, 2
                )
                """)
        }
        let all = WaveformSummary.levels.indices.map { "SELECT \($0) AS level, * FROM l\($0)" }.joined(separator: " UNION ALL ")
        return levels.joined(separator: ",\n") + """
            ,
            summary AS (
                INSERT INTO waveform_summary AS w (\(WaveformSummary.columns))
                SELECT \(WaveformSummary.columns) FROM (\(all)) AS levels
                \(summaryMerge)
                RETURNING 1
            )
            """
    }

    /// The engine's recordings (see `RecordingTracker`), as on SQLite.
    static let recordingsMigration = """
        CREATE TABLE diagnosis_recordings (
            sensor_id bigint NOT NULL REFERENCES sensors(id),
            recording_start bigint NOT NULL,
            sequence bigint NOT NULL,
            spacing double precision,
            covered text NOT NULL,
            first_collected bigint NOT NULL,
            last_collected bigint NOT NULL,
            last_time double precision NOT NULL,
            PRIMARY KEY (sensor_id, sequence)
        );
        ALTER TABLE diagnosis_open_windows ADD COLUMN collected_from bigint;
        ALTER TABLE diagnosis_open_windows ADD COLUMN collected_through bigint;

        -- A sensor's machine is in the registry from the sensor's first sample on (as on SQLite).
        INSERT INTO machines (machine_name) SELECT DISTINCT machine_name FROM sensors ON CONFLICT DO NOTHING;
        CREATE FUNCTION himmes_register_machine() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO machines (machine_name) VALUES (NEW.machine_name) ON CONFLICT DO NOTHING;
            RETURN NULL;
        END $$;
        CREATE TRIGGER sensors_register_machine AFTER INSERT ON sensors
            FOR EACH ROW EXECUTE FUNCTION himmes_register_machine();
        """

    /// What the engine learned of each recording (`RecordingExtent`), as on SQLite.
    static let extentsMigration = """
        CREATE TABLE recording_extents (
            sensor_id bigint NOT NULL,
            recording_start bigint NOT NULL,
            time_low double precision NOT NULL,
            time_high double precision NOT NULL,
            collected_low bigint NOT NULL,
            collected_high bigint NOT NULL,
            clock_offset bigint NOT NULL,
            PRIMARY KEY (sensor_id, recording_start)
        );

        -- The engine looks at every stored sample once more, so that recordings stored before
        -- extents were kept get theirs (windows diagnosed before are skipped, as on any rescan).
        DELETE FROM diagnosis_progress;
        DELETE FROM diagnosis_open_windows;
        DELETE FROM diagnosis_recordings;
        """

    /// The channel on which every committed change of samples, diagnoses and alarms is announced,
    /// as `schema:kind` (`data`, `diagnosis`, `alarm`), whoever wrote it: each server sharing the
    /// database tells its open pages and drops its cached answers (`PostgresStore.followChanges`).
    static let changesChannel = "himmes_changes"

    /// One notice per statement, sent at commit (PostgreSQL folds a transaction's equal notices
    /// into one).
    static let changesMigration = """
        CREATE FUNCTION himmes_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('\(changesChannel)', current_schema() || ':' || TG_ARGV[0]);
            RETURN NULL;
        END $$;
        CREATE TRIGGER vibration_data_changed AFTER INSERT OR UPDATE OR DELETE ON vibration_data
            FOR EACH STATEMENT EXECUTE FUNCTION himmes_notify_change('data');
        CREATE TRIGGER vibration_diagnosis_changed AFTER INSERT OR UPDATE OR DELETE ON vibration_diagnosis
            FOR EACH STATEMENT EXECUTE FUNCTION himmes_notify_change('diagnosis');
        CREATE TRIGGER alarms_changed AFTER INSERT OR UPDATE OR DELETE ON alarms
            FOR EACH STATEMENT EXECUTE FUNCTION himmes_notify_change('alarm');
        """

    /// Servers whose engines share the work (`seen_at` is each one's last round), and which of
    /// them diagnoses each machine.
    static let leasesMigration = """
        CREATE TABLE engine_servers (
            holder text PRIMARY KEY,
            seen_at timestamptz NOT NULL
        );
        CREATE TABLE engine_leases (
            machine_name varchar(50) COLLATE "C" PRIMARY KEY,
            holder text NOT NULL,
            since timestamptz NOT NULL DEFAULT now()
        );
        """
}
