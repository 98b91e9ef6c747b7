import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import VibrationCore

/// Posts each opened alarm as JSON to a URL, retrying with backoff when the receiver fails. As a
/// service it posts what `enqueue` hands it, in order; at a graceful shutdown it still posts the
/// alarms handed to it before, then stops.
public struct AlarmWebhook: Service {
    public let url: String
    public let attempts: Int
    let logger: Logger
    private let queue = AsyncStream.makeStream(of: [Alarm].self)

    public init(url: String, attempts: Int = 4, logger: Logger) {
        self.url = url
        self.attempts = max(1, attempts)
        self.logger = logger
    }

    /// Hands alarms to the service to post; returns at once.
    public func enqueue(_ alarms: [Alarm]) {
        queue.continuation.yield(alarms)
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            for await alarms in queue.stream { await deliver(alarms) }
        } onGracefulShutdown: {
            queue.continuation.finish()
        }
    }

    /// The receiver as logs name it: scheme, host and port. A webhook's path and query often hold
    /// its secret token (chat services put one there), so they stay out of logs.
    var receiver: String {
        guard let parts = URLComponents(string: url), let host = parts.host else { return "(unparsable URL)" }
        return "\(parts.scheme ?? "http")://\(host)" + (parts.port.map { ":\($0)" } ?? "")
    }

    /// The alarm as the webhook receives it.
    static func payload(_ alarm: Alarm) -> [UInt8] {
        var object: [String: Any] = [
            "event": "alarm.opened", "id": alarm.id, "machine_name": alarm.machineName,
            "fault_type": alarm.faultType.rawValue, "fault_name": alarm.faultType.name, "message": alarm.message,
            "opened_at": alarm.openedAt.rfc3339,
        ]
        object["severity_zone"] = alarm.severityZone?.rawValue ?? NSNull()
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return Array(data)
    }

    /// Delivers every alarm; a 2xx answer counts as delivered. Waits 0.5 s, 1 s, 2 s... between tries.
    public func deliver(_ alarms: [Alarm]) async {
        for alarm in alarms {
            var delay = Duration.milliseconds(500)
            for attempt in 1...attempts {
                do {
                    var request = HTTPClientRequest(url: url)
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(ByteBuffer(bytes: Self.payload(alarm)))
                    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                    _ = try? await response.body.collect(upTo: 64 * 1024)
                    if (200..<300).contains(Int(response.status.code)) { break }
                    throw WebhookRefused(status: Int(response.status.code))
                } catch {
                    if attempt == attempts {
                        logger.error("alarm webhook failed", metadata: ["alarm": "\(alarm.id)", "receiver": .string(receiver), "error": "\(error)"])
                    } else {
                        try? await Task.sleep(for: delay)
                        delay *= 2
                    }
                }
            }
        }
    }

    struct WebhookRefused: Error, CustomStringConvertible {
        var status: Int
        var description: String { "the receiver answered \(status)" }
    }
}
