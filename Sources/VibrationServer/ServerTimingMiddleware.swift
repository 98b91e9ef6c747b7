import HTTPTypes
import Hummingbird

/// Says how long the server took to produce each answer, in the standard `Server-Timing` header
/// (`app;dur=` milliseconds, to the start of the body): browsers show it in their developer tools,
/// and `himmes bench` reads it to separate server time from the network round trip.
struct ServerTimingMiddleware<Context: RequestContext>: RouterMiddleware {
    static var header: HTTPField.Name { HTTPField.Name("Server-Timing")! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let clock = ContinuousClock()
        let started = clock.now
        var response = try await next(request, context)
        let elapsed = clock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15
        response.headers[Self.header] = "app;dur=" + String(format: "%.3f", milliseconds)
        return response
    }
}
