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
        return migrator
    }

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
            INSERT INTO sensors (machine_name, sensor_no) VALUES (NEW.machine_name, NEW.sensor_no)
                ON CONFLICT DO NOTHING;
            INSERT INTO vibration_samples
                (id, sensor_id, collected_at, measured_time, normal, unbalance, looseness, unbalance_looseness)
            VALUES (
                NEW.id,
                (SELECT id FROM sensors WHERE machine_name = NEW.machine_name AND sensor_no = NEW.sensor_no),
                coalesce(NEW.collected_at, CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)),
                NEW.measured_time, NEW.normal, NEW.unbalance, NEW.looseness, NEW.unbalance_looseness);
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
}
