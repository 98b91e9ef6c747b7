import Foundation
import Testing

/// The schemathesis command, when installed (`.ci/run` installs it from PyPI).
let schemathesis: String? = {
    for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let candidate = "\(folder)/schemathesis"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}()

@Suite(
    "API contract (schemathesis)",
    .enabled(if: schemathesis != nil, "schemathesis is not installed (pip install schemathesis): the contract test is skipped"))
struct ContractTests {
    @Test("every operation of the served /openapi.yaml, fuzzed: no 5xx, and every answer's status, type, headers and body match the spec")
    func schemathesisRun() async throws {
        let server = try await ServeCommandTests.startServer()
        defer { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        let base = "http://127.0.0.1:\(server.port)"
        // Some data, so that lists, machines and waveforms have something to answer with.
        let dir = try temporaryFolder()
        try await Himmes.run(["generate", "--rows", "4000", "--machines", "2", "--out", "\(dir)/plant.csv"])
        let upload = try await ChildProcess.run(
            "/usr/bin/env", ["curl", "-sf", "-XPOST", "-H", "Content-Type: text/csv", "--data-binary", "@\(dir)/plant.csv", base + "/vibration-data/bulk"])
        #expect(upload.status == 0)

        var environment = ProcessInfo.processInfo.environment
        environment["SCHEMATHESIS_HOOKS"] = nil
        let run = try await ChildProcess.run(
            try #require(schemathesis),
            [
                "run", base + "/openapi.yaml", "--url", base, "--max-examples", "30", "--no-color",
                "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance",
            ], environment: environment)
        let text = String(decoding: run.out + run.err, as: UTF8.self)
        let summary = text.split(separator: "\n").suffix(25).joined(separator: "\n")
        #expect(run.status == 0, "schemathesis found problems:\n\(text.suffix(12_000))")
        #expect(text.contains(" passed"), "\(summary)")
        #expect(server.process.isRunning, "the server died during the run")
    }
}
