// MapsSurvey: placeholder until its first source lands.
enum MapsSurveyNamespace {}
