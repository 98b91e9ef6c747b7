import CompressNIO
import Foundation
import NIOCore

/// A file (or standard input) read in fixed-size chunks: constant memory whatever its size.
public struct FileChunks: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public typealias Failure = any Error

    let handle: FileHandle
    let chunkSize: Int

    public init(handle: FileHandle, chunkSize: Int = 1 << 20) {
        self.handle = handle
        self.chunkSize = chunkSize
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle
        let chunkSize: Int
        var done = false

        public mutating func next() async throws -> ByteBuffer? {
            guard !done else { return nil }
            let fd = handle.fileDescriptor
            var buffer = ByteBuffer()
            buffer.reserveCapacity(chunkSize)
            let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: chunkSize) { raw in
                while true {
                    let n = read(fd, raw.baseAddress, chunkSize)
                    if n >= 0 { return n }
                    if errno != EINTR { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
                }
            }
            if count == 0 {
                done = true
                return nil
            }
            return buffer
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(handle: handle, chunkSize: chunkSize)
    }
}

/// The decompressed bytes of a gzip stream, chunk by chunk.
public struct GunzippedChunks<Base: AsyncSequence>: AsyncSequence where Base.Element == ByteBuffer {
    public typealias Element = ByteBuffer
    public typealias Failure = any Error

    let base: Base

    public init(_ base: Base) {
        self.base = base
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        var decompressor: ZlibDecompressor?
        var ready: [ByteBuffer] = []
        var failure: (any Error)?

        public mutating func next() async throws -> ByteBuffer? {
            while ready.isEmpty {
                guard var input = try await base.next() else { return nil }
                if decompressor == nil { decompressor = try ZlibDecompressor(algorithm: .gzip) }
                var window = ByteBuffer()
                window.reserveCapacity(1 << 20)
                var produced: [ByteBuffer] = []
                do {
                    try input.decompressStream(with: decompressor!, window: &window) { produced.append($0) }
                } catch {
                    throw GzipError()
                }
                ready = produced.reversed()
            }
            return ready.removeLast()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator())
    }
}

extension GunzippedChunks: Sendable where Base: Sendable {}

/// A body or file announced as gzip that does not inflate.
public struct GzipError: Error, CustomStringConvertible {
    public var description: String { "the data is not valid gzip" }
}
