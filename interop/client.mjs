// An unmodified automerge-repo 2.5 client over the WebSocket adapter,
// driven line by line on stdin by Outpost's Go interop test:
//
//   node client.mjs ws://host/sync?token=T
//   < create {"title":"x"}       > url automerge:...
//   < find automerge:...         > doc {...}          (or: unavailable ...)
//   < wait automerge:... key val > ok                 (when doc[key] == val)
//   < set automerge:... key val  > ok
//   < exit
//
// Every reply is one line; errors are "error <message>".
import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import readline from "node:readline"

const url = process.argv[2]
const repo = new Repo({ network: [new WebSocketClientAdapter(url, 500)] })
const out = line => process.stdout.write(line + "\n")
const handles = new Map()
// Automerge 3 reads scalar (non-Text) strings, which automerge-go writes by
// default, as ImmutableString objects; show them as the strings they are.
const plain = v => (v && typeof v === "object" && "val" in v ? v.val : v)
const json = doc => JSON.stringify(doc, (k, v) => plain(v))

async function handle(docUrl) {
  if (!handles.has(docUrl)) handles.set(docUrl, await repo.find(docUrl))
  return handles.get(docUrl)
}

const commands = {
  async create(json) {
    const h = repo.create(JSON.parse(json))
    handles.set(h.url, h)
    out("url " + h.url)
  },
  async find(docUrl) {
    const h = await handle(docUrl)
    out("doc " + json(h.doc()))
  },
  async wait(docUrl, key, value) {
    const h = await handle(docUrl)
    await new Promise(resolve => {
      const check = () => {
        if (String(plain(h.doc()?.[key])) === value) {
          h.off("change", check)
          resolve()
        }
      }
      h.on("change", check)
      check()
    })
    out("ok")
  },
  async set(docUrl, key, value) {
    const h = await handle(docUrl)
    h.change(d => { d[key] = value })
    out("ok")
  },
  async exit() {
    await repo.shutdown?.()
    process.exit(0)
  },
}

const rl = readline.createInterface({ input: process.stdin })
for await (const line of rl) {
  const [cmd, ...args] = line.split(" ")
  // create takes the rest of the line as JSON; wait and set take it as the value.
  const rest = cmd === "create" ? [args.join(" ")] : cmd === "wait" || cmd === "set" ? [args[0], args[1], args.slice(2).join(" ")] : args
  try {
    if (!commands[cmd]) throw new Error("unknown command " + cmd)
    await commands[cmd](...rest)
  } catch (e) {
    out("error " + String(e?.message ?? e).replaceAll("\n", " "))
  }
}
process.exit(0)
