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

/// How long a client may take to send a request: the deadlines `ConnectionDeadlineHandler` keeps.
public struct RequestDeadlines: Sendable {
    /// From a request's first byte to the end of its head. Overall: bytes trickling in do not extend it.
    public var head: Duration = .seconds(20)
    /// The most a body may go without a byte.
    public var bodyStall: Duration = .seconds(60)
    /// After `bodyGrace`, a body must have arrived at this average rate in bytes a second: one that
    /// trickles in keeps neither a connection nor an import slot.
    public var minimumBodyRate = 1024
    public var bodyGrace: Duration = .seconds(10)

    public init() {}
}

/// Keeps the request deadlines of one connection: a request's head must arrive whole within
/// `head` of its first byte, and its body must keep `minimumBodyRate` on average after
/// `bodyGrace` and never stall for `bodyStall`; otherwise the connection is closed. Waiting between
/// requests is Hummingbird's idle timeout's, and writing a response (a live event stream) is not
/// limited. One timer at most is armed, and only while a request is arriving.
final class ConnectionDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum Phase {
        /// No request in progress.
        case idle
        /// The first bytes of a request have arrived, its head has not.
        case head(started: NIODeadline)
        case body(started: NIODeadline, received: Int, lastByte: NIODeadline)
        /// The request arrived whole; its response is being made or written.
        case responding
    }

    let limits: RequestDeadlines
    private var phase = Phase.idle
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(limits: RequestDeadlines) {
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // The HTTP decoder hands nothing on before a head is complete: the raw bytes are watched
        // in front of it, so that a head trickling in is seen from its first byte.
        let watcher = ByteWatcher { [weak self] in self?.bytesArrived() }
        try? context.pipeline.syncOperations.addHandler(watcher, position: .first)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    /// Raw bytes came in, before the HTTP decoder.
    private func bytesArrived() {
        if case .idle = phase {
            phase = .head(started: .now())
            arm()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = NIODeadline.now()
        switch unwrapInboundIn(data) {
        case .head:
            let started: NIODeadline
            if case .head(let first) = phase { started = first } else { started = now }
            phase = .body(started: started, received: 0, lastByte: now)
            arm()
        case .body(let bytes):
            if case .body(let started, let received, _) = phase {
                phase = .body(started: started, received: received + bytes.readableBytes, lastByte: now)
            }
        case .end:
            phase = .responding
            timer?.cancel()
            timer = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), case .responding = phase {
            phase = .idle
        }
        context.write(data, promise: promise)
    }

    /// The time by which the request must have made its next step, or nil when none is due.
    private func deadline() -> NIODeadline? {
        switch phase {
        case .idle, .responding:
            return nil
        case .head(let started):
            return started + TimeAmount(limits.head)
        case .body(let started, let received, let lastByte):
            let rate = Int64(max(1, limits.minimumBodyRate))
            let earned = TimeAmount.nanoseconds(Int64(received) / rate * 1_000_000_000 + Int64(received) % rate * 1_000_000_000 / rate)
            return min(started + TimeAmount(limits.bodyGrace) + earned, lastByte + TimeAmount(limits.bodyStall))
        }
    }

    private func arm() {
        guard let context, let due = deadline() else { return }
        timer?.cancel()
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: due) { loopBound.value.expired() }
    }

    private func expired() {
        timer = nil
        guard let context, let due = deadline() else { return }
        if due <= .now() {
            context.close(promise: nil)
        } else {
            arm()
        }
    }
}

/// Tells of every read of raw bytes, then passes them on untouched.
private final class ByteWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    let arrived: () -> Void

    init(arrived: @escaping () -> Void) {
        self.arrived = arrived
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        arrived()
        context.fireChannelRead(data)
    }
}
