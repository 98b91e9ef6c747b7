import Hummingbird

/// Cross-origin access for browser clients.
///
/// With no origins configured, any origin may read (GET, HEAD) and none may write: a page on
/// another site can show the plant's data but cannot change it. Named origins may read and write;
/// `*` lets every origin do both. Hummingbird's CORSMiddleware has one method list for every
/// origin, so it cannot express "anyone reads, these write".
struct CORSPolicyMiddleware<Context: RequestContext>: RouterMiddleware {
    let origins: Set<String>
    let anyOriginWrites: Bool

    static var readMethods: [HTTPRequest.Method] { [.get, .head, .options] }
    static var allMethods: [HTTPRequest.Method] { [.get, .head, .post, .put, .delete, .options] }
    static var allowedHeaders: String { "Accept, Authorization, Content-Type, Content-Encoding, X-Request-Id" }

    init(origins: [String]) {
        self.origins = Set(origins.filter { $0 != "*" })
        self.anyOriginWrites = origins.contains("*")
    }

    /// The Access-Control-Allow-Origin value and methods for this origin.
    func policy(for origin: String) -> (allowOrigin: String, methods: [HTTPRequest.Method]) {
        if anyOriginWrites { return ("*", Self.allMethods) }
        if origins.contains(origin) { return (origin, Self.allMethods) }
        return ("*", Self.readMethods)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard let origin = request.headers[.origin] else { return try await next(request, context) }
        let (allowOrigin, methods) = policy(for: origin)
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            var headers: HTTPFields = [
                .accessControlAllowOrigin: allowOrigin,
                .accessControlAllowMethods: methods.map(\.rawValue).joined(separator: ", "),
                .accessControlAllowHeaders: Self.allowedHeaders,
                .accessControlMaxAge: "600",
            ]
            if !origins.isEmpty { headers[.vary] = "Origin" }
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        // A write from an origin that may not write still runs only if the browser skipped the
        // preflight (a "simple" request); withholding the header keeps the page from reading the answer.
        if methods.contains(request.method) {
            response.headers[.accessControlAllowOrigin] = allowOrigin
            response.headers[.accessControlExposeHeaders] = "Location, X-Request-Id, Server-Timing"
        }
        if !origins.isEmpty { response.headers[values: .vary].append("Origin") }
        return response
    }
}
