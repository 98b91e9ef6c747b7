import HTTPTypes
import Hummingbird

/// Gives every request an id, in its log lines and in the `X-Request-Id` answer header: the
/// client's own when it sent a reasonable one (up to 128 visible ASCII characters), else the id the
/// server made. A client that logs the header can point at the server's lines for one request.
struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    static var header: HTTPField.Name { .requestID }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var context = context
        if let sent = request.headers[Self.header], Self.isAcceptable(sent) {
            context.logger[metadataKey: "hb.request.id"] = .string(sent)
        }
        let id = context.id
        var response = try await next(request, context)
        response.headers[Self.header] = id
        return response
    }

    static func isAcceptable(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128 && id.utf8.allSatisfy { $0 > 32 && $0 < 127 }
    }
}

extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-Id")!
}
