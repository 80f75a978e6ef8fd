// merge3 rebases a text edit made in the browser onto the text the node has
// now. A merge patch carries the whole new string and the node turns it into
// splices against its current text, so sending the browser's text as is
// would undo whatever another device changed while the box was open. When
// the two edits touch separate stretches of the text both are kept;
// otherwise merge3 returns null and the caller asks the user.
//
// Each side's edit is reduced to one changed stretch (common prefix and
// suffix), so two far-apart edits on one side count as one long stretch:
// the merge errs towards asking, never towards dropping text.
export function merge3(base, mine, theirs) {
  if (mine === theirs || theirs === base) return mine;
  if (mine === base) return theirs;
  const b = Array.from(base);
  const m = region(b, Array.from(mine));
  const t = region(b, Array.from(theirs));
  const apply = (first, second) =>
    b.slice(0, first.start).join("") + first.ins + b.slice(first.end, second.start).join("") + second.ins + b.slice(second.end).join("");
  // Two insertions at the same point have no order that is right for both.
  const samePoint = m.start === t.start && m.end === m.start && t.end === t.start;
  if (!samePoint && m.end <= t.start) return apply(m, t);
  if (!samePoint && t.end <= m.start) return apply(t, m);
  return null;
}

// region is the stretch [start, end) of a that b replaces with ins.
function region(a, b) {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let ea = a.length;
  let eb = b.length;
  while (ea > start && eb > start && a[ea - 1] === b[eb - 1]) {
    ea--;
    eb--;
  }
  return { start, end: ea, ins: b.slice(start, eb).join("") };
}
