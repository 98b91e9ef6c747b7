import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import StoreTestSupport
import Testing
import VibrationCore

@testable import VibrationServer
@testable import VibrationStore

@Suite("API keys")
struct APIKeyTests {
    @Test("keys are made once, stored hashed, listed without secrets, refused once revoked")
    func lifecycle() async throws {
        let store = try SQLiteStore(path: TemporaryDirectory.make().appendingPathComponent("keys.sqlite").path)
        #expect(try await store.hasKeys() == false)
        let (key, secret) = try await store.createKey(name: "gateway-1", readOnly: false)
        #expect(secret.hasPrefix("hm_") && secret.count == 67)
        #expect(try await store.authenticate(secret: secret) == key)
        #expect(try await store.authenticate(secret: secret + "x") == nil)
        #expect(try await store.hasKeys())
        await #expect(throws: StoreError.keyNameTaken("gateway-1")) { try await store.createKey(name: "gateway-1", readOnly: true) }
        // Only the hash is stored.
        let stored = try await store.pool.read { db in try String.fetchAll(db, sql: "SELECT secret_sha256 FROM api_keys") }
        #expect(stored.count == 1 && stored[0] != secret && stored[0].count == 64 && !stored.contains { $0.contains(secret) })
        #expect(try await store.revokeKey(name: "gateway-1"))
        #expect(try await store.revokeKey(name: "gateway-1") == false)
        #expect(try await store.authenticate(secret: secret) == nil)
        // A revoked key still counts: revoking the last one must not reopen keyless writes.
        #expect(try await store.hasKeys())
        #expect(try await store.activeKey(id: key.id) == nil)
        #expect(try await store.apiKeys().map(\.name) == ["gateway-1"])
        #expect(try await store.apiKeys().first?.revokedAt != nil)
    }

    @Test("once a key exists, writes need it: 401 without or with a wrong one, 403 read-only, reads stay open")
    func writesNeedKeys() async throws {
        try await withApp { client, store in
            // No key yet: this (in-process) client may write.
            #expect(try await client.call(.post, "/vibration-data", json: sampleJSON(time: 0.1)).status == .created)
            let (_, writer) = try await store.createKey(name: "writer", readOnly: false)
            let (_, reader) = try await store.createKey(name: "reader", readOnly: true)
            let none = try await client.call(.post, "/vibration-data", json: sampleJSON(time: 0.2))
            #expect(none.status == .unauthorized && none.isProblem)
            #expect(none.headers[.wwwAuthenticate] == "Bearer")
            let wrong = try await client.call(.post, "/vibration-data", json: sampleJSON(time: 0.2), headers: [.authorization: "Bearer hm_nope"])
            #expect(wrong.status == .unauthorized)
            let readOnly = try await client.call(.post, "/vibration-data", json: sampleJSON(time: 0.2), headers: [.authorization: "Bearer \(reader)"])
            #expect(readOnly.status == .forbidden && readOnly.isProblem)
            let bulk = try await client.call(
                .post, "/vibration-data/bulk", json: "[\(sampleJSON(time: 0.3))]", headers: [.authorization: "Bearer \(reader)"])
            #expect(bulk.status == .forbidden)
            let ok = try await client.call(.post, "/vibration-data", json: sampleJSON(time: 0.2), headers: [.authorization: "Bearer \(writer)"])
            #expect(ok.status == .created)
            // Nothing refused was stored; reads need no key.
            let rows = try await client.call(.get, "/vibration-data")
            #expect(rows.status == .ok && rows.items.count == 2)
            #expect(try await client.call(.get, "/").status == .ok)
            _ = try await store.revokeKey(name: "writer")
            #expect(try await client.call(.post, "/vibration-data", json: sampleJSON(time: 0.4), headers: [.authorization: "Bearer \(writer)"]).status == .unauthorized)
        }
    }

