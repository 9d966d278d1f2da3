import ArgumentParser

// PLACEHOLDER: replaced by the real command.
struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "analyze", shouldDisplay: false)
    func run() throws { throw ValidationError("not built yet") }
}
