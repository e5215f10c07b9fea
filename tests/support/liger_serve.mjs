// Starts `liger serve` for the Node test suites (clients/web, deploy/validate): the binary and the
// model come from LIGER_BINARY and LIGER_MODEL; `extraArgs` pick the ports (port 0 each), and the
// promise resolves with the process and the address printed on the line that starts with `prefix`
// ("listening on ", "http on ", "metrics on ").
import { spawn } from "node:child_process";

export function startLigerServe(extraArgs, prefix) {
  const binary = process.env.LIGER_BINARY ?? "";
  const model = process.env.LIGER_MODEL ?? "";
  if (!binary || !model) return Promise.reject(new Error("LIGER_BINARY and LIGER_MODEL must be set"));
  const server = spawn(binary, ["serve", "--model", model, "--port", "0", ...extraArgs]);
  server.stderr.resume();
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("liger serve did not start")), 120_000);
    const pattern = new RegExp(`^${prefix}(\\S+)`, "m");
    server.stdout.on("data", (chunk) => {
      out += chunk.toString();
      const match = pattern.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ server, address: match[1] });
      }
    });
    server.on("exit", (code) => reject(new Error(`liger serve exited with ${code}`)));
  });
}
