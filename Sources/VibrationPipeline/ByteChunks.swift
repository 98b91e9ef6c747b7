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

/// The decompressed bytes of a gzip stream, at most one window (1 MiB) at a time: each call inflates
/// only until its window is full, so memory stays the same however far the data expands (deflate
/// reaches about 1000:1, so a 4 MB body of zeros would otherwise become 4 GB before anyone looked).
/// With `limit`, expanding past that many bytes throws `ExpansionLimitError` as soon as it happens.
public struct GunzippedChunks<Base: AsyncSequence>: AsyncSequence where Base.Element == ByteBuffer {
    public typealias Element = ByteBuffer
    public typealias Failure = any Error

    static var windowBytes: Int { 1 << 20 }

    let base: Base
    let limit: Int?

    public init(_ base: Base, limit: Int? = nil) {
        self.base = base
        self.limit = limit
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let limit: Int?
        var decompressor: ZlibDecompressor?
        /// Compressed bytes read and not yet inflated.
        var input = ByteBuffer()
        var expanded = 0
        /// The decompressor was reset at the end of a gzip member and has not moved since.
        var justReset = false

        public mutating func next() async throws -> ByteBuffer? {
            while true {
                if input.readableBytes == 0 {
                    guard let chunk = try await base.next() else { return nil }
                    input = chunk
                    continue
                }
                if decompressor == nil { decompressor = try ZlibDecompressor(algorithm: .gzip) }
                var window = ByteBuffer()
                window.reserveCapacity(GunzippedChunks.windowBytes)
                let unread = input.readableBytes
                do {
                    try input.decompressStream(to: &window, with: decompressor!)
                } catch let error as CompressNIOError where error == .bufferOverflow {
                    // The window is full; the rest of the input waits for the next call.
                } catch {
                    throw GzipError()
                }
                if window.readableBytes == 0 && input.readableBytes == unread {
                    // zlib stops at the end of a gzip member; what follows must be another member
                    // (files joined with cat), or the data is not gzip.
                    guard !justReset else { throw GzipError() }
                    try decompressor!.reset()
                    justReset = true
                    continue
                }
                justReset = false
                guard window.readableBytes > 0 else { continue }
                expanded += window.readableBytes
                if let limit, expanded > limit { throw ExpansionLimitError(limit: limit) }
                return window
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), limit: limit)
    }
}

/// Compressed data that expands past the size it may have once inflated.
public struct ExpansionLimitError: Error, CustomStringConvertible {
    public var limit: Int
    public var description: String { "the data expands to more than \(limit) bytes" }
}

extension GunzippedChunks: Sendable where Base: Sendable {}

/// A body or file announced as gzip that does not inflate.
public struct GzipError: Error, CustomStringConvertible {
    public var description: String { "the data is not valid gzip" }
}
