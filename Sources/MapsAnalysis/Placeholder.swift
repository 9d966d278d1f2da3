// MapsAnalysis: placeholder until its first source lands.
enum MapsAnalysisNamespace {}
