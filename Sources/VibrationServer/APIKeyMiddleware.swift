import HTTPTypes
import Hummingbird
import NIOCore
import VibrationCore
import VibrationStore

/// Who may write. Reads are open. Once any key exists, every write needs `Authorization: Bearer KEY`
/// with a key that is neither revoked nor read-only. Before the first key is made, writes are taken
/// from this machine only (the loopback interface, or in-process), so that a first local run needs no
/// set-up and a server reachable from the network is not open to it.
enum WritePolicy {
    enum Decision: Equatable {
        case allow
        /// 401: no key, or one that is unknown or revoked.
        case unauthenticated(String)
        /// 403: a read-only key.
        case forbidden(String)
    }

    static let writeMethods: Set<HTTPRequest.Method> = [.post, .put, .patch, .delete]

    static func decide(
        method: HTTPRequest.Method, remote: SocketAddress?, presented: Bool, key: APIKey?, keysExist: Bool
    ) -> Decision {
        guard writeMethods.contains(method) else { return .allow }
        if presented {
            guard let key else { return .unauthenticated("The API key is unknown or revoked.") }
            return key.readOnly ? .forbidden("The API key '\(key.name)' is read-only.") : .allow
        }
        if keysExist { return .unauthenticated("Writes need 'Authorization: Bearer KEY'.") }
        if isLocal(remote) { return .allow }
        return .unauthenticated(
            "No API key exists yet, so writes are taken from this machine only: create one with 'himmes keys create --name NAME' and send it as 'Authorization: Bearer KEY'."
        )
    }

    /// The loopback interface, or no socket at all (in-process).
    static func isLocal(_ address: SocketAddress?) -> Bool {
        guard let address else { return true }
        switch address {
        case .v4(let v4): return v4.address.sin_addr.s_addr.bigEndian >> 24 == 127
        case .v6: return address.ipAddress == "::1" || address.ipAddress?.hasPrefix("::ffff:127.") == true
        case .unixDomainSocket: return true
        }
    }
}

struct APIKeyMiddleware<S: Store>: RouterMiddleware {
    typealias Context = AppRequestContext
    let store: S

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard WritePolicy.writeMethods.contains(request.method) else { return try await next(request, context) }
        var context = context
        let header = request.headers[.authorization]
        let secret = header.flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces) : nil }
        let key = try await secret.asyncMap { try await store.authenticate(secret: $0) } ?? nil
        let keysExist = header == nil ? try await store.hasActiveKeys() : true
        switch WritePolicy.decide(method: request.method, remote: context.remoteAddress, presented: header != nil, key: key, keysExist: keysExist) {
        case .allow:
            context.apiKey = key
            return try await next(request, context)
        case .unauthenticated(let detail):
            throw HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer"], message: detail)
        case .forbidden(let detail):
            throw Problem(status: .forbidden, detail: detail)
        }
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