    @Test("before the first key, writes are taken from loopback and in-process clients only")
    func loopbackOnly() throws {
        func decide(_ address: SocketAddress?, _ method: HTTPRequest.Method = .post) -> WritePolicy.Decision {
            WritePolicy.decide(method: method, remote: address, presented: false, key: nil, keysExist: false)
        }
        #expect(decide(nil) == .allow)
        #expect(decide(try SocketAddress(ipAddress: "127.0.0.1", port: 5000)) == .allow)
        #expect(decide(try SocketAddress(ipAddress: "127.8.9.10", port: 5000)) == .allow)
        #expect(decide(try SocketAddress(ipAddress: "::1", port: 5000)) == .allow)
        guard case .unauthenticated(let why) = decide(try SocketAddress(ipAddress: "192.168.1.20", port: 5000)) else {
            Issue.record("a write from the network was let in")
            return
        }
        #expect(why.contains("himmes keys create"))
        #expect(decide(try SocketAddress(ipAddress: "10.0.0.5", port: 5000), .get) == .allow)
        #expect(decide(try SocketAddress(ipAddress: "2001:db8::1", port: 5000)) != .allow)
    }

    @Test("--trust-network: keyless writes from those networks only, while no key is presented; a sent key is checked")
    func trustedNetworks() throws {
        let plant = [NetworkRange("192.168.10.0/24")!, NetworkRange("fd00::/8")!]
        func decide(_ ip: String, presented: Bool = false, key: APIKey? = nil) throws -> WritePolicy.Decision {
            WritePolicy.decide(
                method: .post, remote: try SocketAddress(ipAddress: ip, port: 5000), presented: presented, key: key, keysExist: true,
                trusted: plant)
        }
        #expect(try decide("192.168.10.77") == .allow)
        #expect(try decide("::ffff:192.168.10.77") == .allow)
        #expect(try decide("fd12:3456::1") == .allow)
        #expect(try decide("192.168.11.77") != .allow)
        #expect(try decide("10.0.0.1") != .allow)
        // A key that is sent is checked, from anywhere.
        #expect(try decide("192.168.10.77", presented: true, key: nil) != .allow)
        let reader = APIKey(id: 1, name: "r", readOnly: true, createdAt: .now, revokedAt: nil)
        #expect(try decide("192.168.10.77", presented: true, key: reader) == .forbidden("The API key 'r' is read-only."))
        // Ranges read as operators write them.
        #expect(NetworkRange("10.0.0.0/8")?.contains(try SocketAddress(ipAddress: "10.255.1.2", port: 1)) == true)
        #expect(NetworkRange("10.0.0.0/33") == nil && NetworkRange("not-an-address") == nil && NetworkRange("10.0.0.1/x") == nil)
        #expect(NetworkRange("192.168.1.5")?.contains(try SocketAddress(ipAddress: "192.168.1.6", port: 1)) == false)
        #expect(NetworkRange("0.0.0.0/0")?.contains(try SocketAddress(ipAddress: "203.0.113.9", port: 1)) == true)
    }

