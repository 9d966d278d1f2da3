import ArgumentParser

// PLACEHOLDER: replaced by the real command.
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", shouldDisplay: false)
    func run() throws { throw ValidationError("not built yet") }
}
