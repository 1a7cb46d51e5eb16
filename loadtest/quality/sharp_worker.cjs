// Renders for the quality benchmark with sharp at its defaults, one request per stdin line:
//   {"source": path, "width": w, "height": h, "cover": bool, "format": "jpeg"|"webp"|"avif"|"png",
//    "quality": int|null, "mozjpeg": bool}
// answered by one stdout line: {"data": base64, "cpu_ms": n} or {"error": message}.
// argv[2] is the folder whose node_modules holds sharp (ipx's). CPU is process.cpuUsage()
// (user + system, every thread) around the render; the original's bytes are read once.
"use strict";
const path = require("path");
const fs = require("fs");
const readline = require("readline");
const sharp = require(require.resolve("sharp", { paths: [path.resolve(process.argv[2])] }));

// Every variant is new work on a CDN miss: no operation cache between renders.
sharp.cache(false);
const originals = new Map();

async function render(request) {
  let input = originals.get(request.source);
  if (input === undefined) {
    input = fs.readFileSync(request.source);
    originals.set(request.source, input);
  }
  const options = request.quality === null ? {} : { quality: request.quality };
  if (request.mozjpeg && request.format === "jpeg") {
    options.mozjpeg = true; // sharp's mozjpeg preset: trellis, overshoot deringing, scans
  }
  const started = process.cpuUsage();
  const data = await sharp(input)
    .resize({
      width: request.width,
      height: request.height,
      fit: request.cover ? "cover" : "inside",
      withoutEnlargement: true,
    })
    .toFormat(request.format, options)
    .toBuffer();
  const used = process.cpuUsage(started);
  return { data: data.toString("base64"), cpu_ms: (used.user + used.system) / 1000 };
}

const lines = readline.createInterface({ input: process.stdin });
const queue = [];
let busy = false;
async function drain() {
  if (busy) return;
  busy = true;
  while (queue.length > 0) {
    const line = queue.shift();
    let answer;
    try {
      answer = await render(JSON.parse(line));
    } catch (error) {
      answer = { error: String(error && error.message ? error.message : error) };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
  }
  busy = false;
}
lines.on("line", (line) => {
  queue.push(line);
  drain();
});
lines.on("close", () => {
  const wait = () => (busy || queue.length ? setTimeout(wait, 10) : process.exit(0));
  wait();
});
