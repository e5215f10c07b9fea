// Copies the service's proto (the one source of truth, proto/liger/v1/liger.proto) into dist/, which
// the client loads at run time and the published package carries.
const fs = require("fs");
const path = require("path");

const source = path.resolve(__dirname, "../../../proto/liger/v1/liger.proto");
const target = path.resolve(__dirname, "../dist/proto/liger/v1/liger.proto");
fs.mkdirSync(path.dirname(target), { recursive: true });
fs.copyFileSync(source, target);
