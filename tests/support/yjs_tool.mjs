// A browser's Yjs, for the Python tests (tests/support/yjs.py): load a document from the
// server's state, then, in order, take relative positions (as the drafts panel does:
// Y.createRelativePositionFromTypeIndex + Y.encodeRelativePosition) and make edits (as a
// writer typing). Reads one JSON object on stdin, writes one on stdout:
//   in:  {state: base64 update, clientID?: n, steps: [{op: "pos", index, assoc} |
//         {op: "insert", index, text} | {op: "delete", index, length}]}   (indexes: code points)
//   out: {positions: [base64...], update: base64 (the edits, to send to the server), text}
import * as Y from "yjs";

const input = JSON.parse(await new Promise((resolve) => {
  let data = "";
  process.stdin.on("data", (c) => (data += c));
  process.stdin.on("end", () => resolve(data));
}));

const doc = new Y.Doc();
if (input.clientID) doc.clientID = input.clientID;
Y.applyUpdate(doc, Buffer.from(input.state, "base64"));
const before = Y.encodeStateVector(doc);
const text = doc.getText("text");
const units = (i) => Array.from(text.toString()).slice(0, i).join("").length; // code points -> UTF-16
const positions = [];
for (const step of input.steps || []) {
  if (step.op === "pos") {
    const rpos = Y.createRelativePositionFromTypeIndex(text, units(step.index), step.assoc || 0);
    positions.push(Buffer.from(Y.encodeRelativePosition(rpos)).toString("base64"));
  } else if (step.op === "insert") {
    text.insert(units(step.index), step.text);
  } else if (step.op === "delete") {
    const from = units(step.index);
    text.delete(from, units(step.index + step.length) - from);
  }
}
process.stdout.write(JSON.stringify({
  positions,
  update: Buffer.from(Y.encodeStateAsUpdate(doc, before)).toString("base64"),
  text: text.toString(),
}));
