import Foundation

/// A child process run to completion, with its wall time and peak resident memory.
struct Measured {
    var seconds: Double
    var peakMemoryBytes: Int
    var status: Int32
    var output: String

    /// Runs the program with its standard output captured (standard error passes through).
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Measured {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("himmes-\(UUID().uuidString).out").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { env.forEach { free($0) } }
        var pid: pid_t = 0
        // Earlier steps' dirty pages would otherwise be written back during this one.
        sync()
        let started = Date()
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, env)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL) }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let seconds = Date().timeIntervalSince(started)
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exit = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return Measured(seconds: seconds, peakMemoryBytes: Int(usage.ru_maxrss) * 1024, status: exit, output: output)
    }

    /// This program's own executable, to run its subcommands as separate processes.
    /// The `himmes` program beside this one.
    static var himmes: String {
        let this = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: this).deletingLastPathComponent().appendingPathComponent("himmes").path
    }

    /// The full path of a program on PATH, if any.
    static func which(_ name: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}

