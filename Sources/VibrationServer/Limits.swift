import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTPTypes
import OpenAPIRuntime
import Synchronization

/// A cap on bulk uploads handled at once. Each holds a parser, a batch in memory and turns at the
/// database's single writer; beyond the cap, a client is told to come back (429 with `Retry-After`)
/// rather than queued where it would time out.
final class ImportSlots: Sendable {
    let capacity: Int
    private let inUse = Mutex(0)

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Runs `work` in a slot, or throws 429 when every slot is taken.
    func run<T>(_ work: () async throws -> T) async throws -> T {
        let taken = inUse.withLock { count in
            guard count < capacity else { return false }
            count += 1
            return true
        }
        guard taken else {
            throw Problem(
                status: .tooManyRequests,
                detail: "\(capacity) uploads are being stored already; send this one again after the time in Retry-After.",
                headers: [.retryAfter: "1"])
        }
        defer { inUse.withLock { $0 -= 1 } }
        return try await work()
    }

    var busy: Int { inUse.withLock { $0 } }
}

/// Puts the bulk operations, whatever their format, through the import slots.
struct ImportLimitMiddleware: ServerMiddleware {
    static let operations: Set<String> = ["bulkCreateVibrationData", "bulkCreateDiagnoses"]
    let slots: ImportSlots

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        guard Self.operations.contains(operationID) else { return try await next(request, body, metadata) }
        return try await slots.run { try await next(request, body, metadata) }
    }
}

/// Closes a connection whose request body stops arriving: from the request's head to its end, at
/// most `timeout` may pass without a byte. Between requests, Hummingbird's idle timeout applies.
/// The timer is armed only when a read leaves a request unfinished, so a request that arrives
/// whole (every GET) costs no timer at all.
final class RequestBodyTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    /// A request's head has arrived and its end has not.
    private var inRequest = false
    /// Bytes of the unfinished request arrived since the timer was last armed.
    private var progressed = false

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head, .body:
            inRequest = true
            progressed = true
        case .end:
            inRequest = false
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if inRequest && progressed {
            progressed = false
            deadline?.cancel()
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            deadline = context.eventLoop.scheduleTask(in: timeout) {
                loopBound.value.close(promise: nil)
            }
        }
        context.fireChannelReadComplete()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }
}
