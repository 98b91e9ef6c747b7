import Hummingbird
import NIOCore
import VibrationCore

/// Reads a JSON request body whole, up to a size limit (413 beyond it), before the handler decodes it.
///
/// Having the bytes also settles what the decoder cannot say: Foundation reports "not valid JSON"
/// both for broken syntax and for a well-formed value that does not fit its field (1.5 where an
/// integer belongs). Only the first is a malformed request (400); the second is a 422.
struct JSONBodyMiddleware<Context: RequestContext>: RouterMiddleware {
    let maximumBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard request.method == .post || request.method == .put,
            request.headers[.contentType].map({ $0.lowercased().hasPrefix("application/json") }) ?? true
        else { return try await next(request, context) }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maximumBytes)
        } catch is NIOTooManyBytesError {
            throw Problem(
                status: .contentTooLarge,
                detail: "The JSON body is larger than \(maximumBytes) bytes; send CSV or NDJSON to upload more.")
        }
        request.body = RequestBody(buffer: buffer)
        do {
            return try await next(request, context)
        } catch {
            let problem = Problem(from: error)
            guard problem.status == .badRequest, problem.detail == Problem.malformedJSON, buffer.readableBytes > 0,
                JSONSyntax.isWellFormed(buffer.readableBytesView)
            else { throw error }
            throw Problem(
                status: .unprocessableContent, title: "Invalid request",
                detail: "A value does not fit its field: a fraction where a whole number belongs, or a number too large to be finite.")
        }
    }
}
