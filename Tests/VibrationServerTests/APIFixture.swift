import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import Testing
import VibrationCore
import VibrationServer
@testable import VibrationStore
@_exported import StoreTestSupport

/// Starts the whole application in-process on a fresh database and hands the test a client.
func withApp(
    backend: Backend = .sqlite, corsOrigins: [String] = [], maximumJSONBytes: Int = 64 << 20, automaticDiagnosis: Bool = false,
    _ body: @Sendable (any TestClientProtocol, any Store) async throws -> Void
) async throws {
    try await withApp(
        backend: backend,
        configure: {
            $0.corsOrigins = corsOrigins
            $0.maximumJSONBytes = maximumJSONBytes
            $0.automaticDiagnosis = automaticDiagnosis
        }, body)
}

/// The same, with the configuration changed first and, when asked, a real socket (`.live`).
func withApp(
    backend: Backend = .sqlite, configure: (inout ServerConfig) -> Void, mode: TestingSetup = .router,
    _ body: @Sendable (any TestClientProtocol, any Store) async throws -> Void
) async throws {
    let store = try await backend.makeStore()
    defer { store.close() }
    var config = ServerConfig(logLevel: .error, automaticDiagnosis: false)
    configure(&config)
    let app = try buildApplication(store: store, config: config)
    try await app.test(mode) { client in try await body(client, store) }
}

extension TestClientProtocol {
    /// Sends a request and returns status, headers and the body parsed as JSON (nil when not JSON).
    @discardableResult
    func call(
        _ method: HTTPRequest.Method, _ uri: String, json: String? = nil, contentType: String = "application/json",
        headers extra: HTTPFields = [:], bytes: ByteBuffer? = nil
    ) async throws -> Reply {
        var headers = extra
        if json != nil || bytes != nil { headers[.contentType] = contentType }
        return try await execute(uri: uri, method: method, headers: headers, body: bytes ?? json.map { ByteBuffer(string: $0) }) {
            response in
            let text = String(buffer: response.body)
            return Reply(
                status: response.status, headers: response.headers, text: text,
                json: try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]))
        }
    }
}

struct Reply: @unchecked Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var text: String
    var json: Any?

    var object: [String: Any] { json as? [String: Any] ?? [:] }
    var items: [[String: Any]] { object["items"] as? [[String: Any]] ?? [] }
    subscript(key: String) -> Any? { object[key] }
    var isProblem: Bool { headers[.contentType] == "application/problem+json" && object["status"] as? Int == Int(status.code) }
    var errorFields: [String] { (object["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String } }
}

func sampleJSON(
    machine: String = "g1", sensor: String = "sensor1", collectedAt: String? = "2025-01-01T00:00:00Z",
    time: Double = 0.001, normal: String = "0.1"
) -> String {
    let at = collectedAt.map { "\"collected_at\": \"\($0)\"," } ?? ""
    return """
        {"machine_name": "\(machine)", "sensor_no": "\(sensor)", \(at) "measured_time": \(time),
         "normal": \(normal), "unbalance": 0.2, "looseness": 0.3, "unbalance_looseness": 0.4}
        """
}

