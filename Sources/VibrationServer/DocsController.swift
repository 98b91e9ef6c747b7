import Foundation
import Hummingbird
import Yams

/// The API's own documentation: the OpenAPI document this server was generated from, and an
/// interactive Swagger UI page that reads it.
struct DocsController {
    /// The spec file of this target, compiled into the binary so that one file is the whole product.
    static let openAPIDocument = ByteBuffer(bytes: PackageResources.openapi_yaml)

    /// The same document as JSON, for clients that read only JSON. Times in examples stay text
    /// (YAML would read an unquoted one as a date, which JSON has no form for).
    static let openAPIJSON: ByteBuffer = {
        let yaml = String(decoding: PackageResources.openapi_yaml, as: UTF8.self)
        guard let document = try? Yams.load(yaml: yaml, Resolver.default.removing(.timestamp)),
            let json = try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
        else { return ByteBuffer(string: "{}") }
        return ByteBuffer(bytes: json)
    }()

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                body: .init(byteBuffer: Self.openAPIDocument))
        }
        router.get("/openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: Self.openAPIJSON))
        }
        router.get("/docs/swagger-init.js") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/javascript; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: Self.swaggerInit)))
        }
        router.get("/docs") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: Self.swaggerPage)))
        }
    }

    /// Swagger UI's start, a file of its own: the pages' Content Security Policy runs no inline script.
    static let swaggerInit = """
        window.ui = SwaggerUIBundle({
          url: "/openapi.yaml",
          dom_id: "#swagger-ui",
          deepLinking: true,
          presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
          layout: "BaseLayout"
        });
        """

    /// Swagger UI from its public CDN, pointed at this server's spec (as FastAPI's /docs does).
    static let swaggerPage = """
        <!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8">
          <meta name="viewport" content="width=device-width, initial-scale=1">
          <title>HIM-MES API · Swagger UI</title>
          <link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
        </head>
        <body>
          <div id="swagger-ui"></div>
          <script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
          <script src="/docs/swagger-init.js"></script>
          <noscript>The interactive documentation needs JavaScript; the spec itself is at
            <a href="/openapi.yaml">/openapi.yaml</a>.</noscript>
        </body>
        </html>
        """
}
