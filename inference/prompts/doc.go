// Package prompts owns the prompt templates and JSON schemas that turn
// transcripts into clinical notes, notes into diagnosis suggestions, and
// engine-room logs into maintenance reports.
//
// Defaults are embedded; a site overrides or adds templates by putting files
// in its data directory's templates folder:
//
//	NAME.tmpl         a text/template rendering the user message, with an
//	                  optional {{define "system"}}…{{end}} block for the
//	                  system message
//	NAME.schema.json  the JSON schema the model's output must satisfy
//
// A file in the folder replaces the embedded file of the same name.
//
// It must not know about documents, sync or jobs: callers pass the text to
// render and get messages and a schema back.
package prompts
