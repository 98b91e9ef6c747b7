import GRDB
import PostgresNIO
import VibrationCore

/// The conditions of a list, described once from its filter and cursor and written out for each
/// backend: SQLite with `?` placeholders and times as integer microseconds, PostgreSQL with `$n`
/// placeholders and times as timestamptz. Column names come from this module, never from a request.
struct ListPredicate {
    enum Value {
        case text(String)
        case integer(Int64)
        case time(Timestamp)
        case real(Double)
    }

    /// `columns comparison values`: one column, or a row of columns compared as a tuple.
    struct Term {
        var columns: [String]
        var comparison: String
        var values: [Value]
    }

    private(set) var terms: [Term] = []

    mutating func add(_ column: String, _ comparison: String, _ value: Value) {
        terms.append(Term(columns: [column], comparison: comparison, values: [value]))
    }

    mutating func add(_ columns: [String], _ comparison: String, _ values: [Value]) {
        terms.append(Term(columns: columns, comparison: comparison, values: values))
    }

    var isEmpty: Bool { terms.isEmpty }

    /// The terms as SQLite conditions, each column prefixed (`"v."`, or nothing), with their arguments.
    func sqlite(prefix: String = "") -> (conditions: [String], arguments: StatementArguments) {
        var arguments: StatementArguments = []
        let conditions = terms.map { term -> String in
            for value in term.values {
                switch value {
                case .text(let text): arguments += [text]
                case .integer(let number): arguments += [number]
                case .time(let time): arguments += [time.microseconds]
                case .real(let number): arguments += [number]
                }
            }
            return Self.render(term, prefix: prefix) { _ in "?" }
        }
        return (conditions, arguments)
    }

    /// The terms as PostgreSQL conditions, each column prefixed, their values added to `binds`.
    func postgres(prefix: String = "", binds: inout PostgresBindings) -> [String] {
        terms.map { term in
            Self.render(term, prefix: prefix) { value in
                switch value {
                case .text(let text): binds.placeholder(text)
                case .integer(let number): binds.placeholder(number)
                case .time(let time): binds.placeholder(time)
                case .real(let number): binds.placeholder(number)
                }
            }
        }
    }

    private static func render(_ term: Term, prefix: String, placeholder: (Value) -> String) -> String {
        let columns = term.columns.map { prefix + $0 }
        let values = term.values.map(placeholder)
        return columns.count == 1
            ? "\(columns[0]) \(term.comparison) \(values[0])"
            : "(\(columns.joined(separator: ", "))) \(term.comparison) (\(values.joined(separator: ", ")))"
    }

    /// `WHERE a AND b …`, or nothing.
    static func whereClause(_ conditions: [String]) -> String {
        conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
    }
}

extension DiagnosisFilter {
    /// The diagnoses a page of this filter holds, after the cursor.
    func predicate(after cursor: DiagnosisCursor?) -> ListPredicate {
        var predicate = ListPredicate()
        if let machineName { predicate.add("machine_name", "=", .text(machineName)) }
        if let faultType { predicate.add("fault_type", "=", .integer(Int64(faultType.rawValue))) }
        if let from { predicate.add("detected_at", ">=", .time(from)) }
        if let to { predicate.add("detected_at", "<=", .time(to)) }
        if let cursor { predicate.add(["detected_at", "id"], order.sql.after, [.time(cursor.detectedAt), .integer(cursor.id)]) }
        return predicate
    }
}

extension SampleFilter {
    /// Which sensors the filter takes (columns of `sensors`).
    var sensorPredicate: ListPredicate {
        var predicate = ListPredicate()
        if let machineName { predicate.add("machine_name", "=", .text(machineName)) }
        if let sensorNo { predicate.add("sensor_no", "=", .text(sensorNo)) }
        return predicate
    }

    /// Which of a sensor's rows the filter takes (columns of the samples; the cursor is each
    /// backend's, as they page differently).
    var timePredicate: ListPredicate {
        var predicate = ListPredicate()
        if let from { predicate.add("collected_at", ">=", .time(from)) }
        if let to { predicate.add("collected_at", "<=", .time(to)) }
        return predicate
    }
}
