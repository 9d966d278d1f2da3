import ArgumentParser

// PLACEHOLDER: replaced by the real command.
struct CountRWCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "count-rw", shouldDisplay: false)
    func run() throws { throw ValidationError("not built yet") }
}
