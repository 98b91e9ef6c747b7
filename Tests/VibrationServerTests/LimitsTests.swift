import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import StoreTestSupport
import Testing
import VibrationCore

#if canImport(Glibc)
    import Glibc
#endif

@testable import VibrationServer
@testable import VibrationStore

@Suite("Limits")
struct LimitsTests {
    static func csv(rows: Int, from first: Int = 0) -> String {
        "machine_name,sensor_no,collected_at,measured_time,normal,unbalance,looseness,unbalance_looseness\n"
            + (first..<first + rows).map { "m1,s1,2025-01-01T00:00:00Z,\(Double($0) / 1000),0.1,0.2,0.3,0.4\n" }.joined()
    }

    @Test("a JSON array with more rows than allowed is refused whole with 413; CSV streams without that limit")
    func jsonRows() async throws {
        try await withApp(configure: { $0.maximumJSONRows = 3 }) { client, store in
            let four = "[" + (1...4).map { sampleJSON(time: Double($0)) }.joined(separator: ",") + "]"
            let refused = try await client.call(.post, "/vibration-data/bulk", json: four)
            #expect(refused.status == .contentTooLarge && refused.isProblem)
            #expect((refused["detail"] as? String)?.contains("holds 4 rows; at most 3") == true)
            #expect(try await store.sampleCount() == 0)
            let three = "[" + (1...3).map { sampleJSON(time: Double($0)) }.joined(separator: ",") + "]"
            #expect(try await client.call(.post, "/vibration-data/bulk", json: three)["inserted"] as? Int == 3)
            let diagnoses = "[" + (1...4).map { _ in #"{"machine_name": "m1", "fault_type": 1}"# }.joined(separator: ",") + "]"
            #expect(try await client.call(.post, "/vibration-diagnosis/bulk", json: diagnoses).status == .contentTooLarge)
            #expect(try await store.diagnosisCount() == 0)
            let streamed = try await client.call(.post, "/vibration-data/bulk", json: Self.csv(rows: 10), contentType: "text/csv")
            #expect(streamed["inserted"] as? Int == 10)
        }
    }

    @Test("beyond the cap on uploads at once, a client gets 429 with Retry-After, and the slot frees when the upload ends")
    func concurrentImports() async throws {
        // The first upload holds its slot with a body that stops: no deadline may cut it meanwhile.
        try await withApp(
            configure: {
                $0.maximumConcurrentImports = 1
                $0.deadlines.bodyGrace = .seconds(600)
                $0.deadlines.bodyStall = .seconds(600)
            }, mode: .live
        ) { client, store in
            let base = "http://127.0.0.1:\(try #require(client.port))"
            func upload(_ body: HTTPClientRequest.Body) -> HTTPClientRequest {
                var request = HTTPClientRequest(url: base + "/vibration-data/bulk")
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "text/csv")
                request.body = body
                return request
            }
            // The first upload sends its header and a few rows, then holds its slot.
            let (chunks, feed) = AsyncStream<ByteBuffer>.makeStream()
            feed.yield(ByteBuffer(string: Self.csv(rows: 5)))
            async let first = HTTPClient.shared.execute(upload(.stream(chunks, length: .unknown)), timeout: .seconds(60))
            // Wait until the server is storing it (a busy machine may take a while to get there).
            for _ in 0..<200 {
                let metrics = try await HTTPClient.shared.execute(HTTPClientRequest(url: base + "/metrics"), timeout: .seconds(30))
                let text = String(buffer: try await metrics.body.collect(upTo: 1 << 20))
                if text.contains("\nhimmes_imports_in_flight 1") { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let busy = try await HTTPClient.shared.execute(upload(.bytes(ByteBuffer(string: Self.csv(rows: 2, from: 100)))), timeout: .seconds(30))
            #expect(busy.status == .tooManyRequests)
            #expect(busy.headers.first(name: "Retry-After") == "1")
            #expect(busy.headers.first(name: "Content-Type") == "application/problem+json")
            // Reads are not limited by it.
            #expect(try await HTTPClient.shared.execute(HTTPClientRequest(url: base + "/vibration-data"), timeout: .seconds(30)).status == .ok)
            feed.finish()
            let report = try await first
            #expect(report.status == .ok)
            _ = try await report.body.collect(upTo: 1 << 20)
            let again = try await HTTPClient.shared.execute(upload(.bytes(ByteBuffer(string: Self.csv(rows: 2, from: 100)))), timeout: .seconds(30))
            #expect(again.status == .ok)
            _ = try await again.body.collect(upTo: 1 << 20)
            #expect(try await store.sampleCount() == 7)
        }
    }

    @Test("a request body that stalls is dropped after the body timeout; the server goes on serving")
    func stalledBody() async throws {
        try await withApp(configure: { $0.bodyTimeout = .seconds(1) }, mode: .live) { client, store in
            let base = "http://127.0.0.1:\(try #require(client.port))"
            var request = HTTPClientRequest(url: base + "/vibration-data/bulk")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "text/csv")
            let (chunks, feed) = AsyncStream<ByteBuffer>.makeStream()
            feed.yield(ByteBuffer(string: Self.csv(rows: 3)))
            request.body = .stream(chunks, length: .unknown)
            let started = ContinuousClock.now
            // The client would wait two minutes: only the server can end this sooner.
            var dropped = false
            do {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
                _ = try await response.body.collect(upTo: 1 << 20)
                // The server may answer before closing; what it must not do is wait for the body forever.
                dropped = response.status != .ok
            } catch let error as HTTPClientError where error == .deadlineExceeded {
                dropped = false
            } catch {
                dropped = true
            }
            let waited = ContinuousClock.now - started
            feed.finish()
            #expect(dropped, "the server waited for the body until the client gave up")
            // A second is asked for; the bound leaves room for a machine busy with the rest of the suite.
            #expect(waited < .seconds(30), "waited \(waited)")
            // Serving goes on (the suite may keep both cores busy: what is asserted is an answer, not its speed).
            #expect(try await HTTPClient.shared.execute(HTTPClientRequest(url: base + "/health"), timeout: .seconds(30)).status == .ok)
            #expect(try await store.sampleCount() <= 3)
        }
    }

    @Test("a connection that sends nothing is closed after the idle timeout")
    func idleConnection() async throws {
        try await withApp(configure: { $0.idleTimeout = .seconds(1) }, mode: .live) { client, _ in
            let port = try #require(client.port)
            let closedAfter = try await onOwnThread { try Self.secondsUntilClosed(port: port, waitingAtMost: 60) }
            #expect(closedAfter != nil && closedAfter! >= 0.9 && closedAfter! < 20, "closed after \(String(describing: closedAfter)) s")
        }
    }

    /// Connects, sends nothing, and waits for the server to close: the seconds it took, or nil.
    static func secondsUntilClosed(port: Int, waitingAtMost limit: Int) throws -> Double? {
        let fd = try loopbackConnection(port: port)
        defer { close(fd) }
        var timeout = timeval(tv_sec: limit, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let started = Date()
        var byte: UInt8 = 0
        let received = recv(fd, &byte, 1, 0)
        return received == 0 ? Date().timeIntervalSince(started) : nil
    }
}

/// A TCP connection to the server on the loopback interface, as a raw socket.
func loopbackConnection(port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EIO) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        close(fd)
        throw POSIXError(.ECONNREFUSED)
    }
    return fd
}

@Suite("Import slots")
struct ImportSlotsTests {
    @Test("the slots count uploads in flight and free on failure too")
    func slots() async throws {
        let slots = ImportSlots(capacity: 2)
        let (gate, open) = AsyncStream<Void>.makeStream()
        async let held: Void = slots.run { for await _ in gate { break } }
        try await Task.sleep(for: .milliseconds(100))
        #expect(slots.busy == 1)
        await #expect(throws: Problem.self) {
            try await slots.run { throw Problem(status: .badRequest) }
        }
        #expect(slots.busy == 1)
        let second: Int = try await slots.run { slots.busy }
        #expect(second == 2)
        open.yield()
        try await held
        #expect(slots.busy == 0)
    }
}