    @Test("--require-auth-for-reads: reads need a key (read-only will do), browsers sign in, the cookie opens reads only")
    func readsNeedKeys() async throws {
        try await withApp(configure: { $0.requireAuthForReads = true }) { client, store in
            let (_, reader) = try await store.createKey(name: "viewer", readOnly: true)
            let (_, writer) = try await store.createKey(name: "gateway", readOnly: false)
            #expect(try await client.call(.post, "/vibration-data", json: sampleJSON(), headers: [.authorization: "Bearer \(writer)"]).status == .created)

            // API clients: 401 without a key or with a wrong one, 200 with any valid key.
            let none = try await client.call(.get, "/vibration-data")
            #expect(none.status == .unauthorized && none.isProblem && none.headers[.wwwAuthenticate] == "Bearer")
            #expect(try await client.call(.get, "/vibration-data", headers: [.authorization: "Bearer hm_wrong"]).status == .unauthorized)
            let read = try await client.call(.get, "/vibration-data", headers: [.authorization: "Bearer \(reader)"])
            #expect(read.status == .ok && read.items.count == 1)
            #expect(try await client.call(.get, "/vibration-diagnosis/latest").status == .unauthorized)
            #expect(try await client.call(.get, "/events").status == .unauthorized)
            // Probes and documentation stay open.
            for path in ["/health", "/ready", "/openapi.yaml", "/docs", "/login", "/assets/app.css"] {
                #expect(try await client.call(.get, path).status == .ok, "\(path)")
            }

            // Browsers are sent to the sign-in page and back.
            let page = try await client.call(.get, "/data?machine_name=g1", headers: [.accept: "text/html"])
            #expect(page.status == .seeOther)
            #expect(page.headers[.location] == "/login?next=/data%3Fmachine_name%3Dg1")
            let form = try await client.call(.get, "/login?next=/data%3Fmachine_name%3Dg1")
            #expect(form.text.contains("name=\"next\" value=\"/data?machine_name=g1\""))
            let refused = try await client.call(
                .post, "/login", json: "key=hm_wrong&next=%2Fdata", contentType: "application/x-www-form-urlencoded")
            #expect(refused.status == .unauthorized && refused.text.contains("unknown or revoked"))
            #expect(refused.headers[.setCookie] == nil)
            let signedIn = try await client.call(
                .post, "/login", json: "key=\(reader)&next=%2Fdata%3Fmachine_name%3Dg1", contentType: "application/x-www-form-urlencoded")
            #expect(signedIn.status == .seeOther && signedIn.headers[.location] == "/data?machine_name=g1")
            let cookie = try #require(signedIn.headers[.setCookie])
            #expect(cookie.hasPrefix("himmes_session=s1.") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
            // The cookie holds a session, never the key's secret; without a TLS proxy it is not Secure.
            #expect(!cookie.contains(reader) && !cookie.contains("Secure"))
            let session = try #require(cookie.split(separator: ";").first.map { String($0.dropFirst("himmes_session=".count)) })
            let cookieHeader: HTTPFields = [.cookie: "himmes_session=\(session)", .accept: "text/html"]
            let board = try await client.call(.get, "/data?machine_name=g1", headers: cookieHeader)
            #expect(board.status == .ok && board.text.contains("<table"))
            #expect(try await client.call(.get, "/vibration-data", headers: [.cookie: "himmes_session=\(session)"]).status == .ok)
            // A raw key in the cookie, a session with its signature altered and one whose expiry was
            // moved all open nothing.
            #expect(try await client.call(.get, "/vibration-data", headers: [.cookie: "himmes_session=\(reader)"]).status == .unauthorized)
            let parts = session.split(separator: ".").map(String.init)
            let altered = parts[0...2].joined(separator: ".") + "." + String(parts[3].reversed())
            let extended = [parts[0], parts[1], String(Int64(parts[2])! + 1), parts[3]].joined(separator: ".")
            for forged in [altered, extended] {
                #expect(try await client.call(.get, "/vibration-data", headers: [.cookie: "himmes_session=\(forged)"]).status == .unauthorized)
            }
            // The session of even a writing key never writes: another site could make the browser send it.
            let writerSignIn = try await client.call(
                .post, "/login", json: "key=\(writer)&next=%2F", contentType: "application/x-www-form-urlencoded")
            let writerSession = try #require(writerSignIn.headers[.setCookie]?.split(separator: ";").first.map(String.init))
            let forged = try await client.call(.post, "/vibration-data", json: sampleJSON(time: 0.5), headers: [.cookie: writerSession])
            #expect(forged.status == .unauthorized)
            // Only paths on this server are followed after sign-in: browsers drop tabs and line
            // breaks and read '\\' as '/', so each of these would lead to another host.
            for next in ["%2F%2Fevil.example%2F", "%2F%09%2Fevil.example", "%2F%5Cevil.example", "%2F%0A%2Fevil.example", "https%3A%2F%2Fevil.example", "%09%2F%2Fevil.example"] {
                let elsewhere = try await client.call(
                    .post, "/login", json: "key=\(reader)&next=\(next)", contentType: "application/x-www-form-urlencoded")
                #expect(elsewhere.headers[.location] == "/", "\(next)")
            }
            _ = try await store.revokeKey(name: "viewer")
            #expect(try await client.call(.get, "/vibration-data", headers: [.cookie: "himmes_session=\(session)"]).status == .unauthorized)
        }
        // Behind a TLS proxy the operator named, the cookie is Secure.
        try await withApp(
            configure: {
                $0.requireAuthForReads = true
                $0.tlsProxies = [NetworkRange("127.0.0.0/8")!, NetworkRange("::1")!]
            }, mode: .live
        ) { client, store in
            let (_, reader) = try await store.createKey(name: "viewer", readOnly: true)
            let signedIn = try await client.call(
                .post, "/login", json: "key=\(reader)&next=%2F", contentType: "application/x-www-form-urlencoded",
                headers: [.xForwardedProto: "https"])
            #expect(signedIn.headers[.setCookie]?.contains("Secure") == true)
        }
        // Without the flag, reads are open.
        try await withApp { client, _ in
            let open = try await client.call(.get, "/vibration-data")
            #expect(open.status == .ok)
        }
    }
}
