import HTTPTypes
import Hummingbird

/// Says how long the server took to produce each answer, in the standard `Server-Timing` header
/// (`app;dur=` milliseconds, to the start of the body): browsers show it in their developer tools,
/// and `himmes-bench` reads it to separate server time from the network round trip.
struct ServerTimingMiddleware<Context: RequestContext>: RouterMiddleware {
    static var header: HTTPField.Name { .serverTiming }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let clock = ContinuousClock()
        let started = clock.now
        var response = try await next(request, context)
        let elapsed = clock.now - started
        // Microseconds, written as milliseconds with three decimals.
        let micros = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        let fraction = String(micros % 1000)
        response.headers[Self.header] =
            "app;dur=\(micros / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
        return response
    }
}

extension HTTPField.Name {
    static let serverTiming = HTTPField.Name("Server-Timing")!
}
