import ArgumentParser

// PLACEHOLDER: replaced by the real command.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "replay", shouldDisplay: false)
    func run() throws { throw ValidationError("not built yet") }
}
