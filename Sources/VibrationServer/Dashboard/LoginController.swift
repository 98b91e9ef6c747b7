import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import VibrationStore

/// The sign-in page of a server started with `--require-auth-for-reads`: the browser hands over an
/// API key once and gets a session (see `SessionToken`) in an HttpOnly, SameSite=Strict cookie,
/// which opens reads only; `Secure` when the request came through a TLS proxy the operator named.
struct LoginController<S: KeyStore> {
    let store: S
    let tlsProxies: [NetworkRange]
    let render: @Sendable (_ template: String, _ context: [String: Any]) -> Response

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/login") { request, _ in
            form(request, next: LoginForm.localPath(request.uri.queryParameters["next"].map(String.init)), error: false, status: .ok)
        }
        router.post("/login") { request, context in try await signIn(request, remote: context.remoteAddress) }
    }

    func form(_ request: Request, next: String, error: Bool, status: HTTPResponse.Status) -> Response {
        let text = DashboardText.for(request)
        var context: [String: Any] = ["lang": text.lang, "text": text.strings, "nav": [String: Bool](), "next": next]
        if error { context["error"] = text.strings["badKey"] }
        var response = render("login", context)
        response.status = status
        return response
    }

    func signIn(_ request: Request, remote: SocketAddress?) async throws -> Response {
        let body = try await request.body.collect(upTo: 16 << 10)
        let fields = LoginForm.formFields(String(buffer: body))
        let next = LoginForm.localPath(fields["next"])
        guard let secret = fields["key"]?.trimmingCharacters(in: .whitespaces), !secret.isEmpty,
            let key = try await store.authenticate(secret: secret),
            let active = try await store.activeKey(id: key.id)
        else { return form(request, next: next, error: true, status: .unauthorized) }
        let session = SessionToken.make(keyID: key.id, secretDigest: active.secretDigest, now: .now)
        let overTLS =
            tlsProxies.contains { $0.contains(remote) } && request.headers[.xForwardedProto]?.lowercased() == "https"
        var response = Response.redirect(to: next, type: .normal)
        response.setCookie(
            Cookie(
                name: ReadPolicy.cookieName, value: session, maxAge: Int(SessionToken.lifetimeSeconds), path: "/",
                secure: overTLS, httpOnly: true, sameSite: .strict))
        return response
    }
}

/// The sign-in form's fields and where it leads back to.
enum LoginForm {
    /// Only a path on this server: never another site (an open redirect). Browsers drop tabs and
    /// line breaks from a URL and read `\` as `/`, so `/\t/host` and `/\host` lead to another host:
    /// a target must be printable ASCII without `\`, and must not start with `//`.
    static func localPath(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"),
            next.utf8.allSatisfy({ (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "\\") })
        else { return "/" }
        return next
    }

    /// `application/x-www-form-urlencoded` fields.
    static func formFields(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            if let name = parts.first { fields[name] = parts.count > 1 ? parts[1] : "" }
        }
        return fields
    }

    static func percentEncoded(_ text: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? "/"
    }
}

extension HTTPField.Name {
    static let xForwardedProto = HTTPField.Name("X-Forwarded-Proto")!
}
