import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import VibrationCore

@testable import VibrationServer

@Suite("Alarm webhook")
struct AlarmWebhookTests {
    @Test("an alarm is posted as JSON and retried until the receiver accepts it")
    func retries() async throws {
        let received = Mutex<[String]>([])
        let router = Router()
        router.post("/hook") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 16)
            let count = received.withLock {
                $0.append(String(buffer: body))
                return $0.count
            }
            return count == 1 ? .internalServerError : .noContent
        }
        let receiver = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await receiver.test(.live) { client in
            let port = try #require(client.port)
            let hook = AlarmWebhook(url: "http://127.0.0.1:\(port)/hook", attempts: 3, logger: Logger(label: "test"))
            let alarm = Alarm(
                id: 7, machineName: "pump-1", faultType: .supportLooseness, severityZone: .c, message: "support looseness confirmed",
                openedAt: Timestamp(parsing: "2025-01-01T00:00:00Z")!)
            await hook.deliver([alarm])
        }
        let bodies = received.withLock { $0 }
        #expect(bodies.count == 2)
        let object = try JSONSerialization.jsonObject(with: Data(bodies[1].utf8)) as? [String: Any]
        #expect(object?["machine_name"] as? String == "pump-1")
        #expect(object?["fault_type"] as? Int == 2)
        #expect(object?["severity_zone"] as? String == "C")
        #expect(object?["opened_at"] as? String == "2025-01-01T00:00:00Z")
    }

    @Test("as a service it posts what it was handed, in order, and still posts it when the server shuts down", .timeLimit(.minutes(10)))
    func serviceDrainsAtShutdown() async throws {
        let received = Mutex<[Int]>([])
        let router = Router()
        router.post("/hook") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 16)
            let object = try JSONSerialization.jsonObject(with: Data(String(buffer: body).utf8)) as? [String: Any]
            received.withLock { $0.append(object?["id"] as? Int ?? -1) }
            return .noContent
        }
        let receiver = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await receiver.test(.live) { client in
            let port = try #require(client.port)
            let hook = AlarmWebhook(url: "http://127.0.0.1:\(port)/hook", attempts: 3, logger: Logger(label: "test"))
            let group = ServiceGroup(services: [hook], logger: Logger(label: "test"))
            async let running: Void = group.run()
            for id in 1...5 {
                hook.enqueue([
                    Alarm(
                        id: Int64(id), machineName: "pump-1", faultType: .massUnbalance, severityZone: .c, message: "mass unbalance confirmed",
                        openedAt: Timestamp(parsing: "2025-01-01T00:00:00Z")!)
                ])
            }
            // Shut down at once: the five handed over are posted before the service ends.
            await group.triggerGracefulShutdown()
            try await running
        }
        #expect(received.withLock { $0 } == [1, 2, 3, 4, 5])
    }
}
