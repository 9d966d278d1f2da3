import ArgumentParser

// PLACEHOLDER: replaced by the real command.
struct SurveyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "survey", shouldDisplay: false)
    func run() throws { throw ValidationError("not built yet") }
}
