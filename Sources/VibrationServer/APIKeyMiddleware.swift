import HTTPTypes
import Hummingbird
import NIOCore
import VibrationCore
import VibrationStore

/// Who may write. Reads are open. Once any key has been made (revoked or not), every write needs
/// `Authorization: Bearer KEY` with a key that is neither revoked nor read-only. Before the first key is made, writes are taken
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
        method: HTTPRequest.Method, remote: SocketAddress?, presented: Bool, key: APIKey?, keysExist: Bool,
        trusted: [NetworkRange] = []
    ) -> Decision {
        guard writeMethods.contains(method) else { return .allow }
        if presented {
            guard let key else { return .unauthenticated("The API key is unknown or revoked.") }
            return key.readOnly ? .forbidden("The API key '\(key.name)' is read-only.") : .allow
        }
        // Networks the operator trusts (a plant's uploaders that cannot be given keys) write without one.
        if trusted.contains(where: { $0.contains(remote) }) { return .allow }
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

/// Who may read. Open unless the server was started with `--require-auth-for-reads`; then every read
/// needs a key (read-only is enough), sent as `Authorization: Bearer KEY` or, from a browser that
/// signed in at `/login`, as the session in the `himmes_session` cookie. Probes, the sign-in page, its assets and the API's
/// documentation stay open.
enum ReadPolicy {
    /// Holds a session (`SessionToken`), never a key's secret.
    static let cookieName = "himmes_session"

    static func isPublic(_ path: String) -> Bool {
        ["/health", "/ready", "/login", "/openapi.yaml", "/openapi.json", "/docs", "/docs/swagger-init.js"].contains(path) || path.hasPrefix("/assets/")
    }
}

struct APIKeyMiddleware<S: KeyStore>: RouterMiddleware {
    typealias Context = AppRequestContext
    let store: S
    var requireAuthForReads = false
    /// Networks whose writes need no key while none is presented (`--trust-network`).
    var trustedNetworks: [NetworkRange] = []

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // The sign-in form checks the key it is given itself.
        if request.uri.path == "/login" { return try await next(request, context) }
        guard WritePolicy.writeMethods.contains(request.method) else { return try await read(request, context: context, next: next) }
        var context = context
        let header = request.headers[.authorization]
        let key = try await Self.bearer(header).asyncMap { try await store.authenticate(secret: $0) } ?? nil
        let keysExist = header == nil ? try await store.hasKeys() : true
        switch WritePolicy.decide(
            method: request.method, remote: context.remoteAddress, presented: header != nil, key: key, keysExist: keysExist,
            trusted: trustedNetworks)
        {
        case .allow:
            context.apiKey = key
            return try await next(request, context)
        case .unauthenticated(let detail):
            throw HTTPError(.unauthorized, headers: [.wwwAuthenticate: "Bearer"], message: detail)
        case .forbidden(let detail):
            throw Problem(status: .forbidden, detail: detail)
        }
    }

    private func read(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard requireAuthForReads, !ReadPolicy.isPublic(request.uri.path) else { return try await next(request, context) }
        // The cookie only ever opens reads: a page on another site cannot make the browser write with it.
        let bearer = Self.bearer(request.headers[.authorization])
        let session = request.cookies[ReadPolicy.cookieName]?.value
        let key: APIKey?
        if let bearer {
            key = try await store.authenticate(secret: bearer)
        } else if let session {
            key = try await Self.sessionKey(session, store: store)
        } else {
            key = nil
        }
        if let key {
            var context = context
            context.apiKey = key
            return try await next(request, context)
        }
        let secret = bearer ?? session
        if request.method == .get, request.headers[.accept]?.contains("text/html") == true {
            return .redirect(to: "/login?next=" + LoginForm.percentEncoded(request.uri.description), type: .normal)
        }
        throw HTTPError(
            .unauthorized, headers: [.wwwAuthenticate: "Bearer"],
            message: secret == nil
                ? "This server requires an API key for reads too: send 'Authorization: Bearer KEY' (a read-only key is enough)."
                : "The API key is unknown or revoked.")
    }

    /// The key a session cookie was signed for, when the cookie is sound and the key still active.
    static func sessionKey(_ cookie: String, store: S) async throws -> APIKey? {
        guard let token = SessionToken.parse(cookie, now: .now), let active = try await store.activeKey(id: token.keyID),
            SessionToken.isSigned(token, secretDigest: active.secretDigest)
        else { return nil }
        return active.key
    }

    static func bearer(_ header: String?) -> String? {
        guard let header, header.hasPrefix("Bearer ") else { return nil }
        return String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
