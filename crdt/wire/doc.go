// Package wire is automerge-repo's network protocol as bytes: the CBOR
// messages its WebSocket adapters exchange (join, peer, request, sync,
// doc-unavailable, ephemeral, error, and the two remote-heads messages that
// Outpost ignores), plus the binary Automerge sync message carried in their
// data field, and Outpost's additions.
//
// Outpost's additions stay invisible to unmodified automerge-repo clients:
// they are extra keys in CBOR maps (automerge-repo decodes messages into plain
// objects and never looks at keys it does not know) and extension message
// types that are only sent to a peer that announced the Outpost extension in
// its peerMetadata.
//
// The package owns encoding, decoding and validation. It must not hold
// state, touch sockets or know about documents beyond their ids.
//
// Callers' duties:
//  1. Send each encoded message as one binary WebSocket frame.
//  2. Treat a Decode error as a protocol violation by that peer: answer with
//     an error message and close the connection; never let it reach the store.
//  3. Bound frame sizes before calling Decode (MaxFrame).
package wire
