// Writes CBOR frames exactly as automerge-repo 2.5's WebSocket adapters
// encode them, for crdt/wire's decoding tests and fuzz seeds. Run from
// interop/: node gen-wire-fixtures.mjs ../crdt/wire/testdata/js
import { cbor, generateAutomergeUrl, parseAutomergeUrl } from "@automerge/automerge-repo/slim"
import { next as A } from "@automerge/automerge"
import fs from "node:fs"
import path from "node:path"

const out = process.argv[2]
fs.mkdirSync(out, { recursive: true })
const { documentId } = parseAutomergeUrl(generateAutomergeUrl())

let doc = A.from({ title: "hello", n: 1 })
const [, syncData] = A.generateSyncMessage(doc, A.initSyncState())
const [, emptyReq] = A.generateSyncMessage(A.init(), A.initSyncState())

const messages = {
  join: { type: "join", senderId: "client-1", peerMetadata: { storageId: "st-1", isEphemeral: false }, supportedProtocolVersions: ["1"] },
  join_ephemeral: { type: "join", senderId: "client-2", peerMetadata: { isEphemeral: true }, supportedProtocolVersions: ["1"] },
  join_undefined_storage: { type: "join", senderId: "client-3", peerMetadata: { storageId: undefined, isEphemeral: false }, supportedProtocolVersions: ["1"] },
  peer: { type: "peer", senderId: "server-1", peerMetadata: { storageId: "st-9", isEphemeral: false }, selectedProtocolVersion: "1", targetId: "client-1" },
  request: { type: "request", senderId: "client-1", targetId: "server-1", documentId, data: emptyReq },
  sync: { type: "sync", senderId: "client-1", targetId: "server-1", documentId, data: syncData },
  doc_unavailable: { type: "doc-unavailable", senderId: "server-1", targetId: "client-1", documentId },
  ephemeral: { type: "ephemeral", senderId: "client-1", targetId: "server-1", documentId, count: 7, sessionId: "sess-1", data: cbor.encode({ cursor: 3 }) },
  error: { type: "error", senderId: "server-1", message: "unsupported protocol version", targetId: "client-1" },
  remote_heads_changed: { type: "remote-heads-changed", senderId: "s", targetId: "c", documentId, newHeads: { "st-1": { heads: ["abc"], timestamp: 1700000000000 } } },
  remote_subscription_change: { type: "remote-subscription-change", senderId: "c", targetId: "s", add: ["st-1"], remove: [] },
  sync_with_extension: { type: "sync", senderId: "client-1", targetId: "server-1", documentId, data: syncData, outpost: { collection: "clinic:a", type: "note" } },
}
for (const [name, m] of Object.entries(messages)) {
  fs.writeFileSync(path.join(out, name + ".cbor"), cbor.encode(m))
}
console.log(documentId)
