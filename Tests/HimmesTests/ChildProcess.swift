import Foundation
import StoreTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to its end with posix_spawn, feeding it standard input and collecting its
/// standard output and error. Foundation's `Process.run()` on Linux (Swift 6.3) now and then
/// crashes the test process: it reads past the end of a directory entry while listing
/// /proc/self/fd to close the child's descriptors. Here every pipe is close-on-exec in the parent,
/// and descriptors above 2 are closed in the child by glibc's `closefrom` action when it has one.
enum ChildProcess {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    /// A child that exits without reading all of its input must not end the test process.
    private static let ignoresBrokenPipes: Void = { signal(SIGPIPE, SIG_IGN) }()

    /// Waits for the child on a thread of its own, never on Swift concurrency's pool.
    static func run(
        _ executable: String, _ arguments: [String], stdin: Data = Data(), environment: [String: String]? = nil
    ) async throws -> (status: Int32, out: Data, err: Data) {
        try await onOwnThread { try runBlocking(executable, arguments, stdin: stdin, environment: environment) }
    }

    private static func runBlocking(
        _ executable: String, _ arguments: [String], stdin: Data, environment: [String: String]?
    ) throws -> (status: Int32, out: Data, err: Data) {
        _ = ignoresBrokenPipes
        func makePipe() throws -> (read: Int32, write: Int32) {
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { throw Failure(description: "pipe: \(errno)") }
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            return (fds[0], fds[1])
        }
        let input = try makePipe()
        let output = try makePipe()
        let errors = try makePipe()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input.read, 0)
        posix_spawn_file_actions_adddup2(&actions, output.write, 1)
        posix_spawn_file_actions_adddup2(&actions, errors.write, 2)
        _ = addCloseFrom?(&actions, 3)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { env.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, env)
        close(input.read)
        close(output.write)
        close(errors.write)
        guard spawned == 0 else {
            [input.write, output.read, errors.read].forEach { close($0) }
            throw Failure(description: "posix_spawn \(executable): \(String(cString: strerror(spawned)))")
        }
        // Standard input is written on a thread of its own while both outputs are read here, so
        // that a child filling one pipe never waits for a parent blocked on another.
        let writer = Thread {
            stdin.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = write(input.write, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 { if errno == EINTR { continue } else { break } }
                    offset += n
                }
            }
            close(input.write)
        }
        writer.start()
        var collected = [Data(), Data()]
        var open = [output.read, errors.read]
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while open.contains(where: { $0 >= 0 }) {
            var polls = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&polls, nfds_t(polls.count), -1) >= 0 || errno == EINTR else { break }
            for (i, p) in polls.enumerated() where p.fd >= 0 && p.revents != 0 {
                let n = read(p.fd, &buffer, buffer.count)
                if n > 0 {
                    collected[i].append(contentsOf: buffer[0..<n])
                } else if n == 0 || errno != EINTR {
                    close(p.fd)
                    open[i] = -1
                }
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // The exit status, or 128 + the signal that ended the child.
        let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return (code, collected[0], collected[1])
    }
}

extension Process {
    /// Waits for the process to end without holding a thread of Swift concurrency's pool.
    func exited() async {
        while isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }
}
