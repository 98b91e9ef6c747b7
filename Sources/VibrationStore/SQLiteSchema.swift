import GRDB

/// The SQLite schema, as numbered migrations. Append only: a migration that has shipped never changes.
///
/// Samples are kept in `vibration_samples`, keyed by a small integer per (machine, sensor) from
/// `sensors` and the time as integer microseconds: the identity index then holds three numbers
/// instead of two strings and two numbers, which roughly halves the cost of each insert. The
/// original table `vibration_data` is a view over the two with every original column, and takes
/// inserts through a trigger, so tools written for the original schema still read and write it.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("0001 vibration data and diagnosis") { db in
            try db.execute(sql: migration0001)
        }
        migrator.registerMigration("0002 machine registry, diagnosis evidence, alarms") { db in
            try db.execute(sql: migration0002)
        }
        migrator.registerMigration("0003 waveform summary") { db in
            try db.execute(sql: migration0003)
        }
        migrator.registerMigration("0004 covering machine-time index of diagnoses") { db in
            try db.execute(sql: migration0004)
        }
        migrator.registerMigration("0005 api keys") { db in
            try db.execute(sql: migration0005)
        }
        migrator.registerMigration("0006 recordings found from the samples") { db in
            try db.execute(sql: recordingsMigration)
        }
        migrator.registerMigration("0007 recording extents") { db in
            try db.execute(sql: extentsMigration)
        }
        return migrator
    }

    /// What an insert into the `vibration_data` view stores: the sensor when new, then the sample.
    static let viewInsertStatements = """
            INSERT INTO sensors (machine_name, sensor_no) VALUES (NEW.machine_name, NEW.sensor_no)
                ON CONFLICT DO NOTHING;
            INSERT INTO vibration_samples
                (id, sensor_id, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness)
            VALUES (
                NEW.id,
                (SELECT id FROM sensors WHERE machine_name = NEW.machine_name AND sensor_no = NEW.sensor_no),
                coalesce(NEW.collected_at, CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)),
                NEW.measured_time, NEW.normal, NEW.unbalance, NEW.looseness, NEW.unbalance_looseness);
        """

    static let migration0001 = """
        CREATE TABLE sensors (
            id INTEGER PRIMARY KEY,
            machine_name TEXT NOT NULL CHECK (length(machine_name) BETWEEN 1 AND 50),
            sensor_no TEXT NOT NULL CHECK (length(sensor_no) BETWEEN 1 AND 20),
            UNIQUE (machine_name, sensor_no)
        );

        -- collected_at: microseconds since 1970-01-01T00:00:00Z (UTC).
        CREATE TABLE vibration_samples (
            id INTEGER PRIMARY KEY,
            sensor_id INTEGER NOT NULL REFERENCES sensors(id),
            collected_at INTEGER NOT NULL,
            measured_time REAL NOT NULL,
            normal REAL NOT NULL,
            unbalance REAL NOT NULL,
            looseness REAL NOT NULL,
            unbalance_looseness REAL NOT NULL
        );
        -- The sample identity (machine_name, sensor_no, collected_at, measured_time), and each
        -- sensor's samples in time order. Lists across sensors merge these per-sensor runs rather
        -- than keep a second index in global time order, which would double the cost of each insert.
        CREATE UNIQUE INDEX vibration_samples_identity ON vibration_samples (sensor_id, collected_at, measured_time);

        CREATE VIEW vibration_data AS
            SELECT v.id, s.machine_name, s.sensor_no, v.collected_at, v.measured_time,
                   v.normal, v.unbalance, v.looseness, v.unbalance_looseness
            FROM vibration_samples v JOIN sensors s ON s.id = v.sensor_id;

        CREATE TRIGGER vibration_data_insert INSTEAD OF INSERT ON vibration_data
        BEGIN
        \(viewInsertStatements)
        END;

        -- detected_at: microseconds since 1970-01-01T00:00:00Z (UTC).
        CREATE TABLE vibration_diagnosis (
            id INTEGER PRIMARY KEY,
            machine_name TEXT NOT NULL CHECK (length(machine_name) BETWEEN 1 AND 50),
            detected_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)),
            fault_type INTEGER NOT NULL CHECK (fault_type BETWEEN 0 AND 3)
        );
        -- Latest per machine is one probe of this index per machine.
        CREATE INDEX vibration_diagnosis_machine_time ON vibration_diagnosis (machine_name, detected_at);
        CREATE INDEX vibration_diagnosis_time ON vibration_diagnosis (detected_at);
        """

    static let migration0002 = """
        -- The machine registry: one row per machine, created on first data, edited through PUT /machines/{name}.
        CREATE TABLE machines (
            machine_name TEXT PRIMARY KEY CHECK (length(machine_name) BETWEEN 1 AND 50),
            line TEXT,
            rpm REAL CHECK (rpm IS NULL OR rpm > 0),
            iso_group INTEGER NOT NULL DEFAULT 2 CHECK (iso_group IN (1, 2)),
            foundation TEXT NOT NULL DEFAULT 'rigid' CHECK (foundation IN ('rigid', 'flexible')),
            channel TEXT NOT NULL DEFAULT 'normal'
                CHECK (channel IN ('normal', 'unbalance', 'looseness', 'unbalance_looseness')),
            baseline_1x REAL,
            baseline_harmonics REAL,
            -- The confirmed state (hysteresis: it changes after enough consecutive windows agree).
            state INTEGER NOT NULL DEFAULT 0 CHECK (state BETWEEN 0 AND 3),
            state_zone TEXT,
            state_since INTEGER,
            pending_state INTEGER,
            pending_count INTEGER NOT NULL DEFAULT 0,
            last_window_at INTEGER
        );
        INSERT INTO machines (machine_name)
            SELECT machine_name FROM sensors UNION SELECT machine_name FROM vibration_diagnosis;

        -- What the built-in engine saw in the window behind each of its diagnoses. One row per
        -- (sensor, window, channel): diagnosing the same data again writes nothing new.
        CREATE TABLE diagnosis_evidence (
            diagnosis_id INTEGER PRIMARY KEY REFERENCES vibration_diagnosis(id) ON DELETE CASCADE,
            sensor_id INTEGER NOT NULL REFERENCES sensors(id),
            channel TEXT NOT NULL,
            window_start INTEGER NOT NULL,
            window_seconds REAL NOT NULL,
            confidence REAL NOT NULL,
            severity_zone TEXT NOT NULL,
            velocity_rms REAL NOT NULL,
            shaft_hz REAL NOT NULL,
            amplitude_1x REAL NOT NULL,
            harmonics REAL NOT NULL,
            rms REAL NOT NULL,
            crest_factor REAL NOT NULL,
            kurtosis REAL NOT NULL,
            evidence TEXT NOT NULL,
            UNIQUE (sensor_id, window_start, channel)
        );

        -- How far the engine has looked at the samples, by sample id (one row), and the windows it
        -- saw start but not yet end: their sensors have no data past the window's end so far.
        CREATE TABLE diagnosis_progress (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            scanned_through_id INTEGER NOT NULL
        );
        CREATE TABLE diagnosis_open_windows (
            sensor_id INTEGER NOT NULL REFERENCES sensors(id),
            channel TEXT NOT NULL,
            recording_start INTEGER NOT NULL,
            window_index INTEGER NOT NULL,
            window_seconds REAL NOT NULL,
            PRIMARY KEY (sensor_id, channel, recording_start, window_index)
        );

        CREATE TABLE alarms (
            id INTEGER PRIMARY KEY,
            machine_name TEXT NOT NULL,
            fault_type INTEGER NOT NULL CHECK (fault_type BETWEEN 0 AND 3),
            severity_zone TEXT,
            message TEXT NOT NULL,
            opened_at INTEGER NOT NULL,
            closed_at INTEGER,
            acknowledged_at INTEGER,
            acknowledged_by TEXT
        );
        CREATE INDEX alarms_machine ON alarms (machine_name, opened_at);
        CREATE INDEX alarms_open ON alarms (opened_at) WHERE closed_at IS NULL;
        """

    /// Min/max per sensor, channel and time bucket at five widths, for drawing long ranges; the
    /// view's insert trigger now keeps it up to date too.
    static var migration0003: String {
        WaveformSummary.createSQL + "\n" + WaveformSummary.backfillSQL() + """

            DROP TRIGGER vibration_data_insert;
            CREATE TRIGGER vibration_data_insert INSTEAD OF INSERT ON vibration_data
            BEGIN
            \(viewInsertStatements)
            """ + WaveformSummary.triggerSQL() + """

            END;
            """
    }

    /// The timeline reads each machine's diagnoses of a range in time order: with the verdict in the
    /// (machine, time) index it never visits the table. It replaces the index without the verdict,
    /// whose queries (the latest diagnosis per machine) it serves as well.
    static let migration0004 = """
        CREATE INDEX vibration_diagnosis_machine_time_type ON vibration_diagnosis (machine_name, detected_at, fault_type);
        DROP INDEX vibration_diagnosis_machine_time;
        """

    /// Keys for writing through the API: the SHA-256 of each secret, never the secret.
    static let migration0005 = """
        CREATE TABLE api_keys (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
            secret_sha256 TEXT NOT NULL UNIQUE,
            read_only INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        );
        """

    /// The engine's recordings (see `RecordingTracker`): each sensor's open ones, kept with the scan's
    /// progress; and where each open window's rows' collected_at lie (NULL: at the window's instants,
    /// as windows found before this migration were).
    static let recordingsMigration = """
        CREATE TABLE diagnosis_recordings (
            sensor_id INTEGER NOT NULL REFERENCES sensors(id),
            recording_start INTEGER NOT NULL,
            sequence INTEGER NOT NULL,
            spacing REAL,
            covered TEXT NOT NULL,
            first_collected INTEGER NOT NULL,
            last_collected INTEGER NOT NULL,
            last_time REAL NOT NULL,
            PRIMARY KEY (sensor_id, sequence)
        );
        ALTER TABLE diagnosis_open_windows ADD COLUMN collected_from INTEGER;
        ALTER TABLE diagnosis_open_windows ADD COLUMN collected_through INTEGER;

        -- A sensor's machine is in the registry from the sensor's first sample on, in the same
        -- transaction: the engine, scanning while a load goes on, never meets a sample whose
        -- machine it does not know.
        INSERT INTO machines (machine_name) SELECT DISTINCT machine_name FROM sensors WHERE true ON CONFLICT DO NOTHING;
        CREATE TRIGGER sensors_register_machine AFTER INSERT ON sensors
        BEGIN
            INSERT INTO machines (machine_name) VALUES (NEW.machine_name) ON CONFLICT DO NOTHING;
        END;
        """

    /// What the engine learned of each recording (`RecordingExtent`): the measured_time it covers, the
    /// collected_at its rows carry and how far from their instants, so that its rows can be read
    /// back by instant.
    static let extentsMigration = """
        CREATE TABLE recording_extents (
            sensor_id INTEGER NOT NULL REFERENCES sensors(id),
            recording_start INTEGER NOT NULL,
            time_low REAL NOT NULL,
            time_high REAL NOT NULL,
            collected_low INTEGER NOT NULL,
            collected_high INTEGER NOT NULL,
            clock_offset INTEGER NOT NULL,
            PRIMARY KEY (sensor_id, recording_start)
        ) WITHOUT ROWID;

        -- The engine looks at every stored sample once more, so that recordings stored before
        -- extents were kept get theirs (windows diagnosed before are skipped, as on any rescan).
        DELETE FROM diagnosis_progress;
        DELETE FROM diagnosis_open_windows;
        DELETE FROM diagnosis_recordings;
        """
}
