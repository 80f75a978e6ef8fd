// Decodes hex-encoded CBOR frames given as arguments the way
// automerge-repo's WebSocket adapters do, and prints one JSON line per
// frame: the fields automerge-repo reads and whether it accepts the
// message. Used by the Go interop test to check that frames carrying
// Outpost's extension keys are ordinary automerge-repo messages to it.
import { cbor, isRepoMessage } from "@automerge/automerge-repo"

for (const hex of process.argv.slice(2)) {
  const m = cbor.decode(Buffer.from(hex, "hex"))
  console.log(JSON.stringify({
    type: m.type, senderId: m.senderId, targetId: m.targetId, documentId: m.documentId,
    dataLength: m.data?.length ?? 0, repoMessage: isRepoMessage(m),
  }))
}
