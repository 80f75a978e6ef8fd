// Package access owns sync tokens: creating, listing, revoking and checking
// them, and reading them from HTTP requests.
//
// A token is "opt_" followed by 43 base64url characters encoding 32 random
// bytes; the prefix makes leaked tokens easy to grep for. Only the SHA-256
// of a token is stored, with a name and the collections it grants ("*"
// grants every collection); the token itself is shown once, at creation.
// Revoked tokens stay listed (marked revoked) for the record.
//
// Tokens live in the document store's Pebble under crdt.PrefixTokens
// ('k'), in keys 'k' 'h' sha256(token) → JSON record.
//
// This package must not know about documents or sync; it answers "who is
// this and what may it see". Callers' duties:
//  1. Check every connection with Check (or Authenticate) before upgrading
//     it, and refuse with 401 when it fails.
//  2. Pass the token's Collections to the sync engine as the peer's grants.
//  3. Never log a token; log its ID.
package access
