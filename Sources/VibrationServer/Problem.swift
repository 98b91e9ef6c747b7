import Foundation
import Hummingbird
import Logging
import NIOHTTP1
import OpenAPIRuntime
import VibrationCore
import VibrationStore

/// An error as the client sees it: RFC 9457 problem details. Every error the server can meet is
/// turned into one of these by `Problem.init(from:)`, the one place that decides statuses.
struct Problem: Error, Sendable, Equatable {
    var status: HTTPResponse.Status
    var title: String
    var detail: String?
    var errors: [FieldViolation] = []
    /// A refused bulk upload carries its report as extension members (RFC 9457, section 3.2).
    var report: IngestReport?
    /// Headers the answer needs besides the body: `Retry-After`, `WWW-Authenticate`.
    var headers: HTTPFields = [:]

    init(
        status: HTTPResponse.Status, title: String? = nil, detail: String? = nil, errors: [FieldViolation] = [],
        report: IngestReport? = nil, headers: HTTPFields = [:]
    ) {
        self.headers = headers
        self.status = status
        self.title = title ?? status.reasonPhrase
        self.detail = detail
        self.errors = errors
        self.report = report
    }

    /// Whether the server is at fault; only then is the error logged as one.
    var isServerFault: Bool { status.code >= 500 && status != .serviceUnavailable }

    static let malformedJSON = "The request body is not valid JSON."

    init(from error: any Error) {
        switch error {
        case let problem as Problem:
            self = problem
        case let invalid as ValidationError:
            self.init(
                status: .unprocessableContent, title: "Invalid request", detail: invalid.description,
                errors: invalid.violations)
        case let stored as StoreError:
            switch stored {
            case .duplicateSample, .keyNameTaken:
                self.init(status: .conflict, title: "Already stored", detail: stored.description)
            }
        case let decoding as DecodingError:
            self.init(decoding: decoding)
        case let server as ServerError:
            if let missing = Self.missingQueryParameters(server), !missing.isEmpty {
                self.init(
                    status: .unprocessableContent, title: "Invalid request",
                    detail: missing.map { "\($0): is required" }.joined(separator: "; "),
                    errors: missing.map { FieldViolation(field: $0, message: "is required") })
                return
            }
            let underlying = Problem(from: server.underlyingError)
            if underlying.status != .internalServerError {
                self = underlying
            } else if server.httpStatus != .internalServerError {
                // Raised by the generated code before any handler ran: content type, missing parameter.
                self.init(status: server.httpStatus, detail: server.causeDescription)
            } else {
                self = underlying
            }
        case let parse as HTTPParserError:
            // The client broke off or sent what is not HTTP: its fault, and usually it is gone.
            self.init(status: .badRequest, title: "Malformed request", detail: "The request could not be read: \(parse).")
        case let http as HTTPError:
            self.init(status: http.status, detail: http.body)
            headers = http.headers
        default:
            self.init(status: .internalServerError, detail: "The server failed to handle the request.")
        }
    }

    /// The query parameters each operation requires, as the API document has them (a test holds
    /// the two together): the generated code reports a missing one as a value not found, without
    /// its name.
    static let requiredQueryParameters: [String: [String]] = [
        "getWaveform": ["sensor_no", "from", "to"],
        "getSpectrum": ["sensor_no", "at"],
    ]

    /// The required query parameters the request left out, when that is what the generated code
    /// failed on; nil otherwise.
    private static func missingQueryParameters(_ error: ServerError) -> [String]? {
        guard case .valueNotFound(_, let context)? = error.underlyingError as? DecodingError, context.codingPath.isEmpty,
            let required = requiredQueryParameters[error.operationID]
        else { return nil }
        guard let query = URLComponents(string: error.request.path ?? "") else { return nil }
        let present = Set((query.queryItems ?? []).map(\.name))
        return required.filter { !present.contains($0) }
    }

    private init(decoding error: DecodingError) {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: "/")
        }
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            self.init(status: .badRequest, title: "Malformed request", detail: Self.malformedJSON)
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            let message = (context.underlyingError as? InvalidTimestamp)?.description ?? context.debugDescription
            self.init(
                status: .unprocessableContent, title: "Invalid request", detail: "\(field): \(message)",
                errors: [FieldViolation(field: field, message: message)])
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key])
            self.init(
                status: .unprocessableContent, title: "Invalid request", detail: "\(field): is required",
                errors: [FieldViolation(field: field, message: "is required")])
        case .valueNotFound(let type, let context):
            let field = path(context.codingPath)
            let message = "must be \(Self.jsonKind(type)), got null"
            self.init(
                status: .unprocessableContent, title: "Invalid request", detail: "\(field): \(message)",
                errors: [FieldViolation(field: field, message: message)])
        case .typeMismatch(let type, let context):
            // An empty path is a path or query parameter: the runtime decodes each one on its own.
            let field = context.codingPath.isEmpty ? "parameters" : path(context.codingPath)
            let message =
                context.codingPath.isEmpty
                ? "a path or query parameter must be \(Self.jsonKind(type)) in range" : "must be \(Self.jsonKind(type))"
            self.init(
                status: .unprocessableContent, title: "Invalid request", detail: "\(field): \(message)",
                errors: [FieldViolation(field: field, message: message)])
        @unknown default:
            self.init(status: .badRequest, title: "Malformed request", detail: "\(error)")
        }
    }

    private static func jsonKind(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Double.Type, is Float.Type: "a number"
        case is Int.Type, is Int64.Type, is Int32.Type: "an integer"
        case is Bool.Type: "true or false"
        default: "of type \(type)"
        }
    }

    struct Body: Encodable {
        var problem: Problem

        enum Key: String, CodingKey {
            case type, title, status, detail, errors
            case received, inserted, duplicates, rejected
            case elapsed = "elapsed_s"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode("about:blank", forKey: .type)
            try c.encode(problem.title, forKey: .title)
            try c.encode(Int(problem.status.code), forKey: .status)
            try c.encodeIfPresent(problem.detail, forKey: .detail)
            if let report = problem.report {
                try c.encode(report.received, forKey: .received)
                try c.encode(report.inserted, forKey: .inserted)
                try c.encode(report.duplicates, forKey: .duplicates)
                try c.encode(report.rejected, forKey: .rejected)
                try c.encode(report.errors, forKey: .errors)
                try c.encode(report.elapsedSeconds, forKey: .elapsed)
            } else if !problem.errors.isEmpty {
                try c.encode(problem.errors.map { ["field": $0.field, "message": $0.message] }, forKey: .errors)
            }
        }
    }

    var body: Body { Body(problem: self) }

    func response() -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(body)) ?? Data()
        var headers = headers
        headers[.contentType] = "application/problem+json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension Problem {
    /// What a log line may say of an error. The generated code's `ServerError` describes the whole
    /// request, its `Authorization` header and its body included: only the operation and the
    /// underlying error are kept of it.
    static func loggable(_ error: any Error) -> String {
        if let server = error as? ServerError { return "\(server.operationID): \(loggable(server.underlyingError))" }
        return "\(error)"
    }
}

/// Turns whatever a route throws into a problem+json response, and logs what the server got wrong.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            var problem = Problem(from: error)
            if problem.status == .notFound, problem.detail == nil {
                problem.detail = "Nothing is served at \(request.method) \(request.uri.path)."
            }
            if problem.isServerFault {
                context.logger.error(
                    "request failed",
                    metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(Problem.loggable(error))"])
            }
            return problem.response()
        }
    }
}
