// Signs and verifies with @octokit/webhooks-methods. Reads a JSON list of jobs on stdin:
//   {"op": "sign", "secret": s, "body": b}                 -> {"signature": "sha256=..."}
//   {"op": "verify", "secret": s, "body": b, "signature": x} -> {"valid": true|false}
// and prints the list of answers. argv[2] is the package's directory.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const methods = await import(pathToFileURL(join(process.argv[2], "dist-node", "index.js")).href);
let input = "";
for await (const chunk of process.stdin) input += chunk;
const answers = [];
for (const job of JSON.parse(input)) {
  if (job.op === "sign") {
    answers.push({ signature: await methods.sign(job.secret, job.body) });
  } else {
    answers.push({ valid: await methods.verify(job.secret, job.body, job.signature) });
  }
}
process.stdout.write(JSON.stringify(answers));
