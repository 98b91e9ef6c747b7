/// How machines are spread over the servers whose engines share a database: rendezvous (highest
/// random weight) hashing. Each machine goes to the server whose hash of (machine, server) is the
/// highest, so every server computes the same spread from the same list of live servers without
/// talking to the others, the machines are spread about evenly, and a server joining or leaving
/// moves only the machines it gains or held.
public enum MachineShare {
    /// The server among `servers` that diagnoses `machine`; nil when there is none.
    public static func holder(of machine: String, among servers: some Sequence<String>) -> String? {
        var best: (weight: UInt64, server: String)?
        for server in servers {
            let weight = self.weight(machine, server)
            if best.map({ (weight, server) > ($0.weight, $0.server) }) ?? true { best = (weight, server) }
        }
        return best?.server
    }

    /// The machines of `machines` that `server` diagnoses when `servers` are live.
    public static func share(of server: String, machines: some Sequence<String>, servers: [String]) -> [String] {
        machines.filter { holder(of: $0, among: servers) == server }
    }

    /// A 64-bit FNV-1a hash of the two names, finished with SplitMix64's mixer so that names
    /// differing in one character give unrelated weights. Stable across processes and versions
    /// (Swift's `Hasher` is seeded per process).
    static func weight(_ machine: String, _ server: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in machine.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        hash = (hash ^ 0) &* 0x100_0000_01b3
        for byte in server.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
        return hash ^ (hash >> 31)
    }
}
