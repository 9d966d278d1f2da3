// MapsRecorder: placeholder until its first source lands.
enum MapsRecorderNamespace {}
