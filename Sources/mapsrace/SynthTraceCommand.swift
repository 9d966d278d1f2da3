import ArgumentParser

// PLACEHOLDER: replaced by the real command.
struct SynthTraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "_synth-trace", shouldDisplay: false)
    func run() throws { throw ValidationError("not built yet") }
}
