// What both interop peers share, written from docs/protocol.md: the
// `srexpert.v1.deflate` message compression ("Compression": one raw deflate
// stream per direction for the whole connection, each message ended by a
// sync flush whose trailing 00 00 ff ff is removed) and JSON-lines output.
//
// Node's one-shot zlib calls are used with a preset dictionary holding the
// last 32 KiB this side sent (or received): after a sync flush the stream
// is byte-aligned and every later block may only refer back into that
// window, so this is exactly a deflate stream kept for the connection — and
// it shares no code with the C++ implementation under test.
'use strict';
const zlib = require('zlib');

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const WINDOW = 32 * 1024;

function keepWindow(window, data) {
  const all = Buffer.concat([window, data]);
  return all.length > WINDOW ? all.subarray(all.length - WINDOW) : all;
}

class Deflater {
  constructor() { this.window = Buffer.alloc(0); }
  compress(message) {
    const opts = { finishFlush: zlib.constants.Z_SYNC_FLUSH, windowBits: 15 };
    if (this.window.length) opts.dictionary = this.window;
    let out = zlib.deflateRawSync(message, opts);
    if (out.length >= 4 && out.subarray(out.length - 4).equals(TAIL)) out = out.subarray(0, out.length - 4);
    this.window = keepWindow(this.window, message);
    return out;
  }
}

class Inflater {
  constructor(limit = 64 << 20) { this.window = Buffer.alloc(0); this.limit = limit; }
  inflate(frame) {
    const opts = { finishFlush: zlib.constants.Z_SYNC_FLUSH, windowBits: 15, maxOutputLength: this.limit };
    if (this.window.length) opts.dictionary = this.window;
    const out = zlib.inflateRawSync(Buffer.concat([frame, TAIL]), opts);
    this.window = keepWindow(this.window, out);
    return out;
  }
}

function print(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

module.exports = { TAIL, Deflater, Inflater, print };
