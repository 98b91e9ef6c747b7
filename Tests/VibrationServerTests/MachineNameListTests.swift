import Testing
import VibrationCore
import VibrationStore

@testable import VibrationServer

@Suite("The table pages' machine filter")
struct MachineNameListTests {
    @Test("the machine list is read again in the background once it is older than its lifetime, not before")
    func lifetime() async throws {
        let store = try await Backend.sqlite.makeStore()
        _ = try await store.save(MachineConfig(machineName: "press-1"))
        // The times are given, not waited for: a loaded test machine cannot stretch them.
        let list = MachineNameList(lifetime: .milliseconds(200))
        let start = ContinuousClock.now
        #expect(try await list.read(from: store, now: start).names == ["press-1"])
        _ = try await store.save(MachineConfig(machineName: "press \"2\" <&>"))
        #expect(try await list.read(from: store, now: start + .milliseconds(150)).names == ["press-1"])
        await list.settled()
        #expect(try await list.read(from: store, now: start + .milliseconds(160)).names == ["press-1"])
        // Older than the lifetime: this page gets the list as it was, the next one the list read since.
        #expect(try await list.read(from: store, now: start + .milliseconds(250)).names == ["press-1"])
        await list.settled()
        let later = try await list.read(from: store, now: start + .milliseconds(260))
        #expect(later.names == ["press \"2\" <&>", "press-1"])
        #expect(later.options == "<option value=\"press &quot;2&quot; &lt;&amp;&gt;\"><option value=\"press-1\">")
    }
}
