package whisper

// Test helpers for the external test package (whisper_test), which may
// import whispertest.
var (
	OracleDir  = oracleDir
	ReadWAV16  = readWAV16
	OracleLoad = loadOracleModel
)
