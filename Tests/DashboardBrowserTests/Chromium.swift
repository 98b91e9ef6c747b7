import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import WSClient

/// Headless Chromium driven over the DevTools protocol: load a page, run script in it, move and
/// press the mouse, take a screenshot.
final class Chromium: @unchecked Sendable {
    /// The browser to use: `CHROMIUM` if set, else the first one installed.
    static let executable: String? = {
        if let chosen = ProcessInfo.processInfo.environment["CHROMIUM"], !chosen.isEmpty { return chosen }
        return ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable"]
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let process = Process()
    let profile: URL
    let port: Int

    init(width: Int = 1400, height: Int = 900) async throws {
        guard let executable = Self.executable else { throw Failure(description: "Chromium is not installed") }
        profile = FileManager.default.temporaryDirectory.appendingPathComponent("himmes-chromium-\(UUID().uuidString)")
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--hide-scrollbars", "--mute-audio", "--remote-debugging-port=0", "--remote-allow-origins=*",
            "--user-data-dir=\(profile.path)", "--window-size=\(width),\(height)", "about:blank",
        ]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Chromium says where its DevTools endpoint listens on its standard error.
        let found = AsyncStream<Int?> { continuation in
            let seen = LockedText()
            errors.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                if data.isEmpty {
                    continuation.yield(nil)
                    continuation.finish()
                    return
                }
                let text = seen.append(String(decoding: data, as: UTF8.self))
                if let range = text.range(of: #"ws://127\.0\.0\.1:(\d+)/"#, options: .regularExpression) {
                    let digits = text[range].dropFirst("ws://127.0.0.1:".count).prefix { $0.isNumber }
                    continuation.yield(Int(digits))
                    continuation.finish()
                }
            }
        }
        var port: Int?
        for await value in found {
            port = value
            break
        }
        errors.fileHandleForReading.readabilityHandler = nil
        guard let port else {
            process.terminate()
            throw Failure(description: "Chromium did not start its DevTools endpoint")
        }
        self.port = port
    }

    func close() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: profile)
    }

    /// Opens a new tab and hands it to `body`; the tab closes when `body` returns.
    func withPage<T: Sendable>(_ body: @escaping @Sendable (Page) async throws -> T) async throws -> T {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/json/new?about:blank")
        request.method = .PUT
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let answer = try await response.body.collect(upTo: 1 << 20)
        guard
            let target = try JSONSerialization.jsonObject(with: Data(buffer: answer)) as? [String: Any],
            let socket = target["webSocketDebuggerUrl"] as? String
        else { throw Failure(description: "Chromium opened no tab: \(String(buffer: answer))") }
        let result = ResultBox<T>()
        var logger = Logger(label: "chromium")
        logger.logLevel = .warning
        try await WebSocketClient.connect(
            url: socket, configuration: .init(maxFrameSize: 1 << 27), logger: logger
        ) { inbound, outbound, _ in
            let page = Page(messages: inbound.messages(maxSize: 1 << 27).makeAsyncIterator(), outbound: outbound)
            result.value = try await body(page)
        }
        guard let value = result.value else { throw Failure(description: "the DevTools connection closed early") }
        return value
    }

    /// One tab.
    final class Page: @unchecked Sendable {
        private var messages: WebSocketInboundMessageStream.AsyncIterator
        private let outbound: WebSocketOutboundWriter
        private var nextID = 0
        /// What the page wrote to its console and any uncaught errors, for failure messages.
        private(set) var console: [String] = []

        init(messages: WebSocketInboundMessageStream.AsyncIterator, outbound: WebSocketOutboundWriter) {
            self.messages = messages
            self.outbound = outbound
        }

        /// Sends a command and waits for its answer, keeping the events that arrive meanwhile.
        @discardableResult
        func send(_ method: String, _ params: [String: Any] = [:]) async throws -> [String: Any] {
            nextID += 1
            let id = nextID
            let command = try JSONSerialization.data(withJSONObject: ["id": id, "method": method, "params": params])
            try await outbound.write(.text(String(decoding: command, as: UTF8.self)))
            while let message = try await messages.next() {
                guard case .text(let text) = message,
                    let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
                else { continue }
                if let event = object["method"] as? String {
                    record(event, object["params"] as? [String: Any] ?? [:])
                    continue
                }
                guard object["id"] as? Int == id else { continue }
                if let error = object["error"] as? [String: Any] {
                    throw Failure(description: "\(method): \(error["message"] ?? error)")
                }
                return object["result"] as? [String: Any] ?? [:]
            }
            throw Failure(description: "the DevTools connection closed during \(method)")
        }

        private func record(_ event: String, _ params: [String: Any]) {
            switch event {
            case "Runtime.consoleAPICalled":
                let args = (params["args"] as? [[String: Any]] ?? []).map { "\($0["value"] ?? $0["description"] ?? "")" }
                console.append("console.\(params["type"] ?? "log"): " + args.joined(separator: " "))
            case "Runtime.exceptionThrown":
                let details = params["exceptionDetails"] as? [String: Any] ?? [:]
                let exception = details["exception"] as? [String: Any] ?? [:]
                console.append("uncaught: \(exception["description"] ?? details["text"] ?? "")")
            default:
                break
            }
        }

        func start(width: Int = 1400, height: Int = 900) async throws {
            try await send("Runtime.enable")
            try await send("Page.enable")
            try await send(
                "Emulation.setDeviceMetricsOverride", ["width": width, "height": height, "deviceScaleFactor": 1, "mobile": false])
        }

        /// Loads a URL and waits until the document and its scripts have loaded.
        func open(_ url: String) async throws {
            try await send("Page.navigate", ["url": url])
            try await waitUntil("document.readyState === 'complete' && location.href !== 'about:blank'", timeout: .seconds(30))
        }

        /// The value of a script expression (promises are awaited).
        func evaluate(_ expression: String) async throws -> Any? {
            let reply = try await send(
                "Runtime.evaluate", ["expression": expression, "returnByValue": true, "awaitPromise": true])
            if let details = reply["exceptionDetails"] as? [String: Any] {
                let exception = details["exception"] as? [String: Any] ?? [:]
                throw Failure(description: "\(expression): \(exception["description"] ?? details["text"] ?? "failed")")
            }
            return (reply["result"] as? [String: Any])?["value"]
        }

        func number(_ expression: String) async throws -> Double {
            (try await evaluate(expression) as? NSNumber)?.doubleValue ?? .nan
        }

        func text(_ expression: String) async throws -> String {
            try await evaluate(expression) as? String ?? ""
        }

        /// Polls until the expression is true; throws with the page's console when it never is.
        func waitUntil(_ expression: String, timeout: Duration = .seconds(30)) async throws {
            let clock = ContinuousClock()
            let deadline = clock.now + timeout
            while clock.now < deadline {
                if (try? await evaluate("Boolean(\(expression))")) as? Bool == true { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw Failure(description: "timed out waiting for \(expression); console: \(console.suffix(10))")
        }

        /// The centre of the first element matching a selector, in viewport pixels.
        func centre(of selector: String) async throws -> (x: Double, y: Double) {
            let value = try await evaluate(
                """
                (() => { const el = document.querySelector(\(Self.quoted(selector))); if (!el) return null;
                  el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect();
                  return [r.left + r.width / 2, r.top + r.height / 2]; })()
                """)
            guard let point = value as? [NSNumber], point.count == 2 else {
                throw Failure(description: "no element matches \(selector)")
            }
            return (point[0].doubleValue, point[1].doubleValue)
        }

        func mouse(_ type: String, x: Double, y: Double) async throws {
            var params: [String: Any] = ["type": type, "x": x, "y": y]
            if type != "mouseMoved" {
                params["button"] = "left"
                params["clickCount"] = 1
            } else {
                params["button"] = "none"
            }
            try await send("Input.dispatchMouseEvent", params)
        }

        func drag(from start: (x: Double, y: Double), to end: (x: Double, y: Double)) async throws {
            try await mouse("mouseMoved", x: start.x, y: start.y)
            try await mouse("mousePressed", x: start.x, y: start.y)
            for step in 1...5 {
                let f = Double(step) / 5
                try await mouse("mouseMoved", x: start.x + (end.x - start.x) * f, y: start.y + (end.y - start.y) * f)
            }
            try await mouse("mouseReleased", x: end.x, y: end.y)
        }

        /// Saves a PNG of the viewport.
        func screenshot(to file: URL) async throws {
            let reply = try await send("Page.captureScreenshot", ["format": "png"])
            guard let base64 = reply["data"] as? String, let data = Data(base64Encoded: base64) else {
                throw Failure(description: "no screenshot data")
            }
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: file)
        }

        static func quoted(_ text: String) -> String {
            let data = try! JSONSerialization.data(withJSONObject: [text])
            return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
        }
    }
}

/// Text collected across callbacks from another thread.
final class LockedText: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""

    func append(_ more: String) -> String {
        lock.withLock {
            text += more
            return text
        }
    }
}

final class ResultBox<T: Sendable>: @unchecked Sendable {
    var value: T?
}
